"""Furnace batching and admission: which experiment gets a crucible, in which furnace run.

An experiment is admitted only with a fresh crucible and a reservation in a furnace batch of its
heating profile (deadlock freedom: nothing enters the cell without a furnace place waiting for
it). Queued batches take free furnaces (highest priority first); a filling batch heats once all its
members are loaded and either it is full or no more samples of its profile are coming.
"""

from __future__ import annotations

from collections.abc import Callable

from powderlab.autonomy.campaign_state import OPEN_EXPERIMENT, CampaignState
from powderlab.autonomy.config import CampaignConfig
from powderlab.autonomy.model import ExperimentStatus, TargetStatus
from powderlab.autonomy.routing import make_op
from powderlab.autonomy.state import (
    DONE,
    FILLING,
    HEATED,
    HEATING,
    QUEUED,
    BatchRecord,
    ExperimentRecord,
    OpRecord,
    SampleRecord,
)
from powderlab.core.samples import SampleStatus
from powderlab.stations.furnace import HeatRequest


class Furnaces:
    """Admits experiments into furnace batches, gives batches furnaces, starts their heating."""

    def __init__(self, state: CampaignState, config: CampaignConfig) -> None:
        self.state = state
        self.cell = state.cell
        self.config = config
        self.batch_capacity = min(len(slots) for slots in self.cell.furnaces.values())
        self.max_admitted = config.max_admitted or (len(self.cell.buffer) - config.staging_reserve + 2)

    # ------------------------------------------------------------------ furnaces for batches

    def furnace_busy(self, furnace: str) -> bool:
        """A batch holds the furnace, or a crucible is still in it."""
        state = self.state
        if any(b.furnace == furnace and b.state in (FILLING, HEATING, HEATED) for b in state.batches.values()):
            return True
        return any(slot in state.occupied for slot in self.cell.furnaces[furnace])

    def batch_priority(self, batch: BatchRecord) -> int:
        return max((self.state.priority(s) for s in self.state.members(batch)), default=0)

    def assign_furnaces(self) -> None:
        """Queued batches take the free furnaces: highest priority first, then the oldest."""
        state = self.state
        queued = sorted(
            (b for b in state.batches.values() if b.state == QUEUED),
            key=lambda b: (-self.batch_priority(b), b.created_s, b.id),
        )
        for furnace in self.cell.furnaces:
            if not queued:
                return
            if self.furnace_busy(furnace):
                continue
            batch = queued.pop(0)
            batch.state, batch.furnace = FILLING, furnace
            state.changed(batch)
            state.event("batch", f"{batch.id} fills {furnace} ({len(state.members(batch))} reserved)")

    # ------------------------------------------------------------------ admission

    def pending_experiments(self) -> list[ExperimentRecord]:
        """Experiments that need a (new) sample, highest priority first, then the oldest."""
        state = self.state
        open_by_experiment = {s.experiment_id for s in state.samples.values() if not s.closed}
        made: dict[str, int] = {}
        for sample in state.samples.values():
            made[sample.experiment_id] = made.get(sample.experiment_id, 0) + 1
        pending = [
            e
            for e in state.experiments.values()
            if e.status in OPEN_EXPERIMENT
            and e.id not in open_by_experiment
            and made.get(e.id, 0) < self.config.max_samples_per_experiment
            and state.targets[e.target_id].status is not TargetStatus.MADE
        ]
        pending.sort(key=lambda e: (-state.targets[e.target_id].target.priority, e.created_s, e.id))
        return pending

    def fresh_crucibles(self) -> list[tuple[str, str]]:
        """(position, labware) of the storage crucibles no sample has used."""
        occupied = self.state.occupied
        return [
            (position, occupied[position])
            for position in self.cell.storage
            if position in occupied and occupied[position] not in self.state.used_labware
        ]

    def admit(self) -> None:
        """Give pending experiments a crucible and a batch place, while the cell has room ahead of the furnaces."""
        state = self.state
        pending = self.pending_experiments()
        state.waiting.pop("crucibles", None)
        if not pending:
            return
        ahead = state.upstream()
        busy = state.busy()
        fresh = [(p, lw) for p, lw in self.fresh_crucibles() if f"pos:{p}" not in busy]
        if not fresh:
            state.waiting["crucibles"] = "no clean crucible left in storage: refill it"
            return
        while pending and fresh and len(ahead) < self.max_admitted:
            choice = self.choose_admission(pending)
            if choice is None:
                return
            experiment, batch = choice
            pending.remove(experiment)
            position, labware = fresh.pop(0)
            state.seq["sample"] += 1
            sample = SampleRecord(
                f"{state.cid}-S{state.seq['sample']:04d}",
                experiment.id,
                state.seq["sample"],
                labware,
                SampleStatus.PLANNED,
                position,
                batch.id,
                created_s=state.now(),
            )
            if batch.id not in state.batches:
                state.add(batch)
            state.add(sample)
            experiment.status = ExperimentStatus.RUNNING
            state.changed(experiment)
            state.used_labware.add(labware)
            ahead.append(sample)
            state.event("admit", f"{sample.id} for {experiment.id} in {labware} ({batch.id})", sample.id)

    def choose_admission(self, pending: list[ExperimentRecord]) -> tuple[ExperimentRecord, BatchRecord] | None:
        """An open batch with room for a pending experiment's profile; else a new batch for the
        profile with the most urgent and most numerous experiments (None: every furnace has an
        unsettled batch already)."""
        state = self.state
        open_batches = [
            b
            for b in state.batches.values()
            if b.state in (QUEUED, FILLING) and not b.closed and len(state.members(b)) < b.capacity
        ]
        open_batches.sort(key=lambda b: (b.state != FILLING, b.created_s, b.id))
        for batch in open_batches:
            for experiment in pending:
                if experiment.profile_key == batch.key:
                    return experiment, batch
        unsettled = [b for b in state.batches.values() if b.state in (QUEUED, FILLING) and not b.closed]
        if len(unsettled) >= len(self.cell.furnaces):
            return None
        groups: dict[str, list[ExperimentRecord]] = {}
        for experiment in pending:
            groups.setdefault(experiment.profile_key, []).append(experiment)

        def score(key: str) -> tuple[int, int, float]:
            members = groups[key]
            top = max(state.targets[e.target_id].target.priority for e in members)
            return (-top, -len(members), min(e.created_s for e in members))

        key = min(groups, key=score)
        experiment = groups[key][0]
        state.seq["batch"] += 1
        batch = BatchRecord(
            f"{state.cid}-B{state.seq['batch']:03d}",
            experiment.recipe.heating,
            self.batch_capacity,
            created_s=state.now(),
        )
        return experiment, batch

    # ------------------------------------------------------------------ heating

    def heat(self, busy: set[str], launch: Callable[[OpRecord], None]) -> None:
        """Close filling batches that wait no longer, and heat each whose members are all loaded."""
        state = self.state
        now = state.now()
        pending_keys = {e.profile_key for e in self.pending_experiments()}
        upstream = bool(state.upstream())
        for batch in sorted(state.batches.values(), key=lambda b: b.id):
            if batch.state != FILLING or not batch.furnace:
                continue
            members = state.members(batch)
            if not members:
                if not any(slot in state.occupied for slot in self.cell.furnaces[batch.furnace]):
                    batch.state = DONE
                    state.changed(batch)
                continue
            loaded = [s for s in members if s.location in self.cell.furnaces[batch.furnace]]
            if len(loaded) < len(members):
                continue
            if not batch.closed:
                # the wait for more crucibles runs from the last one that joined the run (was
                # admitted), not from the last one loaded: a run queued behind another whose
                # crucibles all joined long ago heats once they are in the furnace, instead of
                # idling it for another batch_wait_s (ADR 0111). Never later than before.
                joined = max([batch.created_s, *(s.created_s for s in members)])
                if batch.last_load_s is not None:
                    joined = min(joined, batch.last_load_s)
                waited = now - joined
                more = batch.key in pending_keys
                if len(members) >= batch.capacity or (
                    not more and (waited >= self.config.batch_wait_s or (not upstream and not pending_keys))
                ):
                    batch.closed = True
                    state.changed(batch)
                else:
                    continue
            if f"furnace:{batch.furnace}" in busy or now < batch.not_before:
                continue
            request = HeatRequest(batch.furnace, batch.profile)
            op = make_op(self.cell.furnace_station, request, "heat", "", (f"furnace:{batch.furnace}",), batch.id)
            launch(op)
            busy.update(op.resources)
