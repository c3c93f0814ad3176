"""The campaign engine: targets -> recipes -> samples -> operations, many in flight, restartable.

One engine drives the lab through a LabPort (in process or over ROS). Every loop it:
1. applies commands (submit targets, pause, resume) queued from other threads;
2. checks the suspenders (e-stop, station fault, furnace door fault, labware left in a gripper);
3. analyses measured samples and tells the planner; asks the planner for the next recipes;
4. unless paused or suspended: gives queued furnace batches a free furnace, admits experiments
   (a fresh crucible and a reservation in a batch of the same heating profile), and starts the
   next step of every sample whose resources are free;
5. waits for outcomes and records them.

Every decision is recorded before it is acted on (docs/decisions/0060-write-ahead-of-intent.md):
an experiment before its sample, a sample before its crucible moves, an operation before its
goal is sent; the result after. On start the engine reloads its records and reconciles them with
the lab (goal results by goal id, the position table) before doing anything new.

Deadlock freedom: a sample is admitted only with a reservation in a furnace batch; it moves to
the staging rack (buffer) only while a buffer slot stays free for unloading; a furnace is
unloaded to the done rack (or the spare buffer slot) before it takes the next batch. The one
stall left is a full done rack, which needs a person: it is reported as a waiting reason.
"""

from __future__ import annotations

import logging
import queue
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from powderlab.autonomy.cell import CellModel
from powderlab.autonomy.model import (
    TERMINAL_TARGET,
    AnalysisResult,
    Attempt,
    ExperimentStatus,
    Progress,
    SampleProgress,
    Target,
    TargetStatus,
    slug,
)
from powderlab.autonomy.policy import FailureKind, classify
from powderlab.autonomy.port import Completion, LabPort
from powderlab.autonomy.protocols import Analyzer, Planner
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
    TargetRecord,
)
from powderlab.autonomy.store import Store
from powderlab.core.errors import ErrorCode, PowderLabError
from powderlab.core.samples import SampleStatus
from powderlab.core.xrd import XrdPattern
from powderlab.stations.base import StationMode

log = logging.getLogger(__name__)

OPEN_EXPERIMENT = (ExperimentStatus.PLANNED, ExperimentStatus.RUNNING)
FAILED_SAMPLE = frozenset({SampleStatus.FAILED, SampleStatus.DISCARDED})
DONE_SAMPLE = frozenset({SampleStatus.MEASURED, SampleStatus.ANALYSED})
# Running with nothing in flight and nothing started this long (lab seconds): stalled (a person must act).
STALL_AFTER_S = 3600.0
# A lab clock this far behind the campaign's records is another (restarted) lab, not this one.
CLOCK_SLACK_S = 1.0


@dataclass
class CampaignConfig:
    """Knobs of a campaign (all times in lab-clock seconds)."""

    campaign_id: str
    name: str = ""
    seed: int = 0
    success_yield: float = 0.5
    in_flight_per_target: int = 1
    max_retries: int = 4
    retry_delay_s: float = 300.0
    batch_wait_s: float = 1800.0
    max_samples_per_experiment: int = 2
    staging_reserve: int = 1
    max_admitted: int | None = None
    tick_s: float = 600.0
    overrun_factor: float = 1.5
    overrun_margin_s: float = 300.0
    resume_delay_s: float = 60.0
    # The stations keep a finished goal's result this long (their result_keep_s, lab seconds): a
    # younger goal they do not know never reached them.
    result_keep_s: float = 86400.0
    # Nobody at the lab: a suspension that has not cleared after this much wall time (seconds) or
    # lab time (seconds), whichever comes first, aborts the campaign. 0: no limit of that kind.
    suspend_limit_wall_s: float = 1800.0
    suspend_limit_sim_s: float = 43200.0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


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
        self.targets: dict[str, TargetRecord] = {}
        self.experiments: dict[str, ExperimentRecord] = {}
        self.samples: dict[str, SampleRecord] = {}
        self.batches: dict[str, BatchRecord] = {}
        self.ops: dict[str, OpRecord] = {}
        self.occupied: dict[str, str] = {}  # position -> labware id (mirror of the lab's table)
        self.used_labware: set[str] = set()
        self.patterns: dict[str, XrdPattern] = {}
        self.waiting: dict[str, str] = {}
        self.paused = False
        self.pause_reason = ""
        self.suspended: list[str] = []
        self._clear_since: float | None = None
        # Since when (lab time, wall time) a suspension has gone unattended; None: not counting.
        self._unattended_since: tuple[float, float] | None = None
        self._idle_since: float | None = None  # lab time since which nothing has been in flight
        # Every station has been active since open(): until then "not active" is the lab starting
        # (40-80 s of wall time on a loaded machine, days of lab time at 2000x), not a fault.
        self._lab_was_up = False
        self.suspend_hint = ""
        self.aborted = ""  # why the campaign was aborted; empty while it runs
        self._commands: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._ask: set[str] = set()
        self._seq = {"sample": 0, "batch": 0, "target": 0}
        self._reported_waits: set[str] = set()
        self.opened = False
        self._marked_finished = False
        self.sim_start = 0.0
        capacities = {len(slots) for slots in cell.furnaces.values()}
        self.batch_capacity = min(capacities)
        self.max_admitted = config.max_admitted or (len(cell.buffer) - config.staging_reserve + 2)

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
        if self.aborted:
            return "aborted"
        if self.finished:
            return "finished"
        if self.paused:
            return "paused"
        if self.suspended:
            return "suspended"
        return "running"

    @property
    def finished(self) -> bool:
        if not self.opened or self.ops or not self.targets:
            return False
        if any(t.status not in TERMINAL_TARGET for t in self.targets.values()):
            return False
        if any(e.status in OPEN_EXPERIMENT for e in self.experiments.values()):
            return False
        return all(s.closed and (s.analysed or s.status is not SampleStatus.MEASURED) for s in self.samples.values())

    def open(self, initial_targets: Sequence[Target] = ()) -> None:
        """Create the campaign's records, or reload them and reconcile with the lab (recovery).

        A new campaign and its initial targets are written in one transaction: a crash
        between the two would leave a resumable campaign with no (or only some) targets.
        On resume, initial_targets are ignored (the stored ones are the truth).
        """
        now = self.port.now()
        existing = self.store.campaign(self.cid)
        if existing is None:
            self.config.extra.update(
                planner=self.planner.name,
                analyzer=self.analyzer.name,
                furnace_slots=sum(len(slots) for slots in self.cell.furnaces.values()),
            )
            with self.store.atomic():
                self.store.create_campaign(
                    self.cid, self.config.name or self.cid, self.config.seed, self.config.to_dict(), now
                )
                self._event(
                    "campaign",
                    f"campaign {self.cid} created (planner: {self.planner.name}, analyzer: {self.analyzer.name})",
                )
                self._add_targets(list(initial_targets))
            self.sim_start = now
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
            self.sim_start = existing["sim_start"] or now
            self._marked_finished = existing["status"] == "finished"
            self._reload()
            if existing["status"] == "aborted":
                self.store.set_campaign(self.cid, status="running", sim_end=None, wall_end=None)
                self._event("campaign", "an aborted campaign opened again: it runs again")
            self._recover()
        self.opened = True

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
                self._event("campaign", f"stopped after {max_sim_s:g} s of lab time (limit)")
                break

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
        self._analyse_pending()
        self._cancel_unneeded()
        self._propose()
        if self.state == "running":
            if self.waiting:  # waiting for space or crucibles: a person may have made some
                self._sync_positions(correct=False)
            self._assign_furnaces()
            self._admit()
            self._dispatch()
        self._check_overruns()
        for completion in self.port.wait(self._next_wait()):
            self._complete(completion)
        self._check_stall()
        finished = self.finished
        if finished != self._marked_finished:
            self._marked_finished = finished
            if finished:
                self.store.set_campaign(self.cid, status="finished", sim_end=self.port.now(), wall_end=_wall())
                self._event("campaign", "every target is settled: campaign finished")
            else:
                self.store.set_campaign(self.cid, status="running", sim_end=None, wall_end=None)
        self._report_progress()

    def progress(self) -> Progress:
        targets = list(self.targets.values())
        done_experiments = [e for e in self.experiments.values() if e.status not in OPEN_EXPERIMENT]
        now = self.port.now()
        progress = Progress(
            campaign=self.cid,
            state=self.state,
            reasons=([self.aborted] if self.aborted else [])
            + list(self.suspended)
            + ([self.suspend_hint] if self.suspend_hint else [])
            + ([self.pause_reason] if self.paused else [])
            + sorted(set(self.waiting.values())),
            targets_total=len(targets),
            targets_made=sum(t.status is TargetStatus.MADE for t in targets),
            targets_failed=sum(t.status in (TargetStatus.EXHAUSTED, TargetStatus.GAVE_UP) for t in targets),
            targets_active=sum(t.status not in TERMINAL_TARGET for t in targets),
            experiments_done=len(done_experiments),
            experiments_planned=len(self.experiments),
            targets=[t.target.formula for t in sorted(targets, key=lambda t: t.seq)],
            samples_total=len(self.samples),
            samples_done=sum(s.status in DONE_SAMPLE for s in self.samples.values()),
            samples_failed=sum(s.status in FAILED_SAMPLE for s in self.samples.values()),
            samples_in_flight=sum(not s.closed for s in self.samples.values()),
            samples=self._sample_rows(),
            operations_in_flight=len(self.ops),
            sim_time_s=now,
            sim_elapsed_s=now - self.sim_start,
        )
        elapsed = now - self.sim_start
        if done_experiments and progress.targets_active and elapsed > 0:
            settled = progress.targets_made + progress.targets_failed
            per_target = len(done_experiments) / max(settled, 1) if settled else 2.0
            remaining = max(progress.targets_active * per_target - progress.samples_in_flight / 2, 1.0)
            progress.eta_s = remaining * elapsed / len(done_experiments)
        elif not progress.targets_active and progress.targets_total:
            progress.eta_s = 0.0
        return progress

    def _sample_rows(self, limit: int = 50) -> list[SampleProgress]:
        """Samples in flight first, then the most recently finished ones (the dashboard's list)."""
        working: dict[str, OpRecord] = {}
        for op in self.ops.values():
            for sample in self.samples.values():
                if not sample.closed and (
                    sample.id == op.sample_id or (op.batch_id and sample.batch_id == op.batch_id)
                ):
                    working.setdefault(sample.id, op)
        open_samples = [s for s in self.samples.values() if not s.closed]
        closed = sorted((s for s in self.samples.values() if s.closed), key=lambda s: -(s.finished_s or 0.0))
        rows = []
        for sample in (open_samples + closed)[:limit]:
            experiment = self.experiments[sample.experiment_id]
            op = working.get(sample.id)
            if sample.status in FAILED_SAMPLE:
                state = "failed"
            elif sample.closed:
                state = "done"
            else:
                state = "queued" if op is None and sample.status is SampleStatus.PLANNED else "running"
            rows.append(
                SampleProgress(
                    sample_id=sample.id,
                    target=self.targets[experiment.target_id].target.formula,
                    recipe_id=experiment.id,
                    state=state,
                    stage=op.action if op else str(sample.status),
                    station=op.station if op else "",
                    target_yield=-1.0 if experiment.target_yield is None else float(experiment.target_yield),
                )
            )
        return rows

    # ------------------------------------------------------------------ records

    def _event(self, kind: str, message: str, sample_id: str = "", op_id: str = "", **data: Any) -> None:
        log.info("%s: %s", kind, message)
        self.store.event(self.cid, kind, message, self.port.now(), sample_id, op_id, data)

    def _reload(self) -> None:
        records = self.store.load(self.cid)
        self.targets = {t.id: t for t in records["targets"]}
        self.experiments = {e.id: e for e in records["experiments"]}
        self.samples = {s.id: s for s in records["samples"]}
        self.batches = {b.id: b for b in records["batches"]}
        self.used_labware = {s.labware_id for s in self.samples.values() if s.labware_id}
        self._seq["sample"] = max((s.seq for s in self.samples.values()), default=0)
        self._seq["batch"] = len(self.batches)
        self._seq["target"] = max((t.seq for t in self.targets.values()), default=0)
        self._ask = {t.id for t in self.targets.values() if t.status not in TERMINAL_TARGET}
        self._pending_ops = [op for op in records["operations"] if op.state in ("intended", "sent")]

    def _recover(self) -> None:
        """Reconcile the reloaded records with the lab before doing anything new."""
        self._event("recovery", f"restarted: {len(self._pending_ops)} operations were in flight")
        for op in self._pending_ops:
            self.ops[op.id] = op
            self.port.adopt(op)
        # Outcomes of adopted goals arrive through wait(); collect those the lab answers at once.
        for completion in self.port.wait(0.0):
            self._complete(completion)
        self._sync_positions(correct=True)

    # ------------------------------------------------------------------ commands

    def _apply_commands(self) -> None:
        while True:
            try:
                command, value = self._commands.get_nowait()
            except queue.Empty:
                return
            if command == "submit":
                self._add_targets(value)
            elif command == "pause":
                self.paused, self.pause_reason = True, str(value)
                self._event("pause", f"campaign paused: {value}")
            elif command == "resume" and self.paused:
                self.paused, self.pause_reason = False, ""
                self._event("resume", "campaign resumed")
                self._sync_positions(correct=True)

    def _add_targets(self, targets: list[Target]) -> None:
        known = {t.target.formula for t in self.targets.values()}
        for target in targets:
            if target.formula in known:
                self._event("target", f"target {target.formula} is already in the campaign; ignored")
                continue
            self._seq["target"] += 1
            record = TargetRecord(f"{self.cid}:{slug(target.formula)}", target, self._seq["target"])
            self.store.add_target(self.cid, record)
            self.targets[record.id] = record
            self._ask.add(record.id)
            known.add(target.formula)
            self._event(
                "target", f"target {target.formula} submitted (priority {target.priority}, budget {target.budget})"
            )

    # ------------------------------------------------------------------ suspenders

    def _check_conditions(self) -> None:
        """Bluesky-style suspenders: suspend on a tripped condition, resume once it stays clear."""
        state = self.port.lab_state()
        reasons = []
        if state.estop:
            reasons.append(f"e-stop engaged ({state.estop_reason or 'no reason given'})")
        for station in state.stations.values():
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
        held = {op.goal.get("labware_id") for op in self.ops.values()}
        if any(p.endswith("/gripper") and labware not in held for p, labware in self.occupied.items()):
            # our copy of the table may be from the middle of a transfer (or a technician has confirmed the
            # crucible's place since): look again before calling it left behind
            self._sync_positions(correct=False)
        for position, labware in self.occupied.items():
            if position.endswith("/gripper") and labware not in held:
                reasons.append(f"{labware} left in {position}: place it and confirm with transfer/set_position")
        now = self.port.now()
        if reasons:
            if reasons != self.suspended:
                self._event("suspend", "suspended: " + "; ".join(reasons))
            self.suspended, self._clear_since = reasons, None
            self._suspension_limit(reasons, now)
            return
        if self.suspended:
            self._unattended_since, self.suspend_hint = None, ""
            if self._clear_since is None:
                self._clear_since = now
                self._sync_positions(correct=True)
            if now - self._clear_since >= self.config.resume_delay_s:
                self._event("resume", "conditions clear: resumed (" + "; ".join(self.suspended) + ")")
                self.suspended, self._clear_since = [], None
                self._sync_positions(correct=True)

    def _suspension_limit(self, reasons: list[str], now: float, kind: str = "suspended") -> None:
        """Nobody at the lab: abort a halt that outlasts the limit; somebody there: wait for them.

        kind: "suspended" (a suspender tripped) or "stalled" (nothing in flight and nothing can start).
        """
        config = self.config
        what = (
            "clear the cause, then Reset in the dashboard (or call the lab/reset service)"
            if kind == "suspended"
            else "a person must act (see the reasons) in the dashboard"
        )
        if self.attended():
            self._unattended_since = None
            self.suspend_hint = f"waiting for the technician at the dashboard: {what}"
            return
        wall = _monotonic()
        if self._unattended_since is None:
            self._unattended_since = (now, wall)
        if not self._lab_was_up:  # the lab is starting: only wall time counts
            self._unattended_since = (now, self._unattended_since[1])
        sim_left = config.suspend_limit_sim_s - (now - self._unattended_since[0])
        wall_left = config.suspend_limit_wall_s - (wall - self._unattended_since[1])
        limits = []
        if config.suspend_limit_sim_s > 0:
            limits.append((sim_left, f"{config.suspend_limit_sim_s / 3600:g} h of lab time"))
        if config.suspend_limit_wall_s > 0:
            limits.append((wall_left, f"{config.suspend_limit_wall_s / 60:g} min of wall time"))
        if not limits:
            self.suspend_hint = f"nobody at the lab (no dashboard open): {what}"
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
        self.suspend_hint = f"{what}; aborting in {' or '.join(parts)} (whichever first) if nobody does"

    def _check_stall(self) -> None:
        """Running, nothing in flight, nothing started for STALL_AFTER_S of lab time: a person must act."""
        now = self.port.now()
        if self.ops or self.state != "running" or self.finished or not self.targets:  # no targets: nothing to do
            if self._idle_since is not None and not self.suspended:
                self._unattended_since, self.suspend_hint = None, ""
            self._idle_since = None
            return
        if self._idle_since is None:
            self._idle_since = now
        if now - self._idle_since < STALL_AFTER_S:
            return
        stuck = [f"{s.id} {s.status} at {s.location or 'no position'}" for s in self.samples.values() if not s.closed]
        reasons = sorted(set(self.waiting.values())) or [
            "stalled: nothing in flight and nothing can start (" + ("; ".join(stuck[:5]) or "no open sample") + ")"
        ]
        self._suspension_limit(reasons, now, kind="stalled")

    def _abort(self, reason: str) -> None:
        """End the campaign here: the records stay as they are (operations in flight finish in the lab)."""
        self.aborted = reason
        self.store.set_campaign(self.cid, status="aborted", sim_end=self.port.now(), wall_end=_wall())
        self._event("abort", f"campaign aborted: {reason}")

    # ------------------------------------------------------------------ positions

    def _sync_positions(self, correct: bool) -> None:
        """Re-read the lab's position table; with correct=True our samples follow it (it is the truth)."""
        table = self.port.positions()
        self.occupied = {name: p.labware.labware_id for name, p in table.items() if p.labware is not None}
        if not correct:
            return
        where = {labware: name for name, labware in self.occupied.items()}
        busy = {op.sample_id for op in self.ops.values()}
        for sample in self.samples.values():
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
                sample.finished_s = self.port.now()
                self.store.save_sample(sample)
                self._event(
                    "inventory",
                    f"{sample.labware_id} of {sample.id} is not in the position table: sample closed as lost",
                    sample.id,
                )
                self._sample_failed_followup(sample, redo=True)
                continue
            self._event(
                "inventory",
                f"{sample.id}: position table says {found}, records said "
                f"{sample.location or 'nothing'}; following the table",
                sample.id,
            )
            sample.location = found
            self.store.save_sample(sample)

    def _free(self, positions: Sequence[str], busy: set[str]) -> list[str]:
        return [p for p in positions if p not in self.occupied and f"pos:{p}" not in busy]

    # ------------------------------------------------------------------ analysis and planning

    def _analyse_pending(self) -> None:
        for sample in self.samples.values():
            if sample.status is not SampleStatus.MEASURED or sample.analysed:
                continue
            experiment = self.experiments[sample.experiment_id]
            target = self.targets[experiment.target_id].target
            pattern = self.patterns.pop(sample.id, None) or self.store.pattern(sample.id)
            if pattern is None:
                continue
            try:
                analysis = self.analyzer.analyze(pattern, target.formula, target.elements, recipe=experiment.recipe)
            except Exception as error:  # an analysis bug must not stop the lab
                log.exception("analysis of %s failed", sample.id)
                with self.store.atomic():
                    sample.analysed = True
                    self.store.save_sample(sample)
                    self._experiment_failed(experiment, f"analysis failed: {error!r}")
                continue
            self._record_analysis(sample, experiment, analysis)
            if self.on_analysis is not None:
                self.on_analysis(sample.id, analysis)

    def _record_analysis(self, sample: SampleRecord, experiment: ExperimentRecord, analysis: AnalysisResult) -> None:
        with self.store.atomic():
            self.store.add_analysis(self.cid, sample.id, experiment.id, analysis, self.port.now())
            sample.analysed = True
            sample.status = SampleStatus.ANALYSED if sample.closed else sample.status
            self.store.save_sample(sample)
            experiment.status = ExperimentStatus.ANALYSED
            experiment.target_yield = float(analysis.target_yield)
            experiment.finished_s = self.port.now()
            self.store.save_experiment(experiment)
            target = self.targets[experiment.target_id]
            if analysis.target_yield >= self.config.success_yield and target.status is not TargetStatus.MADE:
                target.status, target.made_by = TargetStatus.MADE, experiment.id
                self.store.save_target(target)
            self._event(
                "analysis",
                f"{experiment.id}: {target.target.formula} yield {analysis.target_yield:.0%} ({analysis.analyzer})",
                sample.id,
            )
        self._experiment_ended(experiment)

    def _attempt(self, experiment: ExperimentRecord) -> Attempt:
        return Attempt(
            experiment.id,
            experiment.attempt,
            experiment.recipe,
            experiment.status,
            experiment.target_yield,
            failure=experiment.failure,
            reason=experiment.reason,
        )

    def _history(self, target_id: str) -> list[Attempt]:
        return [self._attempt(e) for e in self.experiments.values() if e.target_id == target_id]

    def _experiment_ended(self, experiment: ExperimentRecord) -> None:
        target = self.targets[experiment.target_id]
        try:
            self.planner.report(target.target, self._attempt(experiment))
        except Exception:  # the planner's bookkeeping must not stop the lab
            log.exception("planner.report failed for %s", experiment.id)
        self._ask.add(target.id)
        self._settle_target(target)

    def _settle_target(self, target: TargetRecord) -> None:
        if target.status in TERMINAL_TARGET:
            return
        mine = [e for e in self.experiments.values() if e.target_id == target.id]
        running = [e for e in mine if e.status in OPEN_EXPERIMENT]
        if not running and len(mine) >= target.target.budget:
            target.status = TargetStatus.EXHAUSTED
            self.store.save_target(target)
            self._event("target", f"{target.target.formula}: budget of {target.target.budget} experiments spent")

    def _cancel_unneeded(self) -> None:
        """Experiments of a made target that have nothing in the lab are not run any more."""
        open_samples = {s.experiment_id for s in self.samples.values() if not s.closed}
        for experiment in self.experiments.values():
            if experiment.status not in OPEN_EXPERIMENT or experiment.id in open_samples:
                continue
            target = self.targets[experiment.target_id]
            if target.status is not TargetStatus.MADE:
                continue
            experiment.status, experiment.finished_s = ExperimentStatus.CANCELLED, self.port.now()
            experiment.failure = f"not run: {target.target.formula} was made by {target.made_by}"
            self.store.save_experiment(experiment)
            self._event("experiment", f"{experiment.id} cancelled ({experiment.failure})")

    def _propose(self) -> None:
        for target_id in sorted(self._ask, key=lambda t: self.targets[t].seq):
            target = self.targets[target_id]
            self._ask.discard(target_id)
            if target.status in TERMINAL_TARGET:
                continue
            mine = [e for e in self.experiments.values() if e.target_id == target_id]
            running = [e for e in mine if e.status in OPEN_EXPERIMENT]
            while len(running) < self.config.in_flight_per_target and len(mine) < target.target.budget:
                try:
                    proposal = self.planner.next_recipe(target.target, self._history(target_id))
                except Exception as error:
                    log.exception("planner failed for %s", target.target.formula)
                    self._event("planner", f"{target.target.formula}: planner error {error!r}")
                    proposal = None
                if proposal is None:
                    if not running:
                        target.status = TargetStatus.GAVE_UP
                        self.store.save_target(target)
                        self._event("target", f"{target.target.formula}: the planner has no further recipe")
                    break
                experiment = ExperimentRecord(
                    f"{target_id}#{len(mine) + 1}",
                    target_id,
                    len(mine) + 1,
                    proposal.recipe,
                    proposal.reason,
                    created_s=self.port.now(),
                )
                with self.store.atomic():
                    self.store.add_experiment(self.cid, experiment)
                    if target.status is TargetStatus.PENDING:
                        target.status = TargetStatus.ACTIVE
                        self.store.save_target(target)
                self.experiments[experiment.id] = experiment
                mine.append(experiment)
                running.append(experiment)
                self._event("proposal", f"{experiment.id}: {proposal.recipe.recipe_id} ({proposal.reason})")

    # ------------------------------------------------------------------ batches and admission

    def _members(self, batch: BatchRecord, include_failed: bool = False) -> list[SampleRecord]:
        return [
            s
            for s in self.samples.values()
            if s.batch_id == batch.id and not s.closed and (include_failed or s.status is not SampleStatus.FAILED)
        ]

    def _furnace_busy(self, furnace: str) -> bool:
        if any(b.furnace == furnace and b.state in (FILLING, HEATING, HEATED) for b in self.batches.values()):
            return True
        return any(slot in self.occupied for slot in self.cell.furnaces[furnace])

    def _assign_furnaces(self) -> None:
        queued = sorted(
            (b for b in self.batches.values() if b.state == QUEUED),
            key=lambda b: (-self._batch_priority(b), b.created_s, b.id),
        )
        for furnace in self.cell.furnaces:
            if not queued:
                return
            if self._furnace_busy(furnace):
                continue
            batch = queued.pop(0)
            batch.state, batch.furnace = FILLING, furnace
            self.store.save_batch(batch)
            self._event("batch", f"{batch.id} fills {furnace} ({len(self._members(batch))} reserved)")

    def _batch_priority(self, batch: BatchRecord) -> int:
        members = self._members(batch)
        return max((self._priority(s) for s in members), default=0)

    def _priority(self, sample: SampleRecord) -> int:
        experiment = self.experiments[sample.experiment_id]
        return self.targets[experiment.target_id].target.priority

    def _pending_experiments(self) -> list[ExperimentRecord]:
        """Experiments that need a (new) sample."""
        open_by_experiment = {s.experiment_id for s in self.samples.values() if not s.closed}
        made = {}
        for sample in self.samples.values():
            made[sample.experiment_id] = made.get(sample.experiment_id, 0) + 1
        pending = [
            e
            for e in self.experiments.values()
            if e.status in OPEN_EXPERIMENT
            and e.id not in open_by_experiment
            and made.get(e.id, 0) < self.config.max_samples_per_experiment
            and self.targets[e.target_id].status is not TargetStatus.MADE
        ]
        pending.sort(key=lambda e: (-self.targets[e.target_id].target.priority, e.created_s, e.id))
        return pending

    def _fresh_crucibles(self) -> list[tuple[str, str]]:
        return [
            (position, self.occupied[position])
            for position in self.cell.storage
            if position in self.occupied and self.occupied[position] not in self.used_labware
        ]

    def _admit(self) -> None:
        pending = self._pending_experiments()
        self.waiting.pop("crucibles", None)
        if not pending:
            return
        ahead = [
            s
            for s in self.samples.values()
            if not s.closed
            and s.status is not SampleStatus.FAILED
            and not self.cell.furnace_of(s.location)
            and s.status in (SampleStatus.PLANNED, SampleStatus.DOSED, SampleStatus.MILLED)
        ]
        fresh = self._fresh_crucibles()
        busy = self._busy()
        fresh = [(p, lw) for p, lw in fresh if f"pos:{p}" not in busy]
        if not fresh:
            self.waiting["crucibles"] = "no clean crucible left in storage: refill it"
            return
        while pending and fresh and len(ahead) < self.max_admitted:
            choice = self._choose_admission(pending)
            if choice is None:
                return
            experiment, batch = choice
            pending.remove(experiment)
            position, labware = fresh.pop(0)
            self._seq["sample"] += 1
            sample = SampleRecord(
                f"{self.cid}-S{self._seq['sample']:04d}",
                experiment.id,
                self._seq["sample"],
                labware,
                SampleStatus.PLANNED,
                position,
                batch.id,
                created_s=self.port.now(),
            )
            with self.store.atomic():
                if batch.id not in self.batches:
                    self.store.add_batch(self.cid, batch)
                    self.batches[batch.id] = batch
                self.store.add_sample(self.cid, sample)
                experiment.status = ExperimentStatus.RUNNING
                self.store.save_experiment(experiment)
            self.samples[sample.id] = sample
            self.used_labware.add(labware)
            ahead.append(sample)
            self._event("admit", f"{sample.id} for {experiment.id} in {labware} ({batch.id})", sample.id)

    def _choose_admission(self, pending: list[ExperimentRecord]) -> tuple[ExperimentRecord, BatchRecord] | None:
        open_batches = [
            b
            for b in self.batches.values()
            if b.state in (QUEUED, FILLING) and not b.closed and len(self._members(b)) < b.capacity
        ]
        open_batches.sort(key=lambda b: (b.state != FILLING, b.created_s, b.id))
        for batch in open_batches:
            for experiment in pending:
                if experiment.profile_key == batch.key:
                    return experiment, batch
        unsettled = [b for b in self.batches.values() if b.state in (QUEUED, FILLING) and not b.closed]
        if len(unsettled) >= len(self.cell.furnaces):
            return None
        groups: dict[str, list[ExperimentRecord]] = {}
        for experiment in pending:
            groups.setdefault(experiment.profile_key, []).append(experiment)

        def score(key: str) -> tuple[int, int, float]:
            members = groups[key]
            top = max(self.targets[e.target_id].target.priority for e in members)
            return (-top, -len(members), min(e.created_s for e in members))

        key = min(groups, key=score)
        experiment = groups[key][0]
        self._seq["batch"] += 1
        batch = BatchRecord(
            f"{self.cid}-B{self._seq['batch']:03d}",
            experiment.recipe.heating,
            self.batch_capacity,
            created_s=self.port.now(),
        )
        return experiment, batch

    # ------------------------------------------------------------------ dispatch

    def _busy(self) -> set[str]:
        busy: set[str] = set()
        for op in self.ops.values():
            busy.update(op.resources)
        return busy

    def _dispatch(self) -> None:
        now = self.port.now()
        busy = self._busy()
        in_ops = {op.sample_id for op in self.ops.values()}
        for key in ("done", "parking", "staging"):
            self.waiting.pop(key, None)
        candidates = [s for s in self.samples.values() if not s.closed and s.id not in in_ops and s.not_before <= now]
        candidates.sort(key=lambda s: (-_stage_rank(s), -self._priority(s), s.seq))
        for sample in candidates:
            op = self._next_step(sample, busy)
            if op is not None:
                self._launch(op)
                busy.update(op.resources)
        self._heat(busy)

    def _transfer(self, sample: SampleRecord, destination: str, purpose: str) -> OpRecord:
        arm = self.cell.arm_for(sample.location, destination)
        return self._op(
            self.cell.transfer,
            "transfer",
            {
                "sample_id": sample.id,
                "labware_id": sample.labware_id,
                "source": sample.location,
                "destination": destination,
            },
            purpose,
            sample.id,
            (f"arm:{arm}", f"pos:{sample.location}", f"pos:{destination}"),
        )

    def _op(
        self,
        station: str,
        action: str,
        goal: dict[str, Any],
        purpose: str,
        sample_id: str = "",
        resources: tuple[str, ...] = (),
        batch_id: str = "",
    ) -> OpRecord:
        return OpRecord(uuid.uuid4().hex, station, action, goal, purpose, sample_id, batch_id, resources)

    def _next_step(self, sample: SampleRecord, busy: set[str]) -> OpRecord | None:
        location, cell, status = sample.location, self.cell, sample.status
        if location.endswith("/gripper") or not location:
            return None
        if status is SampleStatus.FAILED:
            return self._discard_step(sample, busy)
        if status is SampleStatus.PLANNED:
            if location in cell.storage:
                if self._free([cell.balance], busy) and not self._conflict(busy, self._arm(location, cell.balance)):
                    return self._transfer(sample, cell.balance, "to_balance")
                return None
            if location == cell.balance and "station:dosing" not in busy:
                recipe = self.experiments[sample.experiment_id].recipe
                goal = {
                    "sample_id": sample.id,
                    "labware_id": sample.labware_id,
                    "powders": [{"powder": d.powder, "target_mg": d.target_mg} for d in recipe.precursors],
                }
                return self._op(cell.dosing, "dose", goal, "dose", sample.id, ("station:dosing", f"pos:{location}"))
            return None
        if status is SampleStatus.DOSED:
            if location == cell.balance:
                if self._free([cell.clamp], busy) and not self._conflict(busy, self._arm(location, cell.clamp)):
                    return self._transfer(sample, cell.clamp, "to_mill")
                return None
            if location == cell.clamp and "station:milling" not in busy:
                milling = self.experiments[sample.experiment_id].recipe.milling
                goal = {
                    "sample_id": sample.id,
                    "labware_id": sample.labware_id,
                    "duration_s": milling.duration_s,
                    "frequency_hz": milling.frequency_hz,
                    "ball_count": milling.ball_count,
                }
                return self._op(cell.milling, "mill", goal, "mill", sample.id, ("station:milling", f"pos:{location}"))
            return None
        if status is SampleStatus.MILLED:
            batch = self.batches.get(sample.batch_id)
            if location == cell.clamp:
                free = self._free(cell.buffer, busy)
                if len(free) <= self.config.staging_reserve:
                    self.waiting["staging"] = "staging rack full: milled samples wait for furnaces"
                    return None
                if not self._conflict(busy, self._arm(location, free[0])):
                    return self._transfer(sample, free[0], "stage")
                return None
            if location in cell.buffer and batch is not None and batch.state == FILLING:
                furnace = batch.furnace
                slots = self._free(cell.furnaces[furnace], busy)
                arm = self._arm(location, slots[0]) if slots else ""
                if slots and f"furnace:{furnace}" not in busy and not self._conflict(busy, arm):
                    goal = {
                        "sample_id": sample.id,
                        "labware_id": sample.labware_id,
                        "source": location,
                        "furnace": furnace,
                        "slot": int(slots[0].rsplit("_", 1)[1]),
                    }
                    resources = (f"furnace:{furnace}", arm, f"pos:{location}", f"pos:{slots[0]}")
                    return self._op(cell.furnace_station, "load_furnace", goal, "load", sample.id, resources, batch.id)
            return None
        if status is SampleStatus.HEATED:
            furnace = cell.furnace_of(location)
            if furnace:
                return self._unload_step(sample, furnace, busy)
            if location in cell.buffer or location in cell.done:
                ready = self._free([cell.recovery], busy) and "station:xrd" not in busy
                if ready and not self._conflict(busy, self._arm(location, cell.recovery)):
                    return self._transfer(sample, cell.recovery, "to_xrd")
                return None
            if location == cell.recovery and "station:xrd" not in busy:
                scan = self.experiments[sample.experiment_id].recipe.scan
                goal = {
                    "sample_id": sample.id,
                    "labware_id": sample.labware_id,
                    "source": location,
                    "destination": "",
                    "scan": {
                        "two_theta_start_deg": scan.two_theta_start_deg,
                        "two_theta_end_deg": scan.two_theta_end_deg,
                        "step_deg": scan.step_deg,
                        "scan_time_s": scan.scan_time_s,
                    },
                }
                return self._op(cell.xrd, "measure_xrd", goal, "measure", sample.id, ("station:xrd", f"pos:{location}"))
            return None
        if status is SampleStatus.MEASURED:
            if location == cell.recovery:
                free = self._free(cell.done, busy)
                if not free:
                    self.waiting["done"] = "done rack full: empty it (a person must) to go on"
                    return None
                if not self._conflict(busy, self._arm(location, free[0])):
                    return self._transfer(sample, free[0], "store")
                return None
            if location in cell.done:
                self._close(sample, "stored")
            return None
        return None

    def _arm(self, source: str, destination: str) -> str:
        return f"arm:{self.cell.arm_for(source, destination)}"

    @staticmethod
    def _conflict(busy: set[str], *resources: str) -> bool:
        return any(r in busy for r in resources)

    def _unload_step(self, sample: SampleRecord, furnace: str, busy: set[str]) -> OpRecord | None:
        if f"furnace:{furnace}" in busy:
            return None
        recovering = sum(1 for s in self.samples.values() if not s.closed and s.location == self.cell.recovery)
        done_free = self._free(self.cell.done, busy)
        if len(done_free) > recovering:
            destination = done_free[0]
        else:
            buffer_free = self._free(self.cell.buffer, busy)
            if not buffer_free:
                self.waiting["parking"] = "no space to unload furnaces (done rack and buffer full)"
                return None
            destination = buffer_free[0]
        arm = self._arm(sample.location, destination)
        if self._conflict(busy, arm):
            return None
        goal = {"sample_id": sample.id, "labware_id": sample.labware_id, "destination": destination}
        resources = (f"furnace:{furnace}", arm, f"pos:{sample.location}", f"pos:{destination}")
        return self._op(
            self.cell.furnace_station, "unload_furnace", goal, "unload", sample.id, resources, sample.batch_id
        )

    def _discard_step(self, sample: SampleRecord, busy: set[str]) -> OpRecord | None:
        location = sample.location
        if location in self.cell.storage or location in self.cell.done:
            self._close(sample, "discarded" if location in self.cell.done else "never used")
            return None
        furnace = self.cell.furnace_of(location)
        if furnace:
            batch = self.batches.get(sample.batch_id)
            if batch is not None and batch.state == HEATING:
                return None
            return self._unload_step(sample, furnace, busy)
        free = self._free(self.cell.done, busy)
        if not free:
            self.waiting["done"] = "done rack full: empty it (a person must) to go on"
            return None
        if self._conflict(busy, self._arm(location, free[0])):
            return None
        return self._transfer(sample, free[0], "discard")

    def _close(self, sample: SampleRecord, how: str) -> None:
        sample.closed = True
        sample.finished_s = self.port.now()
        if sample.status is SampleStatus.FAILED and how == "discarded":
            sample.status = SampleStatus.DISCARDED
        if sample.status is SampleStatus.MEASURED and sample.analysed:
            sample.status = SampleStatus.ANALYSED
        self.store.save_sample(sample)
        self._event("sample", f"{sample.id} {how} at {sample.location}", sample.id)
        self._maybe_finish_batch(sample.batch_id)

    def _heat(self, busy: set[str]) -> None:
        now = self.port.now()
        pending_keys = {e.profile_key for e in self._pending_experiments()}
        upstream = any(
            not s.closed
            and s.status is not SampleStatus.FAILED
            and not self.cell.furnace_of(s.location)
            and s.status in (SampleStatus.PLANNED, SampleStatus.DOSED, SampleStatus.MILLED)
            for s in self.samples.values()
        )
        for batch in sorted(self.batches.values(), key=lambda b: b.id):
            if batch.state != FILLING or not batch.furnace:
                continue
            members = self._members(batch)
            if not members:
                if not any(slot in self.occupied for slot in self.cell.furnaces[batch.furnace]):
                    batch.state = DONE
                    self.store.save_batch(batch)
                continue
            loaded = [s for s in members if s.location in self.cell.furnaces[batch.furnace]]
            if len(loaded) < len(members):
                continue
            if not batch.closed:
                waited = now - (batch.last_load_s if batch.last_load_s is not None else batch.created_s)
                more = batch.key in pending_keys
                if len(members) >= batch.capacity or (
                    not more and (waited >= self.config.batch_wait_s or (not upstream and not pending_keys))
                ):
                    batch.closed = True
                    self.store.save_batch(batch)
                else:
                    continue
            if f"furnace:{batch.furnace}" in busy or now < batch.not_before:
                continue
            goal = {"furnace": batch.furnace, "profile": batch.profile.to_list()}
            op = self._op(self.cell.furnace_station, "heat", goal, "heat", "", (f"furnace:{batch.furnace}",), batch.id)
            self._launch(op)
            busy.update(op.resources)

    def _launch(self, op: OpRecord) -> None:
        """Write-ahead: record the intent, then send the goal."""
        op.estimate_s = float(self.port.estimate_s(op))
        op.intended_s = self.port.now()
        with self.store.atomic():
            self.store.intend(self.cid, op)
            if op.action == "heat":
                batch = self.batches[op.batch_id]
                batch.state, batch.heat_started_s = HEATING, op.intended_s
                self.store.save_batch(batch)
        self.ops[op.id] = op
        self.port.start(op)
        op.state, op.started_s = "sent", self.port.now()

    # ------------------------------------------------------------------ outcomes

    def _complete(self, completion: Completion) -> None:
        op = self.ops.pop(completion.op_id, None)
        if op is None:
            return
        op.started_s = completion.started_s if completion.started_s is not None else op.started_s
        op.ended_s = completion.ended_s if completion.ended_s is not None else self.port.now()
        if not completion.known:
            self._lost(op, completion)
            return
        op.error_code, op.error_msg, op.result = int(completion.code), completion.message, completion.result
        op.state = "succeeded" if completion.code == ErrorCode.NONE else "failed"
        with self.store.atomic():
            self.store.save_op(op)
            if op.state == "succeeded":
                self._succeeded(op, completion)
            else:
                self._failed(op, completion)

    def _moved(self, sample: SampleRecord, source: str, destination: str) -> None:
        if self.occupied.get(source) == sample.labware_id:
            del self.occupied[source]
        self.occupied[destination] = sample.labware_id
        sample.location = destination

    def _succeeded(self, op: OpRecord, completion: Completion) -> None:
        sample = self.samples.get(op.sample_id)
        goal, result = op.goal, completion.result
        if op.action == "transfer" and sample is not None:
            self._moved(sample, goal["source"], goal["destination"])
            sample.retries = 0
            self.store.save_sample(sample)
            if op.purpose == "store":
                self._close(sample, "stored")
            elif op.purpose == "discard":
                self._close(sample, "discarded")
        elif op.action == "dose" and sample is not None:
            sample.status = SampleStatus.DOSED
            sample.dosed_mg = {d["powder"]: d["actual_mg"] for d in result.get("doses", [])}
            sample.retries = 0
            self.store.save_sample(sample)
        elif op.action == "mill" and sample is not None:
            sample.status, sample.retries = SampleStatus.MILLED, 0
            self.store.save_sample(sample)
        elif op.action == "load_furnace" and sample is not None:
            self._moved(sample, goal["source"], result.get("position") or f"{goal['furnace']}/slot_{goal['slot']}")
            sample.retries = 0
            self.store.save_sample(sample)
            batch = self.batches.get(op.batch_id)
            if batch is not None:
                batch.last_load_s = self.port.now()
                self.store.save_batch(batch)
        elif op.action == "heat":
            batch = self.batches[op.batch_id]
            batch.state, batch.heat_ended_s, batch.retries = HEATED, self.port.now(), 0
            self.store.save_batch(batch)
            for member in self._members(batch):
                if member.location in self.cell.furnaces[batch.furnace]:
                    member.status = SampleStatus.HEATED
                    self.store.save_sample(member)
            self._event("batch", f"{batch.id} heated in {batch.furnace} ({op.error_msg or 'done'})", op_id=op.id)
        elif op.action == "unload_furnace" and sample is not None:
            source = next((p for p, lw in self.occupied.items() if lw == sample.labware_id), sample.location)
            self._moved(sample, source, goal["destination"])
            sample.retries = 0
            self.store.save_sample(sample)
            self._maybe_finish_batch(sample.batch_id)
            if sample.status is SampleStatus.FAILED and goal["destination"] in self.cell.done:
                self._close(sample, "discarded")
        elif op.action == "measure_xrd" and sample is not None:
            sample.status, sample.retries = SampleStatus.MEASURED, 0
            self.store.save_sample(sample)
            if completion.pattern is not None:
                pattern = completion.pattern
                pattern.sample_id = sample.id
                self.store.add_pattern(self.cid, sample.id, op.id, pattern, self.port.now())
                self.patterns[sample.id] = pattern

    def _maybe_finish_batch(self, batch_id: str) -> None:
        batch = self.batches.get(batch_id)
        if batch is None or batch.state != HEATED:
            return
        if any(slot in self.occupied for slot in self.cell.furnaces[batch.furnace]):
            return
        batch.state = DONE
        self.store.save_batch(batch)
        self._event("batch", f"{batch.id} unloaded; {batch.furnace} is free")

    def _failed(self, op: OpRecord, completion: Completion) -> None:
        kind = classify(completion.code)
        code_name = _code_name(completion.code)
        self._event(
            "failure",
            f"{op.purpose} {op.station}/{op.action} failed: {code_name}: {completion.message} -> {kind.value}",
            op.sample_id,
            op.id,
        )
        self._sync_positions(correct=True)
        now = self.port.now()
        if op.action == "heat":
            batch = self.batches[op.batch_id]
            batch.retries += 1
            batch.state, batch.not_before = FILLING, now + self.config.retry_delay_s
            if kind is not FailureKind.RETRY or batch.retries > self.config.max_retries:
                batch.state = HEATED  # give up: the crucibles come out and are discarded
                for member in self._members(batch):
                    self._fail_sample(member, f"heating failed: {code_name}: {completion.message}", redo=True)
            self.store.save_batch(batch)
            return
        sample = self.samples.get(op.sample_id)
        if sample is None:
            return
        if op.action == "dose":
            doses = completion.result.get("doses", [])
            sample.dosed_mg = {d["powder"]: d["actual_mg"] for d in doses}
            if sum(sample.dosed_mg.values()) > 0 and kind is not FailureKind.RECIPE:
                kind = FailureKind.SAMPLE  # powder went in: this crucible cannot be dosed again
        if kind in (FailureKind.RETRY, FailureKind.REPLAN):
            sample.retries += 1
            sample.not_before = now + self.config.retry_delay_s
            if sample.retries > self.config.max_retries:
                self._fail_sample(
                    sample,
                    f"{op.purpose} failed {sample.retries} times; last: {code_name}: {completion.message}",
                    redo=True,
                )
            else:
                self.store.save_sample(sample)
            return
        self._fail_sample(sample, f"{op.purpose}: {code_name}: {completion.message}", redo=kind is FailureKind.SAMPLE)

    def _fail_sample(self, sample: SampleRecord, reason: str, redo: bool) -> None:
        sample.status, sample.failure = SampleStatus.FAILED, reason
        sample.not_before = 0.0
        if not self.cell.furnace_of(sample.location):
            sample.batch_id = ""
        self.store.save_sample(sample)
        self._event("sample", f"{sample.id} failed: {reason}", sample.id)
        self._sample_failed_followup(sample, redo)

    def _sample_failed_followup(self, sample: SampleRecord, redo: bool) -> None:
        experiment = self.experiments[sample.experiment_id]
        if experiment.status not in OPEN_EXPERIMENT:
            return
        made = sum(1 for s in self.samples.values() if s.experiment_id == experiment.id)
        if redo and made < self.config.max_samples_per_experiment:
            self._event("redo", f"{experiment.id} will be made again with a new crucible", sample.id)
            return
        self._experiment_failed(experiment, sample.failure)

    def _experiment_failed(self, experiment: ExperimentRecord, reason: str) -> None:
        experiment.status, experiment.failure, experiment.finished_s = ExperimentStatus.FAILED, reason, self.port.now()
        self.store.save_experiment(experiment)
        self._event("experiment", f"{experiment.id} failed: {reason}")
        self._experiment_ended(experiment)

    def _lost(self, op: OpRecord, completion: Completion | None = None) -> None:
        """A goal the lab does not know (sent before a crash and never received, or expired)."""
        op.state = "lost"
        self.store.save_op(op)
        self._sync_positions(correct=False)
        sample = self.samples.get(op.sample_id)
        message = f"{op.purpose} {op.station}/{op.action} unknown to the lab after restart"
        # The station said it has no such goal, and it keeps results longer than this goal is old:
        # the goal never reached it (the crash came between the record and the send), so nothing
        # happened and the step is simply done again - also a dose: no powder went in.
        never_ran = (
            completion is not None
            and completion.unknown_goal
            and op.intended_s is not None
            and self.port.now() - op.intended_s < self.config.result_keep_s
        )
        with self.store.atomic():
            if op.action in ("transfer", "load_furnace", "unload_furnace") and sample is not None:
                found = next((p for p, lw in self.occupied.items() if lw == sample.labware_id), "")
                self._event(
                    "recovery",
                    f"{message}: the position table has {sample.labware_id} at {found or 'no position'}",
                    sample.id,
                    op.id,
                )
                if found:
                    sample.location = found
                    self.store.save_sample(sample)
                    if op.purpose in ("store", "discard") and found in self.cell.done:
                        self._close(sample, "stored" if op.purpose == "store" else "discarded")
                else:
                    self._sync_positions(correct=True)
            elif op.action == "dose" and sample is not None and never_ran:
                self._event("recovery", f"{message}: it never reached the lab; dosed again", sample.id, op.id)
            elif op.action == "dose" and sample is not None:
                self._event("recovery", f"{message}: how much powder went in is unknown", sample.id, op.id)
                self._fail_sample(sample, "dose outcome lost in a restart", redo=True)
            elif op.action == "heat":
                batch = self.batches[op.batch_id]
                batch.state = FILLING
                self.store.save_batch(batch)
                self._event("recovery", f"{message}: {batch.id} is heated again", op_id=op.id)
            else:
                self._event("recovery", f"{message}: the step is done again", op.sample_id, op.id)

    def _check_overruns(self) -> None:
        now = self.port.now()
        for op in self.ops.values():
            if op.overrun_reported or op.started_s is None:
                continue
            limit = op.estimate_s * self.config.overrun_factor + self.config.overrun_margin_s
            if now - op.started_s > limit:
                op.overrun_reported = True
                self._event(
                    "overrun",
                    f"{op.purpose} {op.station}/{op.action} running {now - op.started_s:.0f} s, "
                    f"estimated {op.estimate_s:.0f} s: plans now count from its end",
                    op.sample_id,
                    op.id,
                )

    def _next_wait(self) -> float:
        now = self.port.now()
        deadlines = [now + self.config.tick_s]
        for sample in self.samples.values():
            if not sample.closed and sample.not_before > now:
                deadlines.append(sample.not_before)
        for batch in self.batches.values():
            if batch.state == FILLING and not batch.closed:
                start = batch.last_load_s if batch.last_load_s is not None else batch.created_s
                deadlines.append(start + self.config.batch_wait_s)
            if batch.not_before > now:
                deadlines.append(batch.not_before)
        if self._clear_since is not None:
            deadlines.append(self._clear_since + self.config.resume_delay_s)
        if self._idle_since is not None:
            deadlines.append(self._idle_since + STALL_AFTER_S)
        if self._unattended_since is not None and self.config.suspend_limit_sim_s > 0:
            deadlines.append(self._unattended_since[0] + self.config.suspend_limit_sim_s)
        if self._unattended_since is not None and self.config.suspend_limit_wall_s > 0:
            deadlines.append(now + 60.0)  # look at the wall clock at least every minute of lab time
        return max(1.0, min(deadlines) - now)

    def _report_progress(self) -> None:
        for key, text in self.waiting.items():
            if key not in self._reported_waits:
                self._reported_waits.add(key)
                self._event("waiting", text)
        self._reported_waits &= set(self.waiting)
        if self.on_progress is not None:
            self.on_progress(self.progress())


STAGE_RANK = {
    SampleStatus.MEASURED: 6,
    SampleStatus.HEATED: 5,
    SampleStatus.FAILED: 4,
    SampleStatus.MILLED: 3,
    SampleStatus.DOSED: 2,
    SampleStatus.PLANNED: 1,
}


def _stage_rank(sample: SampleRecord) -> int:
    return STAGE_RANK.get(sample.status, 0)


def _code_name(code: int) -> str:
    try:
        return ErrorCode(code).name
    except ValueError:
        return str(code)


def _wall() -> float:
    return time.time()


def _monotonic() -> float:
    return time.monotonic()
