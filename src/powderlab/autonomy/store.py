"""The campaign's durable records: SQLite (WAL) by default, PostgreSQL by URL (SQLAlchemy 2.x Core).

The Store is the one owner of the sample inventory: targets, experiments, samples (which
crucible, where it stands, what happened to it, which operation holds it), furnace batches,
every action goal and its result (the write-ahead log of operations), patterns, analyses and an
append-only event log. Rows are never deleted; a sample or experiment ends with a status and a
reason. See docs/decisions/0060-write-ahead-of-intent.md.

The tables and the record <-> row conversion are declared once in autonomy/schema.py; opening a
Store brings its database to that schema through Alembic migrations or refuses it
(autonomy/migrate.py, docs/decisions/0083-versioned-store.md).
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Table, create_engine, event, func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from powderlab.autonomy import migrate
from powderlab.autonomy.model import AnalysisResult
from powderlab.autonomy.schema import (
    BATCHES,
    EXPERIMENTS,
    OPERATIONS,
    SAMPLES,
    TARGETS,
    RecordTable,
    analyses,
    batches,
    campaigns,
    events,
    experiments,
    metadata,
    operations,
    patterns,
    samples,
    targets,
)
from powderlab.autonomy.state import BatchRecord, ExperimentRecord, OpRecord, SampleRecord, TargetRecord
from powderlab.core.errors import ValidationError
from powderlab.core.xrd import XrdPattern

# The tables are declared in autonomy/schema.py; callers read them as store.<table>.
__all__ = [
    "Store",
    "analyses",
    "batches",
    "campaigns",
    "database_url",
    "events",
    "experiments",
    "make_engine",
    "metadata",
    "operations",
    "patterns",
    "samples",
    "targets",
]


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


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    prefix = "sqlite:///"
    if not url.startswith(prefix) or url[len(prefix) :] in ("", ":memory:"):
        return None
    return Path(url[len(prefix) :])


def _create_sqlite_whole(path: Path, name: str) -> None:
    """A new SQLite database appears whole or not at all: built at head under a temporary name, then
    linked into place. SQLite commits DDL as it runs, so a kill -9 in the middle of creating the
    tables in place would leave tables that match no revision, which the next start must refuse."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.creating")
    partial.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{partial}")
    try:
        migrate.open_at_head(engine, name)
    finally:
        engine.dispose()  # the last connection checkpoints the WAL into the file
    try:
        os.link(partial, path)  # never over a database another process created meanwhile
    except FileExistsError:
        pass
    finally:
        partial.unlink(missing_ok=True)


class Store:
    """Durable records of campaigns. Single writer (the campaign engine); any number of readers."""

    def __init__(self, url: str | Path) -> None:
        self.url = database_url(url)
        file = _sqlite_file(self.url)
        if file is not None and not file.exists():
            _create_sqlite_whole(file, self.url)
        self.engine = make_engine(self.url)
        try:
            # create, recognise and upgrade, or refuse (never misread an unknown schema)
            migrate.open_at_head(self.engine, self.engine.url.render_as_string(hide_password=True))
        except BaseException:
            self.engine.dispose()
            raise
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

    def _add(self, mapping: RecordTable, campaign_id: str, record: Any) -> None:
        with self.atomic() as conn:
            conn.execute(insert(mapping.table).values(campaign_id=campaign_id, **mapping.row(record)))

    def _save(self, mapping: RecordTable, record: Any) -> None:
        with self.atomic() as conn:
            table = mapping.table
            conn.execute(update(table).where(table.c.id == record.id).values(**mapping.row(record)))

    def add_target(self, campaign_id: str, record: TargetRecord) -> None:
        self._add(TARGETS, campaign_id, record)

    def save_target(self, record: TargetRecord) -> None:
        self._save(TARGETS, record)

    def add_experiment(self, campaign_id: str, record: ExperimentRecord) -> None:
        self._add(EXPERIMENTS, campaign_id, record)

    def save_experiment(self, record: ExperimentRecord) -> None:
        self._save(EXPERIMENTS, record)

    def add_sample(self, campaign_id: str, record: SampleRecord) -> None:
        self._add(SAMPLES, campaign_id, record)

    def save_sample(self, record: SampleRecord) -> None:
        self._save(SAMPLES, record)

    def add_batch(self, campaign_id: str, record: BatchRecord) -> None:
        self._add(BATCHES, campaign_id, record)

    def save_batch(self, record: BatchRecord) -> None:
        self._save(BATCHES, record)

    # --- operations: the write-ahead log ---

    def intend(self, campaign_id: str, op: OpRecord) -> None:
        """Record an operation before its goal is sent (the intent)."""
        self._op_seq += 1
        with self.atomic() as conn:
            values = OPERATIONS.row(op)
            conn.execute(
                insert(operations).values(
                    campaign_id=campaign_id, seq=self._op_seq, intended_wall=time.time(), **values
                )
            )

    def save_op(self, op: OpRecord) -> None:
        """Record what became of an operation (its state, times, error and result)."""
        with self.atomic() as conn:
            values = OPERATIONS.row(op)
            conn.execute(
                update(operations)
                .where(operations.c.id == op.id)
                .values(ended_wall=time.time() if op.ended_s is not None else None, **values)
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

        def by_creation(row: dict[str, Any]) -> tuple[float, str]:
            return (row["created_s"] or 0.0, row["id"])

        op_rows = self.rows(operations, campaign_id)
        self._op_seq = max([r["seq"] for r in op_rows], default=0)
        return {
            "targets": [TARGETS.record_from(r) for r in self.rows(targets, campaign_id)],
            "experiments": [
                EXPERIMENTS.record_from(r) for r in sorted(self.rows(experiments, campaign_id), key=by_creation)
            ],
            "samples": [SAMPLES.record_from(r) for r in self.rows(samples, campaign_id)],
            "batches": [BATCHES.record_from(r) for r in sorted(self.rows(batches, campaign_id), key=by_creation)],
            "operations": [OPERATIONS.record_from(r) for r in op_rows],
        }
