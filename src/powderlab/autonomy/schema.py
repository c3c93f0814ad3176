"""The campaign store's schema, declared once: these tables, and records derived from them.

The SQLAlchemy tables below are the one declaration of what the store keeps. How a record of
autonomy/state.py becomes a row and back is derived from its dataclass fields and their types
(`RecordTable`), checked against the table's columns when this module is imported, so a column or
field added on one side only fails at once instead of being silently dropped. Changing a table
means adding an Alembic revision under autonomy/migrations/versions/ (tests/autonomy/test_store_
migrations.py fails while the migrations' head and these tables differ).
See docs/decisions/0083-versioned-store.md.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from powderlab.autonomy.state import BatchRecord, ExperimentRecord, OpRecord, SampleRecord, TargetRecord

metadata = MetaData()

campaigns = Table(
    "campaigns",
    metadata,
    Column("id", String(120), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("seed", Integer, nullable=False, default=0),
    Column("config", JSON, nullable=False, default=dict),
    Column("status", String(20), nullable=False, default="running"),
    Column("sim_start", Float),
    Column("sim_end", Float),
    Column("wall_start", Float),
    Column("wall_end", Float),
)
targets = Table(
    "targets",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("campaign_id", String(120), ForeignKey("campaigns.id"), nullable=False, index=True),
    Column("seq", Integer, nullable=False),
    Column("formula", String(120), nullable=False),
    Column("spec", JSON, nullable=False),
    Column("status", String(20), nullable=False),
    Column("made_by", String(200), nullable=False, default=""),
    UniqueConstraint("campaign_id", "formula"),
)
experiments = Table(
    "experiments",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("campaign_id", String(120), ForeignKey("campaigns.id"), nullable=False, index=True),
    Column("target_id", String(200), ForeignKey("targets.id"), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("recipe", JSON, nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("status", String(20), nullable=False),
    Column("target_yield", Float),
    Column("failure", Text, nullable=False, default=""),
    Column("created_s", Float),
    Column("finished_s", Float),
    UniqueConstraint("target_id", "attempt"),  # an experiment can never be recorded twice
)
samples = Table(
    "samples",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("campaign_id", String(120), ForeignKey("campaigns.id"), nullable=False, index=True),
    Column("experiment_id", String(200), ForeignKey("experiments.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("labware_id", String(120), nullable=False, default=""),
    Column("status", String(20), nullable=False),
    Column("location", String(200), nullable=False, default=""),
    Column("batch_id", String(200), nullable=False, default=""),
    Column("retries", Integer, nullable=False, default=0),
    Column("not_before", Float, nullable=False, default=0.0),
    Column("failure", Text, nullable=False, default=""),
    Column("dosed_mg", JSON, nullable=False, default=dict),
    Column("created_s", Float),
    Column("finished_s", Float),
    Column("closed", Boolean, nullable=False, default=False),
    Column("analysed", Boolean, nullable=False, default=False),
)
batches = Table(
    "batches",
    metadata,
    Column("id", String(200), primary_key=True),
    Column("campaign_id", String(120), ForeignKey("campaigns.id"), nullable=False, index=True),
    Column("profile", JSON, nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("state", String(20), nullable=False),
    Column("furnace", String(120), nullable=False, default=""),
    Column("closed", Boolean, nullable=False, default=False),
    Column("created_s", Float),
    Column("last_load_s", Float),
    Column("heat_started_s", Float),
    Column("heat_ended_s", Float),
    Column("retries", Integer, nullable=False, default=0),
    Column("not_before", Float, nullable=False, default=0.0),
)
operations = Table(
    "operations",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("campaign_id", String(120), ForeignKey("campaigns.id"), nullable=False, index=True),
    Column("seq", Integer, nullable=False),
    Column("station", String(120), nullable=False),
    Column("action", String(60), nullable=False),
    Column("purpose", String(60), nullable=False),
    Column("goal", JSON, nullable=False),
    Column("sample_id", String(200), nullable=False, default=""),
    Column("batch_id", String(200), nullable=False, default=""),
    Column("resources", JSON, nullable=False, default=list),
    Column("estimate_s", Float, nullable=False, default=0.0),
    Column("state", String(20), nullable=False),
    Column("intended_s", Float),
    Column("started_s", Float),
    Column("ended_s", Float),
    Column("intended_wall", Float),
    Column("ended_wall", Float),
    Column("error_code", Integer),
    Column("error_msg", Text, nullable=False, default=""),
    Column("result", JSON, nullable=False, default=dict),
)
patterns = Table(
    "patterns",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", String(120), ForeignKey("campaigns.id"), nullable=False, index=True),
    Column("sample_id", String(200), nullable=False, index=True),
    Column("op_id", String(64), nullable=False),
    Column("holder_id", String(120), nullable=False, default=""),
    Column("instrument", String(120), nullable=False, default=""),
    Column("wavelength_angstrom", Float, nullable=False),
    Column("two_theta", LargeBinary, nullable=False),  # float64 little-endian
    Column("intensity", LargeBinary, nullable=False),
    Column("created_s", Float),
    UniqueConstraint("op_id"),
)
analyses = Table(
    "analyses",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", String(120), ForeignKey("campaigns.id"), nullable=False, index=True),
    Column("sample_id", String(200), nullable=False),
    Column("experiment_id", String(200), nullable=False),
    Column("analyzer", String(200), nullable=False),
    Column("target_yield", Float, nullable=False),
    Column("result", JSON, nullable=False),
    Column("curves", JSON),
    Column("created_s", Float),
    UniqueConstraint("sample_id"),  # one analysis per sample
)
events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", String(120), nullable=False, index=True),
    Column("sim_time", Float),
    Column("wall_time", Float),
    Column("kind", String(40), nullable=False),
    Column("sample_id", String(200), nullable=False, default=""),
    Column("op_id", String(64), nullable=False, default=""),
    Column("message", Text, nullable=False, default=""),
    Column("data", JSON, nullable=False, default=dict),
)

# Revision 0002: restart reads the latest event time of a campaign (Store.last_sim_time).
Index("ix_events_campaign_id_sim_time", events.c.campaign_id, events.c.sim_time)

# Revision 0003: the claims ledger (autonomy/claims.py, ADR 0098). A claim version is never
# updated; a re-analysis adds a version, a person's review adds a claim_reviews row.
claims = Table(
    "claims",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("campaign_id", String(120), ForeignKey("campaigns.id"), nullable=False, index=True),
    Column("claim_key", String(200), nullable=False),  # the sample the claim is about
    Column("version", Integer, nullable=False),
    Column("target_id", String(200), nullable=False),
    Column("target", String(120), nullable=False),
    Column("experiment_id", String(200), nullable=False),
    Column("samples", JSON, nullable=False),
    Column("verdict", String(40), nullable=False),
    Column("novelty", Text, nullable=False, default=""),
    Column("analysis_version", String(200), nullable=False, default=""),
    Column("evidence", JSON, nullable=False),
    Column("curves", JSON),
    Column("created_s", Float),
    Column("created_wall", Float),
    UniqueConstraint("campaign_id", "claim_key", "version"),
)
claim_reviews = Table(
    "claim_reviews",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("claim_id", Integer, ForeignKey("claims.id"), nullable=False, index=True),
    Column("reviewer", String(200), nullable=False),
    Column("decision", String(20), nullable=False),
    Column("comment", Text, nullable=False),
    Column("wall_time", Float, nullable=False),
)


# --- records <-> rows, derived from the dataclasses ---


@dataclass(frozen=True)
class _Codec:
    to_column: Callable[[Any], Any]
    from_column: Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


def _codec(annotation: Any) -> tuple[_Codec, bool]:
    """How a field of this type is stored, and whether it may be None."""
    optional = False
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(members) < len(typing.get_args(annotation))
        if len(members) != 1:
            raise TypeError(f"store fields must be one type or optional of one type, not {annotation}")
        annotation = members[0]
    origin = typing.get_origin(annotation) or annotation
    if isinstance(origin, type) and issubclass(origin, enum.Enum):
        return _Codec(lambda v: v.value, origin), optional
    if hasattr(origin, "to_dict") and hasattr(origin, "from_dict"):
        return _Codec(lambda v: v.to_dict(), origin.from_dict), optional
    if hasattr(origin, "to_list") and hasattr(origin, "from_list"):
        return _Codec(lambda v: v.to_list(), origin.from_list), optional
    if origin is tuple:
        return _Codec(list, lambda v: tuple(v or ())), optional
    if origin is dict:
        return _Codec(_identity, lambda v: dict(v or {})), optional
    if origin is bool:
        return _Codec(_identity, bool), optional
    return _Codec(_identity, _identity), optional


@dataclass(frozen=True)
class RecordTable:
    """How one record dataclass is stored in one table, derived from the fields' names and types.

    A field is stored in the column of its name (or `renamed`); `transient` fields live in memory
    only; `computed` columns are derived from the record (kept for queries); `filled` columns are
    set by the Store (campaign id, sequence numbers, wall times). Every column and every field must
    be accounted for: checked at import.
    """

    table: Table
    record: type
    renamed: Mapping[str, str] = field(default_factory=dict)
    transient: frozenset[str] = frozenset()
    computed: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    filled: frozenset[str] = frozenset()
    _fields: list[tuple[Any, str, _Codec, bool]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(self.record)
        fields = [f for f in dataclasses.fields(self.record) if f.name not in self.transient]
        columns = {self.renamed.get(f.name, f.name) for f in fields}
        declared = set(self.table.c.keys())
        missing = columns - declared
        unmapped = declared - columns - set(self.computed) - self.filled
        if missing or unmapped:
            raise RuntimeError(
                f"table {self.table.name} and {self.record.__name__} disagree: fields without a column "
                f"{sorted(missing)}, columns without a field {sorted(unmapped)}; add the column (and a "
                "migration), or declare the field transient / the column computed or filled"
            )
        object.__setattr__(
            self,
            "_fields",
            [(f, self.renamed.get(f.name, f.name), *_codec(hints[f.name])) for f in fields],
        )

    def row(self, record: Any) -> dict[str, Any]:
        """The columns of a record (without the `filled` ones)."""
        values: dict[str, Any] = {}
        for spec, column, codec, _optional in self._fields:
            value = getattr(record, spec.name)
            values[column] = None if value is None else codec.to_column(value)
        for column, derive in self.computed.items():
            values[column] = derive(record)
        return values

    def record_from(self, row: Mapping[str, Any]) -> Any:
        """The record of a row; a NULL in a field that may not be None reads as the field's default."""
        values: dict[str, Any] = {}
        for spec, column, codec, optional in self._fields:
            value = row[column]
            if value is None:
                if optional:
                    values[spec.name] = None
                    continue
                if spec.default is not dataclasses.MISSING:
                    values[spec.name] = spec.default
                    continue
                if spec.default_factory is not dataclasses.MISSING:
                    values[spec.name] = spec.default_factory()
                    continue
            values[spec.name] = codec.from_column(value)
        return self.record(**values)


TARGETS = RecordTable(
    targets,
    TargetRecord,
    renamed={"target": "spec"},
    computed={"formula": lambda r: r.target.formula},
    filled=frozenset({"campaign_id"}),
)
EXPERIMENTS = RecordTable(experiments, ExperimentRecord, filled=frozenset({"campaign_id"}))
SAMPLES = RecordTable(samples, SampleRecord, filled=frozenset({"campaign_id"}))
BATCHES = RecordTable(batches, BatchRecord, filled=frozenset({"campaign_id"}))
OPERATIONS = RecordTable(
    operations,
    OpRecord,
    transient=frozenset({"overrun_reported"}),
    filled=frozenset({"campaign_id", "seq", "intended_wall", "ended_wall"}),
)
