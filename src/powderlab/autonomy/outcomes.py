"""Outcomes and retries: what a finished operation means for its sample, batch and experiment.

A success moves the sample on (dosed, milled, loaded, heated, unloaded, measured). A failure is
classified (autonomy/policy.py): a retryable one is tried again after retry_delay_s, up to
max_retries times; beyond that, or for a failure of the sample itself, the sample fails and its
experiment is made again with a new crucible (up to max_samples_per_experiment) or fails. A dose lost
with its restarted station is settled from the weighed crucible (dose_weighed, ADR 0115); a sample
whose state nobody can tell is parked for a person (park).
"""

from __future__ import annotations

from collections.abc import Callable

from powderlab.autonomy.campaign_state import OPEN_EXPERIMENT, CampaignState
from powderlab.autonomy.config import CampaignConfig
from powderlab.autonomy.experiments import Experiments
from powderlab.autonomy.policy import FailureKind, classify
from powderlab.autonomy.port import Completion
from powderlab.autonomy.state import FILLING, HEATED, OpRecord, SampleRecord
from powderlab.core.errors import ErrorCode
from powderlab.core.positions import Position
from powderlab.core.samples import SampleStatus
from powderlab.stations.dosing import DoseRecord, DoseResult
from powderlab.stations.operations import OPERATIONS

# A lost dose weighed after the restart: a powder's dose is whole within this share of its target
# (or DOSE_TOLERANCE_MG, whichever is larger), as the dosing station's default tolerance.
DOSE_TOLERANCE_REL = 0.01
DOSE_TOLERANCE_MG = 0.5
WEIGHED = "weighed after its station restarted"


def code_name(code: int) -> str:
    """The name of an error code (the number if it has none)."""
    try:
        return ErrorCode(code).name
    except ValueError:
        return str(code)


def dosed_mg(completion: Completion) -> dict[str, float]:
    """Powder -> mg that went in, from a dose's result (also one that stopped early)."""
    result = OPERATIONS["dose"].result_from_data(completion.result)
    return {d.powder: d.actual_mg for d in result.doses} if result is not None else {}


class Outcomes:
    """Applies the results of operations to the records; retries or gives up on failures."""

    def __init__(
        self,
        state: CampaignState,
        config: CampaignConfig,
        experiments: Experiments,
        sync_positions: Callable[[bool], None],
    ) -> None:
        self.state = state
        self.cell = state.cell
        self.config = config
        self.experiments = experiments
        # Re-read the lab's position table (correct=True: the samples follow it); recovery's job.
        self.sync_positions = sync_positions

    def record(self, op: OpRecord, completion: Completion) -> None:
        """A known outcome of an operation (no longer in flight)."""
        op.error_code, op.error_msg, op.result = int(completion.code), completion.message, completion.result
        op.state = "succeeded" if completion.code == ErrorCode.NONE else "failed"
        self.state.changed(op)
        if op.state == "succeeded":
            self.succeeded(op, completion)
        else:
            self.failed(op, completion)

    def succeeded(self, op: OpRecord, completion: Completion) -> None:
        state = self.state
        sample = state.samples.get(op.sample_id)
        if op.action == "weigh" and op.purpose == "reconcile":
            weighed = OPERATIONS["weigh"].result_from_data(completion.result)
            self.dose_weighed(op, weighed.mass_mg if weighed is not None else None)
        elif op.action == "transfer" and sample is not None:
            transfer = op.request
            state.moved(sample, transfer.source, transfer.destination)
            sample.retries = 0
            state.changed(sample)
            if op.purpose == "store":
                state.close(sample, "stored")
            elif op.purpose == "discard":
                state.close(sample, "discarded")
        elif op.action == "dose" and sample is not None:
            sample.status = SampleStatus.DOSED
            sample.dosed_mg = dosed_mg(completion)
            sample.retries = 0
            state.changed(sample)
        elif op.action == "load_vial":
            loaded = OPERATIONS[op.action].result_from_data(completion.result)
            powder, returned = (loaded.powder, loaded.returned_powder) if loaded else (op.request.powder, "")
            state.vial_loaded(powder, returned or op.request.replace)
            back = returned or "?"
            state.event("inventory", f"{powder} loaded onto a dosing head; {back} back to the store", op_id=op.id)
            if sample is not None:
                sample.retries = 0
                state.changed(sample)
        elif op.action == "mill" and sample is not None:
            sample.status, sample.retries = SampleStatus.MILLED, 0
            state.changed(sample)
        elif op.action == "load_furnace" and sample is not None:
            load, loaded = op.request, OPERATIONS[op.action].result_from_data(completion.result)
            slot = loaded.position if loaded is not None and loaded.position else None
            state.moved(sample, load.source, slot or Position.slot(load.furnace, load.slot).name)
            sample.retries = 0
            state.changed(sample)
            batch = state.batches.get(op.batch_id)
            if batch is not None:
                batch.last_load_s = state.now()
                state.changed(batch)
        elif op.action == "heat":
            batch = state.batches[op.batch_id]
            batch.state, batch.heat_ended_s, batch.retries = HEATED, state.now(), 0
            state.changed(batch)
            for member in state.members(batch):
                if member.location in self.cell.furnaces[batch.furnace]:
                    member.status = SampleStatus.HEATED
                    state.changed(member)
            state.event("batch", f"{batch.id} heated in {batch.furnace} ({op.error_msg or 'done'})", op_id=op.id)
        elif op.action == "unload_furnace" and sample is not None:
            source = next((p for p, lw in state.occupied.items() if lw == sample.labware_id), sample.location)
            destination = op.request.destination
            state.moved(sample, source, destination)
            sample.retries = 0
            state.changed(sample)
            state.maybe_finish_batch(sample.batch_id)
            if sample.status is SampleStatus.FAILED and destination in self.cell.done:
                state.close(sample, "discarded")
        elif op.action == "measure_xrd" and sample is not None:
            sample.status, sample.retries = SampleStatus.MEASURED, 0
            state.changed(sample)
            if completion.pattern is not None:
                pattern = completion.pattern
                pattern.sample_id = sample.id
                state.work.pattern(sample.id, op.id, pattern, state.now())
                state.patterns[sample.id] = pattern

    def failed(self, op: OpRecord, completion: Completion) -> None:
        """Retry later, or fail the sample (or the batch's samples) and perhaps its experiment."""
        state = self.state
        kind = classify(completion.code)
        name = code_name(completion.code)
        state.event(
            "failure",
            f"{op.purpose} {op.station}/{op.action} failed: {name}: {completion.message} -> {kind.value}",
            op.sample_id,
            op.id,
        )
        self.sync_positions(True)
        now = state.now()
        if op.action == "heat":
            batch = state.batches[op.batch_id]
            batch.retries += 1
            batch.state, batch.not_before = FILLING, now + self.config.retry_delay_s
            if kind is not FailureKind.RETRY or batch.retries > self.config.max_retries:
                batch.state = HEATED  # give up: the crucibles come out and are discarded
                for member in state.members(batch):
                    self.fail_sample(member, f"heating failed: {name}: {completion.message}", redo=True)
            state.changed(batch)
            return
        sample = state.samples.get(op.sample_id)
        if sample is None:
            return
        if op.action == "weigh" and op.purpose == "reconcile":
            self.dose_weighed(op, None, f"the weigh failed: {name}: {completion.message}")
            return
        if op.action == "dose":
            sample.dosed_mg = dosed_mg(completion)
            if sum(sample.dosed_mg.values()) > 0 and kind is not FailureKind.RECIPE:
                kind = FailureKind.SAMPLE  # powder went in: this crucible cannot be dosed again
        if kind in (FailureKind.RETRY, FailureKind.REPLAN):
            sample.retries += 1
            sample.not_before = now + self.config.retry_delay_s
            if sample.retries > self.config.max_retries:
                self.fail_sample(
                    sample,
                    f"{op.purpose} failed {sample.retries} times; last: {name}: {completion.message}",
                    redo=True,
                )
            else:
                state.changed(sample)
            return
        self.fail_sample(sample, f"{op.purpose}: {name}: {completion.message}", redo=kind is FailureKind.SAMPLE)

    def fail_sample(self, sample: SampleRecord, reason: str, redo: bool) -> None:
        """The sample failed (its crucible is discarded by routing); redo: its experiment may get another."""
        sample.status, sample.failure = SampleStatus.FAILED, reason
        sample.not_before = 0.0
        if not self.cell.furnace_of(sample.location):
            sample.batch_id = ""
        self.state.changed(sample)
        self.state.event("sample", f"{sample.id} failed: {reason}", sample.id)
        self.sample_failed_followup(sample, redo)

    def park(self, sample: SampleRecord, reason: str, op_id: str = "") -> None:
        """Nobody can tell what state the sample is in: set it aside for a person, never redo it blindly.

        It is closed as failed with the reason (its crucible goes to the discard rack, where a person can
        check it; it is not lost) and its experiment gets a fresh crucible.
        """
        self.state.event("attention", f"{sample.id} parked for a person: {reason}", sample.id, op_id)
        self.fail_sample(sample, f"parked for a person: {reason}", redo=True)

    def dose_weighed(self, weigh: OpRecord, mass_mg: float | None, why: str = "") -> None:
        """Settle a dose lost with its restarted station from its crucible's weighed (gross) mass.

        net = mass - the empty crucible (CampaignConfig.crucible_empty_mg, give or take
        crucible_empty_tol_mg). Nothing went in: dosed again (the lost dose provably did nothing). The
        whole dose: dosed, with the measured mass shared over the powders. Part of it (the powders go
        in in order: the first ones whole, then part of one), or more than the dose: the sample fails
        with what is in it. A balance that cannot tell (no reading, less than an empty crucible): parked.
        """
        state, config = self.state, self.config
        dose = state.dose_watch.pop(weigh.sample_id, None)
        sample = state.samples.get(weigh.sample_id)
        if dose is None or sample is None or sample.closed:
            return
        powders = state.experiments[sample.experiment_id].recipe.precursors
        target = sum(p.target_mg for p in powders)
        empty, slack = config.crucible_empty_mg, config.crucible_empty_tol_mg
        if mass_mg is None or mass_mg < empty - slack:
            reading = f"the balance reads {mass_mg:.1f} mg" if mass_mg is not None else why or "no reading"
            self.park(
                sample,
                f"dose outcome lost in a restart and not found by weighing ({reading}; an empty crucible is "
                f"{empty:.0f} mg): check {sample.labware_id}",
                dose.id,
            )
            return
        net = mass_mg - empty
        tolerance = sum(max(DOSE_TOLERANCE_REL * p.target_mg, DOSE_TOLERANCE_MG) for p in powders) + slack
        found = f"{sample.labware_id} weighs {mass_mg:.1f} mg: {net:.1f} mg of the {target:.1f} mg dose"
        if net <= slack:
            state.event("recovery", f"{found}: nothing went in, so it is dosed again", sample.id, dose.id)
            return
        if abs(net - target) <= tolerance:
            share = net / target if target > 0 else 0.0
            records = [DoseRecord(p.powder, p.target_mg, p.target_mg * share, True, True) for p in powders]
            state.event("recovery", f"{found}: the whole dose went in; dosed (not dosed again)", sample.id, dose.id)
            data = OPERATIONS["dose"].result_to_data(DoseResult(records))
            self.record(dose, Completion(dose.id, 0, WEIGHED, data))
            return
        left, mg = net, {}
        for p in powders:  # the station doses the powders in order
            mg[p.powder] = mg.get(p.powder, 0.0) + min(max(left, 0.0), p.target_mg)
            left -= p.target_mg
        sample.dosed_mg = {k: round(v, 3) for k, v in mg.items() if v > 0}
        what = "more than the dose" if net > target else "part of the dose"
        state.event("recovery", f"{found}: {what} went in; not topped up", sample.id, dose.id)
        self.fail_sample(sample, f"dose interrupted by a station restart: {what} in the crucible ({found})", redo=True)

    def sample_failed_followup(self, sample: SampleRecord, redo: bool) -> None:
        """Make the experiment again with a new crucible (redo, while it has samples left), or fail it."""
        state = self.state
        experiment = state.experiments[sample.experiment_id]
        if experiment.status not in OPEN_EXPERIMENT:
            return
        made = sum(1 for s in state.samples.values() if s.experiment_id == experiment.id)
        if redo and made < self.config.max_samples_per_experiment:
            state.event("redo", f"{experiment.id} will be made again with a new crucible", sample.id)
            return
        self.experiments.experiment_failed(experiment, sample.failure)
