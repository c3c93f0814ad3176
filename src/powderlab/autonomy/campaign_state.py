"""The campaign's working state, shared by the scheduler's parts, and its unit of work.

Every part of the scheduler (routing, furnaces, outcomes, experiments, recovery, progress) reads
and changes one CampaignState. None of them writes to the Store: a part that creates or changes a
record marks it (`add`, `changed`, `event`, ...) in the state's UnitOfWork, and the engine flushes
the unit of work in one transaction at its flush points (docs/decisions/0086-scheduler-in-parts.md):
before a goal is sent (write-ahead of intent), before it waits for the lab, before it tells anyone
outside (progress, analyses), and when open() or run() ends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from powderlab.autonomy.cell import CellModel
from powderlab.autonomy.model import TERMINAL_TARGET, AnalysisResult, ExperimentStatus
from powderlab.autonomy.state import (
    DONE,
    HEATED,
    BatchRecord,
    ExperimentRecord,
    OpRecord,
    SampleRecord,
    TargetRecord,
)
from powderlab.autonomy.store import Store
from powderlab.core.samples import SampleStatus
from powderlab.core.xrd import XrdPattern

# The engine's logger: every event is also logged, under the name it always had.
log = logging.getLogger("powderlab.autonomy.engine")

OPEN_EXPERIMENT = (ExperimentStatus.PLANNED, ExperimentStatus.RUNNING)
FAILED_SAMPLE = frozenset({SampleStatus.FAILED, SampleStatus.DISCARDED})
DONE_SAMPLE = frozenset({SampleStatus.MEASURED, SampleStatus.ANALYSED})

Record = TargetRecord | ExperimentRecord | SampleRecord | BatchRecord | OpRecord

# The Store's methods that insert and update each kind of record: (add, save). Called by name on
# the store given to flush(), so a store wrapped or patched (the crash tests) is the one written.
_WRITERS: dict[type, tuple[str, str]] = {
    TargetRecord: ("add_target", "save_target"),
    ExperimentRecord: ("add_experiment", "save_experiment"),
    SampleRecord: ("add_sample", "save_sample"),
    BatchRecord: ("add_batch", "save_batch"),
    OpRecord: ("intend", "save_op"),
}


class UnitOfWork:
    """What the scheduler has decided since the last flush, written together in one transaction.

    Records are marked, not written: their values are read at flush time, so a record changed three
    times in one loop is written once, as it ends up. A record added and changed before the flush
    is inserted once. Events, patterns, analyses and campaign rows are kept in order. Writes reach
    the store in the order they were first asked for (a target before its experiments, an
    experiment before its samples: the foreign keys), all or nothing.
    """

    def __init__(self, campaign_id: str) -> None:
        self.cid = campaign_id
        self._writes: dict[tuple[str, Any, Any], Callable[[Store], None]] = {}
        self._serial = 0

    def __len__(self) -> int:
        return len(self._writes)

    def pending(self) -> list[tuple[str, Any, Any]]:
        """The keys of the writes not flushed yet, in order: (what, record type or kind, id)."""
        return list(self._writes)

    def add(self, record: Record) -> None:
        """A new record (an operation: its intent, recorded before its goal is sent)."""
        kind = type(record)
        add = _WRITERS[kind][0]
        self._writes.setdefault(("add", kind, record.id), lambda store: getattr(store, add)(self.cid, record))

    def changed(self, record: Record) -> None:
        """A record that exists (or is added in this unit of work) has changed."""
        kind = type(record)
        if ("add", kind, record.id) in self._writes:
            return  # inserted at the flush with its values then
        save = _WRITERS[kind][1]
        self._writes.setdefault(("save", kind, record.id), lambda store: getattr(store, save)(record))

    def _append(self, kind: str, write: Callable[[Store], None]) -> None:
        self._serial += 1
        self._writes[(kind, kind, self._serial)] = write

    def event(
        self, kind: str, message: str, sim_now: float, sample_id: str = "", op_id: str = "", data: Any = None
    ) -> None:
        self._append("event", lambda store: store.event(self.cid, kind, message, sim_now, sample_id, op_id, data or {}))

    def pattern(self, sample_id: str, op_id: str, pattern: XrdPattern, sim_now: float) -> None:
        self._append("pattern", lambda store: store.add_pattern(self.cid, sample_id, op_id, pattern, sim_now))

    def analysis(self, sample_id: str, experiment_id: str, analysis: AnalysisResult, sim_now: float) -> None:
        self._append(
            "analysis", lambda store: store.add_analysis(self.cid, sample_id, experiment_id, analysis, sim_now)
        )

    def claim(self, pending: Any) -> None:
        """A claim of the claims ledger (autonomy/claims.py PendingClaim), written after its analysis."""
        self._append("claim", pending.write)

    def create_campaign(self, name: str, seed: int, config: dict[str, Any], sim_now: float) -> None:
        self._append("campaign", lambda store: store.create_campaign(self.cid, name, seed, config, sim_now))

    def set_campaign(self, **values: Any) -> None:
        self._append("campaign", lambda store: store.set_campaign(self.cid, **values))

    def flush(self, store: Store) -> None:
        """Write everything pending in one transaction (nothing if there is nothing)."""
        if not self._writes:
            return
        with store.atomic():
            for write in self._writes.values():
                write(store)
        self._writes.clear()  # only once committed: a failed flush leaves them pending


class CampaignState:
    """Everything the scheduler knows about one running campaign, in memory.

    The records (targets, experiments, samples, furnace batches, operations in flight), the
    engine's copy of the lab's position table, and the campaign's condition (paused, suspended,
    aborted). `work` collects the writes its changes need; see UnitOfWork.
    """

    def __init__(self, campaign_id: str, cell: CellModel, clock: Callable[[], float]) -> None:
        self.cid = campaign_id
        self.cell = cell
        self.now = clock
        self.work = UnitOfWork(campaign_id)
        self.targets: dict[str, TargetRecord] = {}
        self.experiments: dict[str, ExperimentRecord] = {}
        self.samples: dict[str, SampleRecord] = {}
        self.batches: dict[str, BatchRecord] = {}
        self.ops: dict[str, OpRecord] = {}  # in flight
        # The dosing heads' powders in head order, and the store's powders on no head (ADR 0106);
        # a load_vial swaps one of each.
        self.heads: list[str] = list(cell.heads)
        self.stored: list[str] = list(cell.stored)
        self.occupied: dict[str, str] = {}  # position -> labware id (mirror of the lab's table)
        self.used_labware: set[str] = set()
        self.patterns: dict[str, XrdPattern] = {}  # measured, not analysed yet
        self.waiting: dict[str, str] = {}  # why work waits (for space, crucibles), by kind
        # Stations the lab cannot reach now (no heartbeat, or restarting): station -> why. Only the
        # operations on them wait; the rest of the lab goes on (not a suspension).
        self.unavailable: dict[str, str] = {}
        self.unavailable_since: dict[str, tuple[float, float]] = {}  # station -> (lab, wall) time it was lost
        # Batches whose heat goal was lost with its restarted station while the furnace's controller
        # still ran the program: batch id -> the lost heat operation; heated when the program ends.
        self.heat_watch: dict[str, OpRecord] = {}
        # Samples whose mill goal was lost with its restarted station while the mill still ran that run:
        # sample id -> the lost mill operation; milled when the run ends (it holds the mill until then).
        self.mill_watch: dict[str, OpRecord] = {}
        # Samples whose dose was lost with its restarted station: sample id -> the lost dose operation;
        # the crucible is weighed when the station is back and the dose settled from its mass (ADR 0115).
        self.dose_watch: dict[str, OpRecord] = {}
        self.ask: set[str] = set()  # targets the planner is asked about at the next loop
        self.seq = {"sample": 0, "batch": 0, "target": 0}
        self.opened = False
        self.sim_start = 0.0
        # The campaign's condition (the engine's suspenders and commands set it).
        self.paused = False
        self.pause_reason = ""
        self.suspended: list[str] = []
        self.suspend_hint = ""
        self.aborted = ""  # why the campaign was aborted; empty while it runs
        self.clear_since: float | None = None  # lab time since which the suspenders are clear
        # Since when (lab time, wall time) a suspension has gone unattended; None: not counting.
        self.unattended_since: tuple[float, float] | None = None
        self.idle_since: float | None = None  # lab time since which nothing has been in flight
        self.reported_waits: set[str] = set()

    # ------------------------------------------------------------------ records

    def add(self, record: Record) -> None:
        """A new target, experiment, sample or batch: kept here and inserted at the next flush."""
        table: dict[str, Any] = {
            TargetRecord: self.targets,
            ExperimentRecord: self.experiments,
            SampleRecord: self.samples,
            BatchRecord: self.batches,
        }[type(record)]
        table[record.id] = record
        self.work.add(record)

    def changed(self, *records: Record) -> None:
        """These records changed: written at the next flush."""
        for record in records:
            self.work.changed(record)

    def event(self, kind: str, message: str, sample_id: str = "", op_id: str = "", **data: Any) -> None:
        """An entry of the campaign's event log (and of the log)."""
        log.info("%s: %s", kind, message)
        self.work.event(kind, message, self.now(), sample_id, op_id, data)

    def vial_loaded(self, powder: str, returned: str) -> None:
        """The dosing station put the vial of `powder` on the head of `returned`, which went to the store."""
        if returned in self.heads:
            self.heads[self.heads.index(returned)] = powder
        elif powder not in self.heads:
            self.heads.append(powder)
        self.stored = [p for p in self.stored if p != powder]
        if returned and returned not in self.stored and returned not in self.heads:
            self.stored.append(returned)

    def replay_vials(self, operations: Sequence[dict[str, Any]]) -> None:
        """On a restart: the heads as the recorded load_vial operations left them (in their order)."""
        for row in operations:
            result = row.get("result") or {}
            if row.get("action") == "load_vial" and row.get("state") == "succeeded" and result.get("powder"):
                self.vial_loaded(str(result["powder"]), str(result.get("returned_powder") or ""))

    # ------------------------------------------------------------------ the campaign as a whole

    @property
    def finished(self) -> bool:
        if not self.opened or self.ops or not self.targets:
            return False
        if any(t.status not in TERMINAL_TARGET for t in self.targets.values()):
            return False
        if any(e.status in OPEN_EXPERIMENT for e in self.experiments.values()):
            return False
        return all(s.closed and (s.analysed or s.status is not SampleStatus.MEASURED) for s in self.samples.values())

    @property
    def status(self) -> str:
        """aborted, finished, paused, suspended or running."""
        if self.aborted:
            return "aborted"
        if self.finished:
            return "finished"
        if self.paused:
            return "paused"
        if self.suspended:
            return "suspended"
        return "running"

    # ------------------------------------------------------------------ shared queries

    def members(self, batch: BatchRecord, include_failed: bool = False) -> list[SampleRecord]:
        """The open samples of a furnace batch (the failed ones only if asked)."""
        return [
            s
            for s in self.samples.values()
            if s.batch_id == batch.id and not s.closed and (include_failed or s.status is not SampleStatus.FAILED)
        ]

    def priority(self, sample: SampleRecord) -> int:
        """The priority of the sample's target."""
        experiment = self.experiments[sample.experiment_id]
        return self.targets[experiment.target_id].target.priority

    def busy(self) -> set[str]:
        """Resources held by the operations in flight (arm:, pos:, station:, furnace:)."""
        busy: set[str] = set()
        for op in [*self.ops.values(), *self.mill_watch.values(), *self.dose_watch.values()]:
            busy.update(op.resources)
        return busy

    def free(self, positions: Sequence[str], busy: set[str]) -> list[str]:
        """The positions that hold nothing and no operation is about to use."""
        return [p for p in positions if p not in self.occupied and f"pos:{p}" not in busy]

    def upstream(self) -> list[SampleRecord]:
        """Open samples on their way to a furnace (planned, dosed or milled, not in a furnace)."""
        return [
            s
            for s in self.samples.values()
            if not s.closed
            and s.status is not SampleStatus.FAILED
            and not self.cell.furnace_of(s.location)
            and s.status in (SampleStatus.PLANNED, SampleStatus.DOSED, SampleStatus.MILLED)
        ]

    # ------------------------------------------------------------------ shared transitions

    def moved(self, sample: SampleRecord, source: str, destination: str) -> None:
        """The sample's crucible went from source to destination."""
        if self.occupied.get(source) == sample.labware_id:
            del self.occupied[source]
        self.occupied[destination] = sample.labware_id
        sample.location = destination

    def close(self, sample: SampleRecord, how: str) -> None:
        """Nothing more to do with this sample (stored, discarded, never used)."""
        sample.closed = True
        sample.finished_s = self.now()
        if sample.status is SampleStatus.FAILED and how == "discarded":
            sample.status = SampleStatus.DISCARDED
        if sample.status is SampleStatus.MEASURED and sample.analysed:
            sample.status = SampleStatus.ANALYSED
        self.changed(sample)
        self.event("sample", f"{sample.id} {how} at {sample.location}", sample.id)
        self.maybe_finish_batch(sample.batch_id)

    def maybe_finish_batch(self, batch_id: str) -> None:
        """A heated batch whose furnace is empty again is done (the furnace is free)."""
        batch = self.batches.get(batch_id)
        if batch is None or batch.state != HEATED:
            return
        if any(slot in self.occupied for slot in self.cell.furnaces[batch.furnace]):
            return
        batch.state = DONE
        self.changed(batch)
        self.event("batch", f"{batch.id} unloaded; {batch.furnace} is free")
