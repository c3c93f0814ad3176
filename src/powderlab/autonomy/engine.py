"""The campaign engine: targets -> recipes -> samples -> operations, many in flight, restartable.

One engine drives the lab through a LabPort (in process or over ROS). Every loop it:
1. applies commands (submit targets, pause, resume) queued from other threads;
2. checks the suspenders (e-stop, station fault, furnace door fault, labware left in a gripper);
3. analyses measured samples and tells the planner; asks the planner for the next recipes;
4. unless paused or suspended: gives queued furnace batches a free furnace, admits experiments
   (a fresh crucible and a reservation in a batch of the same heating profile), and starts the
   next step of every sample whose resources are free;
5. waits for outcomes and records them.

The engine is the coordinator of the scheduler's parts, which share one CampaignState
(autonomy/campaign_state.py): experiments (targets, proposals, analyses), furnaces (batching and
admission), routing (each sample's next operation and its goal), outcomes (results, retries),
recovery (reload, the position table, lost goals) and progress. The suspenders, the commands and
the campaign's end stay here. See docs/decisions/0086-scheduler-in-parts.md.

Every decision is recorded before it is acted on (docs/decisions/0060-write-ahead-of-intent.md):
an experiment before its sample, a sample before its crucible moves, an operation before its
goal is sent; the result after. The parts only mark what changed; the engine writes it in one
transaction (the unit of work) before it sends a goal, before it waits for the lab, before it
tells anyone outside, and when open() or run() ends. On start the engine reloads its records and
reconciles them with the lab (goal results by goal id, the position table) before doing anything new.

Deadlock freedom: a sample is admitted only with a reservation in a furnace batch; it moves to
the staging rack (buffer) only while a buffer slot stays free for unloading; a furnace is
unloaded to the done rack (or the spare buffer slot) before it takes the next batch. The one
stall left is a full done rack, which needs a person: it is reported as a waiting reason.
"""

from __future__ import annotations

import logging
import queue
import time
from collections.abc import Callable, Sequence
from typing import Any

from powderlab.autonomy import progress as progress_of
from powderlab.autonomy import store as store_tables
from powderlab.autonomy.campaign_state import CampaignState
from powderlab.autonomy.cell import CellModel
from powderlab.autonomy.config import CLOCK_SLACK_S, STALL_AFTER_S, UNAVAILABLE_GRACE_WALL_S, CampaignConfig
from powderlab.autonomy.experiments import Experiments
from powderlab.autonomy.furnaces import Furnaces
from powderlab.autonomy.model import AnalysisResult, Progress, Target
from powderlab.autonomy.outcomes import Outcomes
from powderlab.autonomy.port import Completion, LabPort
from powderlab.autonomy.protocols import Analyzer, Planner
from powderlab.autonomy.recovery import Recovery
from powderlab.autonomy.routing import Router
from powderlab.autonomy.state import HEATING, BatchRecord, ExperimentRecord, OpRecord, SampleRecord, TargetRecord
from powderlab.autonomy.store import Store
from powderlab.core.errors import PowderLabError
from powderlab.core.positions import in_gripper
from powderlab.core.xrd import XrdPattern
from powderlab.stations.base import StationMode

__all__ = ["STALL_AFTER_S", "CampaignConfig", "CampaignEngine"]

log = logging.getLogger(__name__)


class CampaignEngine:
    """Runs one campaign against one lab; the Store holds everything it knows."""

    def __init__(
        self,
        store: Store,
        port: LabPort,
        planner: Planner,
        analyzer: Analyzer,
        cell: CellModel,
        config: CampaignConfig,
        on_progress: Callable[[Progress], None] | None = None,
        on_analysis: Callable[[str, AnalysisResult], None] | None = None,
        attended: Callable[[], bool] | None = None,
    ) -> None:
        self.store = store
        self.port = port
        self.planner = planner
        self.analyzer = analyzer
        self.cell = cell
        self.config = config
        self.cid = config.campaign_id
        self.on_progress = on_progress
        self.on_analysis = on_analysis  # (sample id, analysis), after the analysis is recorded
        # Is a technician at the lab (a dashboard open)? Then a suspension waits for them.
        self.attended = attended or (lambda: False)
        self.campaign = CampaignState(self.cid, cell, port.now)
        self.experiments_part = Experiments(self.campaign, config, planner, analyzer)
        self.outcomes = Outcomes(self.campaign, config, self.experiments_part, self._sync_positions)
        self.recovery = Recovery(self.campaign, port, config, self.outcomes)
        self.recovery.launch = self._launch  # it weighs a crucible whose dose was lost (ADR 0115)
        self.furnaces = Furnaces(self.campaign, config)
        self.router = Router(self.campaign, config)
        self._commands: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        # Every station has been active since open(): until then "not active" is the lab starting
        # (40-80 s of wall time on a loaded machine, days of lab time at 2000x), not a fault.
        self._lab_was_up = False
        self._marked_finished = False
        self.batch_capacity = self.furnaces.batch_capacity
        self.max_admitted = self.furnaces.max_admitted

    # ------------------------------------------------------------------ the shared state, by name

    @property
    def targets(self) -> dict[str, TargetRecord]:
        return self.campaign.targets

    @property
    def experiments(self) -> dict[str, ExperimentRecord]:
        return self.campaign.experiments

    @property
    def samples(self) -> dict[str, SampleRecord]:
        return self.campaign.samples

    @property
    def batches(self) -> dict[str, BatchRecord]:
        return self.campaign.batches

    @property
    def ops(self) -> dict[str, OpRecord]:
        return self.campaign.ops

    @property
    def occupied(self) -> dict[str, str]:
        return self.campaign.occupied

    @occupied.setter
    def occupied(self, value: dict[str, str]) -> None:
        self.campaign.occupied = value

    @property
    def patterns(self) -> dict[str, XrdPattern]:
        return self.campaign.patterns

    @property
    def waiting(self) -> dict[str, str]:
        return self.campaign.waiting

    @property
    def paused(self) -> bool:
        return self.campaign.paused

    @property
    def pause_reason(self) -> str:
        return self.campaign.pause_reason

    @property
    def suspended(self) -> list[str]:
        return self.campaign.suspended

    @property
    def suspend_hint(self) -> str:
        return self.campaign.suspend_hint

    @property
    def aborted(self) -> str:
        """Why the campaign was aborted; empty while it runs."""
        return self.campaign.aborted

    @property
    def opened(self) -> bool:
        return self.campaign.opened

    @property
    def sim_start(self) -> float:
        return self.campaign.sim_start

    # ------------------------------------------------------------------ public API

    def submit(self, targets: Sequence[Target]) -> None:
        """Add targets (thread-safe; applied at the next loop)."""
        self._commands.put(("submit", list(targets)))

    def pause(self, reason: str = "paused by request") -> None:
        """Start no new operation until resume(); running ones finish (thread-safe)."""
        self._commands.put(("pause", reason))

    def resume(self) -> None:
        self._commands.put(("resume", None))

    @property
    def state(self) -> str:
        """aborted, finished, paused, suspended or running."""
        return self.campaign.status

    @property
    def finished(self) -> bool:
        return self.campaign.finished

    def open(self, initial_targets: Sequence[Target] = ()) -> None:
        """Create the campaign's records, or reload them and reconcile with the lab (recovery).

        A new campaign and its initial targets are written in one transaction: a crash
        between the two would leave a resumable campaign with no (or only some) targets.
        On resume, initial_targets are ignored (the stored ones are the truth).
        """
        campaign = self.campaign
        now = self.port.now()
        existing = self.store.campaign(self.cid)
        if existing is None:
            self.config.extra.update(
                planner=self.planner.name,
                analyzer=self.analyzer.name,
                furnace_slots=sum(len(slots) for slots in self.cell.furnaces.values()),
            )
            campaign.work.create_campaign(self.config.name or self.cid, self.config.seed, self.config.to_dict(), now)
            campaign.event(
                "campaign",
                f"campaign {self.cid} created (planner: {self.planner.name}, analyzer: {self.analyzer.name})",
            )
            self.experiments_part.add_targets(list(initial_targets))
            self._flush()
            campaign.sim_start = now
            self._sync_positions(correct=False)
        else:
            last = self.store.last_sim_time(self.cid)
            if last is not None and now < last - CLOCK_SLACK_S:
                raise PowderLabError(
                    f"campaign {self.cid} cannot resume on this lab: its records go up to lab time {last:.0f} s "
                    f"but the lab's clock reads {now:.0f} s, so the lab was restarted since and its crucibles, "
                    "furnaces and positions are not the ones recorded. Resume it on the lab that ran it, or start "
                    "a new campaign (another campaign id or database); the records stay as they are"
                )
            campaign.sim_start = existing["sim_start"] or now
            self._marked_finished = existing["status"] == "finished"
            pending_ops = self.recovery.reload(self.store.load(self.cid))
            # the dosing heads as the recorded vial swaps left them (ADR 0106)
            campaign.replay_vials(self.store.rows(store_tables.operations, self.cid))
            if existing["status"] == "aborted":
                campaign.work.set_campaign(status="running", sim_end=None, wall_end=None)
                campaign.event("campaign", "an aborted campaign opened again: it runs again")
            self._recover(pending_ops)
        campaign.opened = True
        self._flush()

    def run(self, stop: Callable[[], bool] | None = None, max_sim_s: float | None = None) -> None:
        """Loop until every target is settled (or stop() says so, or max_sim_s of lab time pass)."""
        if not self.opened:
            self.open()
        while True:
            self.step()
            if self.aborted:
                break
            if self.finished and self._commands.empty():
                break
            if stop is not None and stop():
                break
            if max_sim_s is not None and self.port.now() - self.sim_start > max_sim_s:
                self.campaign.event("campaign", f"stopped after {max_sim_s:g} s of lab time (limit)")
                break
        self._flush()

    def step(self) -> None:
        """One loop: commands, conditions, analysis, proposals, dispatch, wait for outcomes."""
        if self.aborted:  # nothing more to do; the records stay as they are
            self._report_progress()
            return
        self._apply_commands()
        self._check_conditions()
        if self.aborted:
            self._report_progress()
            return
        self.experiments_part.analyse_pending(self.store, self.on_analysis)
        self.experiments_part.cancel_unneeded()
        self.experiments_part.propose()
        if self.state == "running":
            if self.waiting:  # waiting for space or crucibles: a person may have made some
                self._sync_positions(correct=False)
            self.furnaces.assign_furnaces()
            self.furnaces.admit()
            if self.campaign.dose_watch:
                self.recovery.watch_doses(self.port.lab_state())
            busy = self.router.dispatch(self._launch)
            self.furnaces.heat(busy, self._launch)
        self.recovery.check_overruns()
        self._wait_for_outcomes(progress_of.next_wait(self.campaign, self.config))
        self._check_stall()
        finished = self.finished
        if finished != self._marked_finished:
            self._marked_finished = finished
            if finished:
                self.campaign.work.set_campaign(status="finished", sim_end=self.port.now(), wall_end=_wall())
                self.campaign.event("campaign", "every target is settled: campaign finished")
            else:
                self.campaign.work.set_campaign(status="running", sim_end=None, wall_end=None)
        self._report_progress()

    def progress(self) -> Progress:
        return progress_of.progress(self.campaign)

    # ------------------------------------------------------------------ the unit of work and the lab

    def _flush(self) -> None:
        """Write everything the parts marked since the last flush, in one transaction."""
        self.campaign.work.flush(self.store)

    def _launch(self, op: OpRecord) -> None:
        """Write-ahead: record the intent (and all it depends on), then send the goal."""
        campaign = self.campaign
        if op.station in campaign.unavailable:
            # Held: proposed again once the station is back (nothing recorded yet). It holds no resource
            # meanwhile (the router and furnaces mark op.resources busy after launch), so other samples
            # may use the arms and positions it would have needed.
            op.resources = ()
            return
        op.estimate_s = float(self.port.estimate_s(op))
        op.intended_s = self.port.now()
        campaign.work.add(op)
        if op.action == "heat":
            batch = campaign.batches[op.batch_id]
            batch.state, batch.heat_started_s = HEATING, op.intended_s
            campaign.changed(batch)
        self._flush()
        campaign.ops[op.id] = op
        self.port.start(op)
        op.state, op.started_s = "sent", self.port.now()

    def _wait_for_outcomes(self, timeout_s: float) -> None:
        """Nothing decided stays unwritten while the lab works; then apply each outcome."""
        self._flush()
        for completion in self.port.wait(timeout_s):
            self._complete(completion)

    def _complete(self, completion: Completion) -> None:
        op = self.campaign.ops.pop(completion.op_id, None)
        if op is None:
            return
        op.started_s = completion.started_s if completion.started_s is not None else op.started_s
        op.ended_s = completion.ended_s if completion.ended_s is not None else self.port.now()
        if not completion.known:
            self.recovery.lost(op, completion)
            return
        self.outcomes.record(op, completion)

    def _recover(self, pending_ops: list[OpRecord]) -> None:
        """Reconcile the reloaded records with the lab before doing anything new."""
        self.recovery.adopt(pending_ops)
        # Outcomes of adopted goals arrive through wait(); collect those the lab answers at once.
        self._wait_for_outcomes(0.0)
        self._sync_positions(correct=True)

    def _sync_positions(self, correct: bool) -> None:
        """Re-read the lab's position table; with correct=True our samples follow it (it is the truth)."""
        self.recovery.sync_positions(correct)

    def _report_progress(self) -> None:
        progress_of.report_waits(self.campaign)
        self._flush()  # what the progress says is on record
        if self.on_progress is not None:
            self.on_progress(self.progress())

    # ------------------------------------------------------------------ commands

    def _apply_commands(self) -> None:
        campaign = self.campaign
        while True:
            try:
                command, value = self._commands.get_nowait()
            except queue.Empty:
                return
            if command == "submit":
                self.experiments_part.add_targets(value)
            elif command == "pause":
                campaign.paused, campaign.pause_reason = True, str(value)
                campaign.event("pause", f"campaign paused: {value}")
            elif command == "resume" and campaign.paused:
                campaign.paused, campaign.pause_reason = False, ""
                campaign.event("resume", "campaign resumed")
                self._sync_positions(correct=True)

    # ------------------------------------------------------------------ suspenders

    def _check_conditions(self) -> None:
        """Bluesky-style suspenders: suspend on a tripped condition, resume once it stays clear."""
        campaign = self.campaign
        state = self.port.lab_state()
        reasons = []
        if state.estop:
            reasons.append(f"e-stop engaged ({state.estop_reason or 'no reason given'})")
        unavailable: dict[str, str] = {}
        for station in state.stations.values():
            # A station the lab cannot reach (no heartbeat) or that is coming back after its process died
            # holds only its own work; the rest of the lab goes on (issue 19; ADR 0102).
            if not station.alive:
                unavailable[station.name] = "no heartbeat: link or process lost"
                continue  # its last status is stale
            if station.mode == StationMode.INACTIVE and not state.estop and self._lab_was_up:
                unavailable[station.name] = f"not active ({station.lifecycle or 'unknown'}): restarting"
                continue
            if station.mode == StationMode.FAULT:
                reasons.append(f"station {station.name} in fault: {station.message}")
            elif station.mode == StationMode.PAUSED:
                reasons.append(f"station {station.name} paused")
            elif station.mode == StationMode.INACTIVE and not state.estop:
                reasons.append(f"station {station.name} not active ({station.lifecycle})")
            for furnace in station.furnaces:
                if furnace.door_fault:
                    reasons.append(f"{furnace.name} door fault")
        if not any(station.mode == StationMode.INACTIVE for station in state.stations.values()):
            self._lab_was_up = True
        self._set_unavailable(unavailable)
        self.recovery.watch_heats(state)
        self.recovery.watch_mills(state)
        held = {op.goal.get("labware_id") for op in self.ops.values()}
        if any(in_gripper(p) and labware not in held for p, labware in self.occupied.items()):
            # our copy of the table may be from the middle of a transfer (or a technician has confirmed the
            # crucible's place since): look again before calling it left behind
            self._sync_positions(correct=False)
        for position, labware in self.occupied.items():
            if in_gripper(position) and labware not in held:
                reasons.append(f"{labware} left in {position}: place it and confirm with transfer/set_position")
        now = self.port.now()
        if campaign.unavailable and not reasons:
            self._unavailable_limit(now)
        if reasons:
            if reasons != campaign.suspended:
                campaign.event("suspend", "suspended: " + "; ".join(reasons))
            campaign.suspended, campaign.clear_since = reasons, None
            self._suspension_limit(reasons, now)
            return
        if campaign.suspended:
            campaign.unattended_since, campaign.suspend_hint = None, ""
            if campaign.clear_since is None:
                campaign.clear_since = now
                self._sync_positions(correct=True)
            if now - campaign.clear_since >= self.config.resume_delay_s:
                campaign.event("resume", "conditions clear: resumed (" + "; ".join(campaign.suspended) + ")")
                campaign.suspended, campaign.clear_since = [], None
                self._sync_positions(correct=True)

    def _set_unavailable(self, unavailable: dict[str, str]) -> None:
        """Record which stations are unavailable now (an event when one goes or comes back)."""
        campaign = self.campaign
        for name, why in unavailable.items():
            if name not in campaign.unavailable:
                held = sum(1 for op in self.ops.values() if op.station == name)
                campaign.event(
                    "unavailable",
                    f"station {name} unavailable ({why}): its work waits, the rest of the lab goes on "
                    f"({held} operation(s) of it in flight)",
                    station=name,
                )
        back = [name for name in campaign.unavailable if name not in unavailable]
        campaign.unavailable = unavailable
        for name in unavailable:
            campaign.unavailable_since.setdefault(name, (self.port.now(), _monotonic()))
        for name in back:
            campaign.unavailable_since.pop(name, None)
            campaign.event("available", f"station {name} available again", station=name)
        if back and not unavailable and not campaign.suspended:
            campaign.suspend_hint = ""
        if self.cell.transfer in back:
            self._sync_positions(correct=True)  # the table may have changed while it was out of reach

    def _unavailable_limit(self, now: float) -> None:
        """A station that does not come back ends the campaign like a suspension (ADR 0115).

        Its work waits meanwhile; the station unavailable longest counts, from when it was lost.
        """
        campaign = self.campaign
        name = min(campaign.unavailable, key=lambda n: campaign.unavailable_since.get(n, (now, 0.0))[1])
        since = campaign.unavailable_since.get(name, (now, _monotonic()))
        if _monotonic() - since[1] < UNAVAILABLE_GRACE_WALL_S:
            return  # a respawn takes seconds of wall time, hours of a fast lab clock: not counted yet
        reasons = [f"station {s} unavailable ({why}): its work waits" for s, why in campaign.unavailable.items()]
        self._suspension_limit(reasons, now, kind="unavailable", since=since)

    def _suspension_limit(
        self, reasons: list[str], now: float, kind: str = "suspended", since: tuple[float, float] | None = None
    ) -> None:
        """Nobody at the lab: abort a halt that outlasts the limit; somebody there: wait for them.

        kind: "suspended" (a suspender tripped), "stalled" (nothing in flight and nothing can start) or
        "unavailable" (a station lost since `since`, lab and wall time, has not come back).
        """
        campaign, config = self.campaign, self.config
        what = {
            "suspended": "clear the cause, then Reset in the dashboard (or call the lab/reset service)",
            "unavailable": "bring the station back (its process, computer or network link)",
        }.get(kind, "a person must act (see the reasons) in the dashboard")
        if self.attended():
            if since is None:
                campaign.unattended_since = None
            campaign.suspend_hint = f"waiting for the technician at the dashboard: {what}"
            return
        wall = _monotonic()
        if since is None:
            if campaign.unattended_since is None:
                campaign.unattended_since = (now, wall)
            if not self._lab_was_up:  # the lab is starting: only wall time counts
                campaign.unattended_since = (now, campaign.unattended_since[1])
            since = campaign.unattended_since
        sim_left = config.suspend_limit_sim_s - (now - since[0])
        wall_left = config.suspend_limit_wall_s - (wall - since[1])
        limits = []
        if config.suspend_limit_sim_s > 0:
            limits.append((sim_left, f"{config.suspend_limit_sim_s / 3600:g} h of lab time"))
        if config.suspend_limit_wall_s > 0:
            limits.append((wall_left, f"{config.suspend_limit_wall_s / 60:g} min of wall time"))
        if not limits:
            campaign.suspend_hint = f"nobody at the lab (no dashboard open): {what}"
            return
        if any(left <= 0 for left, _ in limits):
            limit = next(text for left, text in limits if left <= 0)
            self._abort(f"{kind} for {limit} with nobody at the lab: " + "; ".join(reasons))
            return
        parts = []
        if config.suspend_limit_wall_s > 0:
            parts.append(f"{max(wall_left, 0) / 60:.0f} min")
        if config.suspend_limit_sim_s > 0:
            parts.append(f"{max(sim_left, 0) / 3600:.1f} h of lab time")
        campaign.suspend_hint = f"{what}; aborting in {' or '.join(parts)} (whichever first) if nobody does"

    def _check_stall(self) -> None:
        """Running, nothing in flight, nothing started for STALL_AFTER_S of lab time: a person must act."""
        campaign = self.campaign
        now = self.port.now()
        # a program or mill run going on after its station restarted is followed, not a stall; a station
        # unavailable has its own limit (_unavailable_limit)
        watched = campaign.heat_watch or campaign.mill_watch or campaign.dose_watch or campaign.unavailable
        followed = bool(self.ops or watched)
        if followed or self.state != "running" or self.finished or not self.targets:  # no targets: nothing to do
            if campaign.idle_since is not None and not campaign.suspended:
                campaign.unattended_since = None
                if not campaign.unavailable:
                    campaign.suspend_hint = ""
            campaign.idle_since = None
            return
        if campaign.idle_since is None:
            campaign.idle_since = now
        if now - campaign.idle_since < STALL_AFTER_S:
            return
        stuck = [f"{s.id} {s.status} at {s.location or 'no position'}" for s in self.samples.values() if not s.closed]
        reasons = sorted(set(self.waiting.values())) or [
            "stalled: nothing in flight and nothing can start (" + ("; ".join(stuck[:5]) or "no open sample") + ")"
        ]
        self._suspension_limit(reasons, now, kind="stalled")

    def _abort(self, reason: str) -> None:
        """End the campaign here: the records stay as they are (operations in flight finish in the lab)."""
        self.campaign.aborted = reason
        self.campaign.work.set_campaign(status="aborted", sim_end=self.port.now(), wall_end=_wall())
        self.campaign.event("abort", f"campaign aborted: {reason}")


def _wall() -> float:
    return time.time()


def _monotonic() -> float:
    return time.monotonic()
