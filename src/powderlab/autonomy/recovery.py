"""Recovery: reloading the records after a restart and reconciling them with the lab.

The lab's position table is the truth about where crucibles are: the engine's copy is re-read,
and samples follow it (a crucible missing from it closes its sample as lost). A goal the lab does
not know after a restart is lost: what became of it is read from the position table (a transfer) or
from the mill's last run (a mill: ended: milled; running: followed; unknown: the sample fails, never
milled twice), or the step is done again when it provably never ran (a dose, a mill), or the sample
weighs the crucible (a dose whose outcome is unknown). A goal lost because its station's process
restarted mid-operation may have run part-way: it is never taken as "never ran"; a heat whose furnace
controller still runs the program is followed until the program ends (not heated again) (ADR 0102); a
dose is settled from the crucible's mass once the dosing station is back: nothing in it, dosed again;
the whole dose, dosed; part of it, or a balance that cannot tell, the sample is parked for a person
with what was found and the experiment gets a fresh crucible (ADR 0115).
Operations running far beyond their estimate are reported once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from powderlab.autonomy.campaign_state import CampaignState
from powderlab.autonomy.config import CampaignConfig
from powderlab.autonomy.model import TERMINAL_TARGET
from powderlab.autonomy.outcomes import Outcomes
from powderlab.autonomy.port import Completion, FurnaceInfo, LabPort, LabState, MillInfo
from powderlab.autonomy.routing import make_op
from powderlab.autonomy.state import FILLING, HEATING, OpRecord
from powderlab.core.samples import SampleRef, SampleStatus
from powderlab.stations.base import StationMode
from powderlab.stations.dosing import WeighRequest

PROGRAM_ENDED = "program ended on its controller while the station restarted"
RUN_ENDED = "the mill's run ended on its device while the station restarted"


class Recovery:
    """Reloads the campaign's records, keeps them in line with the lab's position table, settles lost goals."""

    def __init__(self, state: CampaignState, port: LabPort, config: CampaignConfig, outcomes: Outcomes) -> None:
        self.state = state
        self.cell = state.cell
        self.port = port
        self.config = config
        self.outcomes = outcomes
        # Sends an operation the engine's way (write-ahead record, then the goal); the engine sets it.
        self.launch: Callable[[OpRecord], None] | None = None

    def reload(self, records: dict[str, Any]) -> list[OpRecord]:
        """The state from the stored records (Store.load); returns the operations that were in flight."""
        state = self.state
        state.targets = {t.id: t for t in records["targets"]}
        state.experiments = {e.id: e for e in records["experiments"]}
        state.samples = {s.id: s for s in records["samples"]}
        state.batches = {b.id: b for b in records["batches"]}
        state.used_labware = {s.labware_id for s in state.samples.values() if s.labware_id}
        state.seq["sample"] = max((s.seq for s in state.samples.values()), default=0)
        state.seq["batch"] = len(state.batches)
        state.seq["target"] = max((t.seq for t in state.targets.values()), default=0)
        state.ask = {t.id for t in state.targets.values() if t.status not in TERMINAL_TARGET}
        pending = [op for op in records["operations"] if op.state in ("intended", "sent")]
        # A batch still heating whose heat was lost with its restarted station was followed on its
        # furnace's controller (watch_heats): follow it again (a lost heat otherwise leaves it filling).
        heating = {op.batch_id for op in pending if op.action == "heat"}
        for op in records["operations"]:
            batch = state.batches.get(op.batch_id)
            lost_heat = op.action == "heat" and op.state == "lost" and op.batch_id not in heating
            if lost_heat and batch is not None and batch.state == HEATING:
                state.heat_watch[batch.id] = op
        # Likewise a sample whose mill goal (its last one) was lost and that is still dosed: its run was
        # followed on the mill; follow it again (watch_mills fails it if the mill shows no run of it).
        in_flight = {op.sample_id for op in pending}
        last_mill = {op.sample_id: op for op in records["operations"] if op.action == "mill"}
        for sample_id, op in last_mill.items():
            sample = state.samples.get(sample_id)
            dosed = sample is not None and not sample.closed and sample.status is SampleStatus.DOSED
            if op.state == "lost" and sample_id not in in_flight and dosed:
                state.mill_watch[sample_id] = op
        # A sample whose last dose was lost and that is still planned: its crucible is weighed (watch_doses)
        # before anything doses it again; a weigh of it in flight settles it when it comes back.
        last_dose = {op.sample_id: op for op in records["operations"] if op.action == "dose"}
        for sample_id, op in last_dose.items():
            sample = state.samples.get(sample_id)
            planned = sample is not None and not sample.closed and sample.status is SampleStatus.PLANNED
            if op.state == "lost" and planned:
                state.dose_watch[sample_id] = op
        return pending

    def adopt(self, pending_ops: list[OpRecord]) -> None:
        """The operations in flight before the restart are in flight again (their outcomes come through wait())."""
        self.state.event("recovery", f"restarted: {len(pending_ops)} operations were in flight")
        for op in pending_ops:
            self.state.ops[op.id] = op
            self.port.adopt(op)

    def sync_positions(self, correct: bool) -> None:
        """Re-read the lab's position table; with correct=True our samples follow it (it is the truth)."""
        state = self.state
        if self.cell.transfer in state.unavailable:
            return  # its table cannot be read now: keep our copy (read again when it is back)
        table = self.port.positions()
        state.occupied = {name: p.labware.labware_id for name, p in table.items() if p.labware is not None}
        if not correct:
            return
        where = {labware: name for name, labware in state.occupied.items()}
        busy = {op.sample_id for op in state.ops.values()}
        for sample in state.samples.values():
            if sample.closed or not sample.labware_id or sample.id in busy:
                continue
            found = where.get(sample.labware_id, "")
            if found == sample.location:
                continue
            if not found:
                sample.status, sample.failure, sample.closed = (
                    SampleStatus.FAILED,
                    "crucible not in the position table",
                    True,
                )
                sample.finished_s = state.now()
                state.changed(sample)
                state.event(
                    "inventory",
                    f"{sample.labware_id} of {sample.id} is not in the position table: sample closed as lost",
                    sample.id,
                )
                self.outcomes.sample_failed_followup(sample, redo=True)
                continue
            state.event(
                "inventory",
                f"{sample.id}: position table says {found}, records said "
                f"{sample.location or 'nothing'}; following the table",
                sample.id,
            )
            sample.location = found
            state.changed(sample)

    def lost(self, op: OpRecord, completion: Completion | None = None) -> None:
        """A goal the lab does not know (sent before a crash and never received, or expired)."""
        state = self.state
        op.state = "lost"
        state.changed(op)
        self.sync_positions(correct=False)
        sample = state.samples.get(op.sample_id)
        restarted = completion is not None and completion.station_restarted
        message = f"{op.purpose} {op.station}/{op.action} unknown to the lab after restart"
        if restarted:
            message = f"{op.purpose} {op.station}/{op.action} interrupted: the station restarted and lost the goal"
        # The station said it has no such goal, and it keeps results longer than this goal is old:
        # the goal never reached it (the crash came between the record and the send), so nothing
        # happened and the step is simply done again - also a dose: no powder went in.
        never_ran = (
            not restarted  # it had accepted the goal: it may have run part-way
            and completion is not None
            and completion.unknown_goal
            and op.intended_s is not None
            and state.now() - op.intended_s < self.config.result_keep_s
        )
        if op.action in ("transfer", "load_furnace", "unload_furnace") and sample is not None:
            found = next((p for p, lw in state.occupied.items() if lw == sample.labware_id), "")
            state.event(
                "recovery",
                f"{message}: the position table has {sample.labware_id} at {found or 'no position'}",
                sample.id,
                op.id,
            )
            if found:
                sample.location = found
                state.changed(sample)
                if op.purpose in ("store", "discard") and found in self.cell.done:
                    state.close(sample, "stored" if op.purpose == "store" else "discarded")
            else:
                self.sync_positions(correct=True)
        elif op.action == "dose" and sample is not None and never_ran:
            state.event("recovery", f"{message}: it never reached the lab; dosed again", sample.id, op.id)
        elif op.action == "dose" and sample is not None:
            state.dose_watch[sample.id] = op
            state.event(
                "recovery",
                f"{message}: how much powder went in is unknown; {sample.labware_id} is weighed when "
                f"{op.station} is available and the dose settled from its mass (never dosed again blindly)",
                sample.id,
                op.id,
            )
        elif op.action == "heat" and restarted and self._heat_goes_on(op, message):
            pass
        elif op.action == "mill" and sample is not None and not never_ran:  # it may have run: ask the mill
            self._mill_lost(op, message)
        elif op.action == "heat":
            batch = state.batches[op.batch_id]
            batch.state = FILLING
            state.changed(batch)
            state.event("recovery", f"{message}: {batch.id} is heated again", op_id=op.id)
        else:
            state.event("recovery", f"{message}: the step is done again", op.sample_id, op.id)

    def _furnace(self, lab: LabState, station: str, furnace: str) -> FurnaceInfo | None:
        info = lab.stations.get(station)
        if info is None or not info.alive or info.mode == StationMode.INACTIVE:
            return None  # not reporting now: its furnaces' state is stale or unknown
        return next((f for f in info.furnaces if f.name == furnace), None)

    def _heat_goes_on(self, op: OpRecord, message: str) -> bool:
        """A heat lost with its restarted station: the controller is the truth about the program.

        Still running: the batch stays heating and is followed until the program ends (watch_heats).
        Ended, and it had its whole planned time: heated. Otherwise False (the caller heats it again).
        """
        state = self.state
        batch = state.batches[op.batch_id]
        furnace = self._furnace(self.port.lab_state(), op.station, batch.furnace)
        if furnace is not None and furnace.program_running:
            state.heat_watch[batch.id] = op
            state.event(
                "recovery",
                f"{message}: {batch.furnace}'s controller still runs the program: {batch.id} stays heating and "
                "is heated when the program ends (not heated again)",
                op_id=op.id,
            )
            return True
        ran_s = state.now() - op.started_s if op.started_s is not None else 0.0
        if furnace is not None and op.estimate_s > 0 and ran_s >= op.estimate_s:
            state.event(
                "recovery",
                f"{message}: {batch.furnace}'s program has ended after its planned {op.estimate_s:.0f} s: "
                f"{batch.id} heated (not heated again)",
                op_id=op.id,
            )
            self.outcomes.record(op, Completion(op.id, 0, PROGRAM_ENDED))
            return True
        return False

    def _mill_run(self, lab: LabState, op: OpRecord) -> MillInfo | None:
        """The station's mill whose last run began after op was recorded (so it is op's run), or None."""
        info = lab.stations.get(op.station)
        since = op.intended_s if op.intended_s is not None else op.started_s
        if info is None or not info.alive or info.mode == StationMode.INACTIVE or since is None:
            return None  # not reporting now, or nothing to tell op's run from an earlier one
        return next((m for m in info.mills if m.started_s is not None and m.started_s >= since), None)

    def _mill_lost(self, op: OpRecord, message: str) -> None:
        """A mill goal lost with its restarted station: the mill's last run is the truth (never milled twice).

        Its run still going: the sample waits for it (watch_mills). Ended after its whole duration: milled.
        Otherwise (cut short, or the device cannot tell: its state died with the station's process) the
        sample fails like a lost dose, and its experiment gets a fresh crucible.
        """
        state = self.state
        sample = state.samples[op.sample_id]
        run = self._mill_run(self.port.lab_state(), op)
        duration = float(op.request.duration_s)
        if run is not None and run.running:
            state.mill_watch[sample.id] = op
            state.event(
                "recovery",
                f"{message}: {run.name} still runs its mill of {sample.labware_id}: milled when the run ends "
                "(not milled again)",
                sample.id,
                op.id,
            )
        elif run is not None and run.elapsed_s >= duration - 1e-6:
            state.event(
                "recovery",
                f"{message}: {run.name}'s run ended after its {run.elapsed_s:.0f} s: {sample.id} milled "
                "(not milled again)",
                sample.id,
                op.id,
            )
            self.outcomes.record(op, Completion(op.id, 0, RUN_ENDED, {"milled_s": run.elapsed_s}))
        elif run is not None:
            state.event(
                "recovery",
                f"{message}: its run was cut short; {sample.labware_id} is not milled again, the sample fails "
                "and its experiment gets a fresh crucible",
                sample.id,
                op.id,
            )
            self.outcomes.fail_sample(sample, "mill outcome lost in a restart", redo=True)
        else:  # the device keeps no run of it (a mock mill died with the station; a mill with no start time)
            self.outcomes.park(
                sample,
                f"mill outcome lost in a restart: {op.station}'s mill cannot tell whether it milled {sample.id} "
                f"({duration:.0f} s); check {sample.labware_id}",
                op.id,
            )

    def watch_mills(self, lab: LabState) -> None:
        """Samples whose mill run went on after their station restarted are milled once it has ended."""
        state = self.state
        for sample_id, op in list(state.mill_watch.items()):
            info = lab.stations.get(op.station)
            if info is None or not info.alive or info.mode == StationMode.INACTIVE:
                continue  # not reporting now: wait
            run = self._mill_run(lab, op)
            if run is not None and run.running:
                continue
            del state.mill_watch[sample_id]
            sample = state.samples.get(sample_id)
            if sample is None or sample.closed:
                continue
            if run is not None and run.elapsed_s >= float(op.request.duration_s) - 1e-6:
                state.event("recovery", f"{run.name}'s run ended: {sample_id} milled", sample_id, op.id)
                self.outcomes.record(op, Completion(op.id, 0, RUN_ENDED, {"milled_s": run.elapsed_s}))
            else:
                state.event(
                    "recovery",
                    f"the mill run of {sample_id} ended short or was lost: the sample fails",
                    sample_id,
                    op.id,
                )
                self.outcomes.fail_sample(sample, "mill outcome lost in a restart", redo=True)

    def watch_doses(self, lab: LabState) -> None:
        """Weigh the crucible of each dose lost with its restarted station, once that station is back.

        The weigh's outcome settles the dose (Outcomes.dose_weighed); meanwhile the sample and the
        balance are held (CampaignState.busy), so nothing doses the crucible again.
        """
        state = self.state
        for sample_id, op in list(state.dose_watch.items()):
            sample = state.samples.get(sample_id)
            if sample is None or sample.closed:
                del state.dose_watch[sample_id]
                continue
            info = lab.stations.get(op.station)
            reporting = info is not None and info.alive and info.mode not in (StationMode.INACTIVE, StationMode.FAULT)
            weighing = any(o.sample_id == sample_id for o in state.ops.values())
            if not reporting or weighing or op.station in state.unavailable or self.launch is None:
                continue
            position = str(op.goal.get("position", ""))
            request = WeighRequest(SampleRef(sample.id, sample.labware_id), position)
            self.launch(make_op(op.station, request, "reconcile", sample.id, op.resources))

    def watch_heats(self, lab: LabState) -> None:
        """Batches whose program ran on after their station restarted are heated once it has ended."""
        state = self.state
        for batch_id, op in list(state.heat_watch.items()):
            batch = state.batches[batch_id]
            furnace = self._furnace(lab, op.station, batch.furnace)
            if furnace is None or furnace.program_running:
                continue
            del state.heat_watch[batch_id]
            state.event(
                "recovery", f"{batch.furnace}'s program ended on its controller: {batch_id} heated", op_id=op.id
            )
            self.outcomes.record(op, Completion(op.id, 0, PROGRAM_ENDED))

    def check_overruns(self) -> None:
        """Report (once) each operation running longer than its estimate allows."""
        state = self.state
        now = state.now()
        for op in state.ops.values():
            if op.overrun_reported or op.started_s is None:
                continue
            limit = op.estimate_s * self.config.overrun_factor + self.config.overrun_margin_s
            if now - op.started_s > limit:
                op.overrun_reported = True
                state.event(
                    "overrun",
                    f"{op.purpose} {op.station}/{op.action} running {now - op.started_s:.0f} s, "
                    f"estimated {op.estimate_s:.0f} s: plans now count from its end",
                    op.sample_id,
                    op.id,
                )
