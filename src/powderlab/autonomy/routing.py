"""Routing: which operation each sample needs next, with which arm, and whether it may start now.

A sample's next step follows from its status and where its crucible stands (storage -> balance ->
dose -> clamp -> mill -> staging rack -> furnace -> XRD -> done rack). A step starts only when
every resource it needs (arm, source and destination positions, station, furnace) is free; the
typed request of each operation is built here (its stored goal is derived from it, ADR 0088).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from powderlab.autonomy.campaign_state import CampaignState
from powderlab.autonomy.config import CampaignConfig
from powderlab.autonomy.state import FILLING, HEATING, OpRecord, SampleRecord
from powderlab.core.positions import Position, in_gripper
from powderlab.core.samples import SampleRef, SampleStatus
from powderlab.stations.dosing import DoseRequest, LoadVialRequest
from powderlab.stations.furnace import LoadRequest, UnloadRequest
from powderlab.stations.milling import MillRequest
from powderlab.stations.operations import operation_of
from powderlab.stations.transfer import TransferRequest
from powderlab.stations.xrd import MeasureRequest

# Further along first: samples near the end free the cell for the ones behind them.
STAGE_RANK = {
    SampleStatus.MEASURED: 6,
    SampleStatus.HEATED: 5,
    SampleStatus.FAILED: 4,
    SampleStatus.MILLED: 3,
    SampleStatus.DOSED: 2,
    SampleStatus.PLANNED: 1,
}


def stage_rank(sample: SampleRecord) -> int:
    """How far along the sample is (higher: dispatched first)."""
    return STAGE_RANK.get(sample.status, 0)


def make_op(
    station: str,
    request: Any,
    purpose: str,
    sample_id: str = "",
    resources: tuple[str, ...] = (),
    batch_id: str = "",
) -> OpRecord:
    """A new operation of a typed request (its id is also the goal's id; its goal, the request's data)."""
    op = operation_of(request)
    return OpRecord(
        uuid.uuid4().hex, station, op.name, op.request_to_data(request), purpose, sample_id, batch_id, resources
    )


def sample_ref(sample: SampleRecord) -> SampleRef:
    return SampleRef(sample.id, sample.labware_id)


def conflict(busy: set[str], *resources: str) -> bool:
    """Is any of these resources held?"""
    return any(r in busy for r in resources)


class Router:
    """Picks each open sample's next operation when its resources are free."""

    def __init__(self, state: CampaignState, config: CampaignConfig) -> None:
        self.state = state
        self.cell = state.cell
        self.config = config

    def dispatch(self, launch: Callable[[OpRecord], None]) -> set[str]:
        """Start the next step of every sample that can go, furthest along first; the resources then held."""
        state = self.state
        now = state.now()
        busy = state.busy()
        in_ops = {op.sample_id for op in [*state.ops.values(), *state.mill_watch.values()]}
        for key in ("done", "parking", "staging", "heads"):
            state.waiting.pop(key, None)
        candidates = [s for s in state.samples.values() if not s.closed and s.id not in in_ops and s.not_before <= now]
        candidates.sort(key=lambda s: (-stage_rank(s), -state.priority(s), s.seq))
        for sample in candidates:
            op = self.next_step(sample, busy)
            if op is not None:
                launch(op)
                busy.update(op.resources)
        return busy

    def arm(self, source: str, destination: str) -> str:
        """The arm resource that moves a crucible from source to destination."""
        return f"arm:{self.cell.arm_for(source, destination)}"

    def transfer(self, sample: SampleRecord, destination: str, purpose: str) -> OpRecord:
        arm = self.cell.arm_for(sample.location, destination)
        return make_op(
            self.cell.transfer,
            TransferRequest(sample_ref(sample), sample.location, destination),
            purpose,
            sample.id,
            (f"arm:{arm}", f"pos:{sample.location}", f"pos:{destination}"),
        )

    def next_step(self, sample: SampleRecord, busy: set[str]) -> OpRecord | None:
        """The sample's next operation if it can start now (None: nothing to do, or wait)."""
        state, cell = self.state, self.cell
        location, status = sample.location, sample.status
        free = state.free
        if not location or in_gripper(location):
            return None
        if status is SampleStatus.FAILED:
            return self.discard_step(sample, busy)
        if status is SampleStatus.PLANNED:
            if location in cell.storage:
                if free([cell.balance], busy) and not conflict(busy, self.arm(location, cell.balance)):
                    return self.transfer(sample, cell.balance, "to_balance")
                return None
            if location == cell.balance and "station:dosing" not in busy:
                recipe = state.experiments[sample.experiment_id].recipe
                missing = [d.powder for d in recipe.precursors if d.powder in state.stored]
                if missing:  # a stored powder goes on a head first (ADR 0106)
                    return self.vial_step(sample, missing[0])
                request = DoseRequest(sample_ref(sample), recipe.precursors)
                return make_op(cell.dosing, request, "dose", sample.id, ("station:dosing", f"pos:{location}"))
            return None
        if status is SampleStatus.DOSED:
            if location == cell.balance:
                if free([cell.clamp], busy) and not conflict(busy, self.arm(location, cell.clamp)):
                    return self.transfer(sample, cell.clamp, "to_mill")
                return None
            if location == cell.clamp and "station:milling" not in busy:
                milling = state.experiments[sample.experiment_id].recipe.milling
                request = MillRequest(sample_ref(sample), milling.duration_s, milling.frequency_hz, milling.ball_count)
                return make_op(cell.milling, request, "mill", sample.id, ("station:milling", f"pos:{location}"))
            return None
        if status is SampleStatus.MILLED:
            batch = state.batches.get(sample.batch_id)
            if location == cell.clamp:
                staging = free(cell.buffer, busy)
                if len(staging) <= self.config.staging_reserve:
                    state.waiting["staging"] = "staging rack full: milled samples wait for furnaces"
                    return None
                if not conflict(busy, self.arm(location, staging[0])):
                    return self.transfer(sample, staging[0], "stage")
                return None
            if location in cell.buffer and batch is not None and batch.state == FILLING:
                furnace = batch.furnace
                slots = free(cell.furnaces[furnace], busy)
                arm = self.arm(location, slots[0]) if slots else ""
                if slots and f"furnace:{furnace}" not in busy and not conflict(busy, arm):
                    slot = Position.parse(slots[0]).slot_index
                    request = LoadRequest(sample_ref(sample), location, furnace, slot)
                    resources = (f"furnace:{furnace}", arm, f"pos:{location}", f"pos:{slots[0]}")
                    return make_op(cell.furnace_station, request, "load", sample.id, resources, batch.id)
            return None
        if status is SampleStatus.HEATED:
            furnace = cell.furnace_of(location)
            if furnace:
                return self.unload_step(sample, furnace, busy)
            if location in cell.buffer or location in cell.done:
                ready = free([cell.recovery], busy) and "station:xrd" not in busy
                if ready and not conflict(busy, self.arm(location, cell.recovery)):
                    return self.transfer(sample, cell.recovery, "to_xrd")
                return None
            if location == cell.recovery and "station:xrd" not in busy:
                scan = state.experiments[sample.experiment_id].recipe.scan
                request = MeasureRequest(sample_ref(sample), location, "", scan)
                return make_op(cell.xrd, request, "measure", sample.id, ("station:xrd", f"pos:{location}"))
            return None
        if status is SampleStatus.MEASURED:
            if location == cell.recovery:
                done = free(cell.done, busy)
                if not done:
                    state.waiting["done"] = "done rack full: empty it (a person must) to go on"
                    return None
                if not conflict(busy, self.arm(location, done[0])):
                    return self.transfer(sample, done[0], "store")
                return None
            if location in cell.done:
                state.close(sample, "stored")
            return None
        return None

    def vial_step(self, sample: SampleRecord, powder: str) -> OpRecord | None:
        """Load the stored vial of `powder` onto a head whose powder no sample waiting to be dosed needs.

        The last such head is swapped, so a campaign cycles through the fewest heads and leaves the
        site's usual powders where they are; None (and a wait reason) when every head is needed.
        """
        state = self.state
        needed = {
            dose.powder
            for other in state.samples.values()
            if not other.closed and other.status is SampleStatus.PLANNED and other.experiment_id in state.experiments
            for dose in state.experiments[other.experiment_id].recipe.precursors
        }
        free = [head for head in state.heads if head not in needed]
        if not free:
            state.waiting["heads"] = f"every dosing head holds a powder a sample waits for; {powder} waits for a head"
            return None
        request = LoadVialRequest(powder, free[-1])
        return make_op(self.cell.dosing, request, "load_vial", sample.id, ("station:dosing",))

    def unload_step(self, sample: SampleRecord, furnace: str, busy: set[str]) -> OpRecord | None:
        """Unload a crucible to the done rack, or to the staging rack when the done rack must keep room."""
        state, cell = self.state, self.cell
        if f"furnace:{furnace}" in busy:
            return None
        recovering = sum(1 for s in state.samples.values() if not s.closed and s.location == cell.recovery)
        done_free = state.free(cell.done, busy)
        if len(done_free) > recovering:
            destination = done_free[0]
        else:
            buffer_free = state.free(cell.buffer, busy)
            if not buffer_free:
                state.waiting["parking"] = "no space to unload furnaces (done rack and buffer full)"
                return None
            destination = buffer_free[0]
        arm = self.arm(sample.location, destination)
        if conflict(busy, arm):
            return None
        request = UnloadRequest(sample_ref(sample), destination)
        resources = (f"furnace:{furnace}", arm, f"pos:{sample.location}", f"pos:{destination}")
        return make_op(cell.furnace_station, request, "unload", sample.id, resources, sample.batch_id)

    def discard_step(self, sample: SampleRecord, busy: set[str]) -> OpRecord | None:
        """A failed sample's crucible goes to the done rack (closed at once if it never left storage)."""
        state, cell = self.state, self.cell
        location = sample.location
        if location in cell.storage or location in cell.done:
            state.close(sample, "discarded" if location in cell.done else "never used")
            return None
        furnace = cell.furnace_of(location)
        if furnace:
            batch = state.batches.get(sample.batch_id)
            if batch is not None and batch.state == HEATING:
                return None
            return self.unload_step(sample, furnace, busy)
        done = state.free(cell.done, busy)
        if not done:
            state.waiting["done"] = "done rack full: empty it (a person must) to go on"
            return None
        if conflict(busy, self.arm(location, done[0])):
            return None
        return self.transfer(sample, done[0], "discard")
