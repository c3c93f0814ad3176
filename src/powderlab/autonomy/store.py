"""The campaign's durable records: SQLite (WAL) by default, PostgreSQL by URL (SQLAlchemy 2.x Core).

The Store is the one owner of the sample inventory: targets, experiments, samples (which
crucible, where it stands, what happened to it, which operation holds it), furnace batches,
every action goal and its result (the write-ahead log of operations), patterns, analyses and an
append-only event log. Rows are never deleted; a sample or experiment ends with a status and a
reason. See docs/decisions/0060-write-ahead-of-intent.md.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine

from powderlab.autonomy.model import AnalysisResult, ExperimentStatus, Target, TargetStatus
from powderlab.autonomy.state import BatchRecord, ExperimentRecord, OpRecord, SampleRecord, TargetRecord
from powderlab.core.errors import ValidationError
from powderlab.core.recipes import HeatingProfile, Recipe
from powderlab.core.samples import SampleStatus
from powderlab.core.xrd import XrdPattern

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


def database_url(value: str | Path) -> str:
    """A SQLAlchemy URL from a URL or a plain file path (SQLite)."""
    text = str(value)
    if "://" in text:
        if not text.startswith(("sqlite", "postgresql")):
            raise ValidationError(
                "database", f"'{text}' is not supported; allowed: a file path, sqlite:///..., postgresql+psycopg://..."
            )
        if text.startswith("postgresql://"):
            text = "postgresql+psycopg://" + text[len("postgresql://") :]
        return text
    path = Path(text).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # a committed intent survives a power cut, not only kill -9
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str | Path) -> Engine:
    """An engine for the URL, with SQLite in WAL mode."""
    resolved = database_url(url)
    if resolved.startswith("sqlite"):
        engine = create_engine(resolved)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(resolved, pool_pre_ping=True)


class Store:
    """Durable records of campaigns. Single writer (the campaign engine); any number of readers."""

    def __init__(self, url: str | Path) -> None:
        self.url = database_url(url)
        self.engine = make_engine(self.url)
        metadata.create_all(self.engine)
        self._conn: Connection | None = None
        self._op_seq = 0

    def close(self) -> None:
        self.engine.dispose()

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Connection]:
        """One transaction; nested calls join the outer one (all or nothing)."""
        if self._conn is not None:
            yield self._conn
            return
        with self.engine.begin() as conn:
            self._conn = conn
            try:
                yield conn
            finally:
                self._conn = None

    # --- campaigns ---

    def campaign(self, campaign_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).mappings().first()
            return dict(row) if row else None

    def campaign_ids(self) -> list[str]:
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(select(campaigns.c.id))]

    def create_campaign(self, campaign_id: str, name: str, seed: int, config: dict[str, Any], sim_now: float) -> None:
        with self.atomic() as conn:
            conn.execute(
                insert(campaigns).values(
                    id=campaign_id,
                    name=name,
                    seed=seed,
                    config=config,
                    status="running",
                    sim_start=sim_now,
                    wall_start=time.time(),
                )
            )

    def set_campaign(self, campaign_id: str, **values: Any) -> None:
        with self.atomic() as conn:
            conn.execute(update(campaigns).where(campaigns.c.id == campaign_id).values(**values))

    # --- targets, experiments, samples, batches ---

    def add_target(self, campaign_id: str, record: TargetRecord) -> None:
        with self.atomic() as conn:
            conn.execute(
                insert(targets).values(
                    id=record.id,
                    campaign_id=campaign_id,
                    seq=record.seq,
                    formula=record.target.formula,
                    spec=record.target.to_dict(),
                    status=record.status.value,
                    made_by=record.made_by,
                )
            )

    def save_target(self, record: TargetRecord) -> None:
        with self.atomic() as conn:
            conn.execute(
                update(targets)
                .where(targets.c.id == record.id)
                .values(status=record.status.value, made_by=record.made_by)
            )

    def add_experiment(self, campaign_id: str, record: ExperimentRecord) -> None:
        with self.atomic() as conn:
            conn.execute(insert(experiments).values(campaign_id=campaign_id, **self._experiment_row(record)))

    def save_experiment(self, record: ExperimentRecord) -> None:
        with self.atomic() as conn:
            row = self._experiment_row(record)
            conn.execute(update(experiments).where(experiments.c.id == record.id).values(**row))

    @staticmethod
    def _experiment_row(record: ExperimentRecord) -> dict[str, Any]:
        return {
            "id": record.id,
            "target_id": record.target_id,
            "attempt": record.attempt,
            "recipe": record.recipe.to_dict(),
            "reason": record.reason,
            "status": record.status.value,
            "target_yield": record.target_yield,
            "failure": record.failure,
            "created_s": record.created_s,
            "finished_s": record.finished_s,
        }

    def add_sample(self, campaign_id: str, record: SampleRecord) -> None:
        with self.atomic() as conn:
            conn.execute(insert(samples).values(campaign_id=campaign_id, **self._sample_row(record)))

    def save_sample(self, record: SampleRecord) -> None:
        with self.atomic() as conn:
            conn.execute(update(samples).where(samples.c.id == record.id).values(**self._sample_row(record)))

    @staticmethod
    def _sample_row(record: SampleRecord) -> dict[str, Any]:
        return {
            "id": record.id,
            "experiment_id": record.experiment_id,
            "seq": record.seq,
            "labware_id": record.labware_id,
            "status": record.status.value,
            "location": record.location,
            "batch_id": record.batch_id,
            "retries": record.retries,
            "not_before": record.not_before,
            "failure": record.failure,
            "dosed_mg": record.dosed_mg,
            "created_s": record.created_s,
            "finished_s": record.finished_s,
            "closed": record.closed,
            "analysed": record.analysed,
        }

    def add_batch(self, campaign_id: str, record: BatchRecord) -> None:
        with self.atomic() as conn:
            conn.execute(insert(batches).values(campaign_id=campaign_id, **self._batch_row(record)))

    def save_batch(self, record: BatchRecord) -> None:
        with self.atomic() as conn:
            conn.execute(update(batches).where(batches.c.id == record.id).values(**self._batch_row(record)))

    @staticmethod
    def _batch_row(record: BatchRecord) -> dict[str, Any]:
        return {
            "id": record.id,
            "profile": record.profile.to_list(),
            "capacity": record.capacity,
            "state": record.state,
            "furnace": record.furnace,
            "closed": record.closed,
            "created_s": record.created_s,
            "last_load_s": record.last_load_s,
            "heat_started_s": record.heat_started_s,
            "heat_ended_s": record.heat_ended_s,
            "retries": record.retries,
            "not_before": record.not_before,
        }

    # --- operations: the write-ahead log ---

    def intend(self, campaign_id: str, op: OpRecord) -> None:
        """Record an operation before its goal is sent (the intent)."""
        self._op_seq += 1
        with self.atomic() as conn:
            conn.execute(
                insert(operations).values(
                    id=op.id,
                    campaign_id=campaign_id,
                    seq=self._op_seq,
                    station=op.station,
                    action=op.action,
                    purpose=op.purpose,
                    goal=op.goal,
                    sample_id=op.sample_id,
                    batch_id=op.batch_id,
                    resources=list(op.resources),
                    estimate_s=op.estimate_s,
                    state=op.state,
                    intended_s=op.intended_s,
                    intended_wall=time.time(),
                )
            )

    def save_op(self, op: OpRecord) -> None:
        with self.atomic() as conn:
            conn.execute(
                update(operations)
                .where(operations.c.id == op.id)
                .values(
                    state=op.state,
                    started_s=op.started_s,
                    ended_s=op.ended_s,
                    ended_wall=time.time() if op.ended_s is not None else None,
                    error_code=op.error_code,
                    error_msg=op.error_msg,
                    result=op.result,
                )
            )

    # --- measurements ---

    def add_pattern(self, campaign_id: str, sample_id: str, op_id: str, pattern: XrdPattern, sim_now: float) -> None:
        with self.atomic() as conn:
            conn.execute(
                insert(patterns).values(
                    campaign_id=campaign_id,
                    sample_id=sample_id,
                    op_id=op_id,
                    holder_id=pattern.holder_id,
                    instrument=pattern.instrument,
                    wavelength_angstrom=float(pattern.wavelength_angstrom),
                    two_theta=np.asarray(pattern.two_theta_deg, dtype="<f8").tobytes(),
                    intensity=np.asarray(pattern.intensity, dtype="<f8").tobytes(),
                    created_s=sim_now,
                )
            )

    def pattern(self, sample_id: str) -> XrdPattern | None:
        """The latest pattern of a sample."""
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(patterns).where(patterns.c.sample_id == sample_id).order_by(patterns.c.id.desc()))
                .mappings()
                .first()
            )
        if row is None:
            return None
        return XrdPattern(
            np.frombuffer(row["two_theta"], dtype="<f8"),
            np.frombuffer(row["intensity"], dtype="<f8"),
            row["wavelength_angstrom"],
            sample_id=sample_id,
            holder_id=row["holder_id"],
            instrument=row["instrument"],
        )

    def add_analysis(
        self, campaign_id: str, sample_id: str, experiment_id: str, analysis: AnalysisResult, sim_now: float
    ) -> None:
        with self.atomic() as conn:
            conn.execute(
                insert(analyses).values(
                    campaign_id=campaign_id,
                    sample_id=sample_id,
                    experiment_id=experiment_id,
                    analyzer=analysis.analyzer,
                    target_yield=float(analysis.target_yield),
                    result=analysis.to_dict(),
                    curves=analysis.curves,
                    created_s=sim_now,
                )
            )

    # --- events ---

    def event(
        self,
        campaign_id: str,
        kind: str,
        message: str,
        sim_now: float,
        sample_id: str = "",
        op_id: str = "",
        data: dict[str, Any] | None = None,
    ) -> None:
        with self.atomic() as conn:
            conn.execute(
                insert(events).values(
                    campaign_id=campaign_id,
                    sim_time=sim_now,
                    wall_time=time.time(),
                    kind=kind,
                    sample_id=sample_id,
                    op_id=op_id,
                    message=message,
                    data=data or {},
                )
            )

    # --- reading back ---

    def rows(self, table: Table, campaign_id: str) -> list[dict[str, Any]]:
        """Every row of a table for one campaign, in insertion order."""
        order = table.c.seq if "seq" in table.c else (table.c.id if "id" in table.c else None)
        with self.engine.connect() as conn:
            query = select(table).where(table.c.campaign_id == campaign_id)
            if order is not None:
                query = query.order_by(order)
            return [dict(r) for r in conn.execute(query).mappings()]

    def last_sim_time(self, campaign_id: str) -> float | None:
        """The latest lab time any event of the campaign was recorded at (None: no event)."""
        with self.engine.connect() as conn:
            query = select(func.max(events.c.sim_time)).where(events.c.campaign_id == campaign_id)
            return conn.execute(query).scalar()

    def load(self, campaign_id: str) -> dict[str, Any]:
        """The state of a campaign as records (for restart)."""
        target_records = [
            TargetRecord(r["id"], Target.from_dict(r["spec"]), r["seq"], TargetStatus(r["status"]), r["made_by"])
            for r in self.rows(targets, campaign_id)
        ]
        experiment_records = [
            ExperimentRecord(
                r["id"],
                r["target_id"],
                r["attempt"],
                Recipe.from_dict(r["recipe"]),
                r["reason"],
                ExperimentStatus(r["status"]),
                r["target_yield"],
                r["failure"],
                r["created_s"] or 0.0,
                r["finished_s"],
            )
            for r in sorted(self.rows(experiments, campaign_id), key=lambda r: (r["created_s"] or 0.0, r["id"]))
        ]
        sample_records = [
            SampleRecord(
                r["id"],
                r["experiment_id"],
                r["seq"],
                r["labware_id"],
                SampleStatus(r["status"]),
                r["location"],
                r["batch_id"],
                r["retries"],
                r["not_before"],
                r["failure"],
                dict(r["dosed_mg"] or {}),
                r["created_s"] or 0.0,
                r["finished_s"],
                bool(r["closed"]),
                bool(r["analysed"]),
            )
            for r in self.rows(samples, campaign_id)
        ]
        batch_records = [
            BatchRecord(
                r["id"],
                HeatingProfile.from_list(r["profile"]),
                r["capacity"],
                r["state"],
                r["furnace"],
                bool(r["closed"]),
                r["created_s"] or 0.0,
                r["last_load_s"],
                r["heat_started_s"],
                r["heat_ended_s"],
                r["retries"],
                r["not_before"],
            )
            for r in sorted(self.rows(batches, campaign_id), key=lambda r: (r["created_s"] or 0.0, r["id"]))
        ]
        op_rows = self.rows(operations, campaign_id)
        self._op_seq = max([r["seq"] for r in op_rows], default=0)
        op_records = [
            OpRecord(
                r["id"],
                r["station"],
                r["action"],
                dict(r["goal"]),
                r["purpose"],
                r["sample_id"],
                r["batch_id"],
                tuple(r["resources"] or ()),
                r["estimate_s"],
                r["state"],
                r["intended_s"] or 0.0,
                r["started_s"],
                r["ended_s"],
                r["error_code"],
                r["error_msg"],
                dict(r["result"] or {}),
            )
            for r in op_rows
        ]
        return {
            "targets": target_records,
            "experiments": experiment_records,
            "samples": sample_records,
            "batches": batch_records,
            "operations": op_records,
        }
