"""Progress: the campaign at a glance (counts, the samples' list, the ETA) and when to look again.

Plain functions of the CampaignState: what the progress topic, the CLI's live line and the
dashboard show, and how long the engine may wait for the lab before something of its own is due
(a retry, a batch's wait, a suspension's resume delay or limit, the stall limit).
"""

from __future__ import annotations

from powderlab.autonomy.campaign_state import DONE_SAMPLE, FAILED_SAMPLE, OPEN_EXPERIMENT, CampaignState
from powderlab.autonomy.config import STALL_AFTER_S, CampaignConfig
from powderlab.autonomy.model import TERMINAL_TARGET, Progress, SampleProgress, TargetStatus
from powderlab.autonomy.state import FILLING, OpRecord
from powderlab.core.samples import SampleStatus


def progress(state: CampaignState) -> Progress:
    """Counts of targets, experiments, samples and operations, the samples' list and the ETA."""
    targets = list(state.targets.values())
    done_experiments = [e for e in state.experiments.values() if e.status not in OPEN_EXPERIMENT]
    now = state.now()
    result = Progress(
        campaign=state.cid,
        state=state.status,
        reasons=([state.aborted] if state.aborted else [])
        + list(state.suspended)
        + ([state.suspend_hint] if state.suspend_hint else [])
        + ([state.pause_reason] if state.paused else [])
        + [f"station {name} unavailable ({why}): its work waits" for name, why in sorted(state.unavailable.items())]
        + sorted(set(state.waiting.values())),
        targets_total=len(targets),
        targets_made=sum(t.status is TargetStatus.MADE for t in targets),
        targets_failed=sum(t.status in (TargetStatus.EXHAUSTED, TargetStatus.GAVE_UP) for t in targets),
        targets_active=sum(t.status not in TERMINAL_TARGET for t in targets),
        experiments_done=len(done_experiments),
        experiments_planned=len(state.experiments),
        targets=[t.target.formula for t in sorted(targets, key=lambda t: t.seq)],
        samples_total=len(state.samples),
        samples_done=sum(s.status in DONE_SAMPLE for s in state.samples.values()),
        samples_failed=sum(s.status in FAILED_SAMPLE for s in state.samples.values()),
        samples_in_flight=sum(not s.closed for s in state.samples.values()),
        samples=sample_rows(state),
        operations_in_flight=len(state.ops),
        sim_time_s=now,
        sim_elapsed_s=now - state.sim_start,
    )
    elapsed = now - state.sim_start
    if done_experiments and result.targets_active and elapsed > 0:
        # the experiments still to come (per settled target so far, 2 before any settles), less half
        # of the samples already in the lab, at the pace of the experiments done so far
        settled = result.targets_made + result.targets_failed
        per_target = len(done_experiments) / max(settled, 1) if settled else 2.0
        remaining = max(result.targets_active * per_target - result.samples_in_flight / 2, 1.0)
        result.eta_s = remaining * elapsed / len(done_experiments)
    elif not result.targets_active and result.targets_total:
        result.eta_s = 0.0
    return result


def sample_rows(state: CampaignState, limit: int = 50) -> list[SampleProgress]:
    """Samples in flight first, then the most recently finished ones (the dashboard's list)."""
    working: dict[str, OpRecord] = {}
    for op in state.ops.values():
        for sample in state.samples.values():
            if not sample.closed and (sample.id == op.sample_id or (op.batch_id and sample.batch_id == op.batch_id)):
                working.setdefault(sample.id, op)
    open_samples = [s for s in state.samples.values() if not s.closed]
    closed = sorted((s for s in state.samples.values() if s.closed), key=lambda s: -(s.finished_s or 0.0))
    rows = []
    for sample in (open_samples + closed)[:limit]:
        experiment = state.experiments[sample.experiment_id]
        op = working.get(sample.id)
        if sample.status in FAILED_SAMPLE:
            row_state = "failed"
        elif sample.closed:
            row_state = "done"
        else:
            row_state = "queued" if op is None and sample.status is SampleStatus.PLANNED else "running"
        rows.append(
            SampleProgress(
                sample_id=sample.id,
                target=state.targets[experiment.target_id].target.formula,
                recipe_id=experiment.id,
                state=row_state,
                stage=op.action if op else str(sample.status),
                station=op.station if op else "",
                target_yield=-1.0 if experiment.target_yield is None else float(experiment.target_yield),
            )
        )
    return rows


def next_wait(state: CampaignState, config: CampaignConfig) -> float:
    """How long (lab seconds, at least 1) the engine may wait for outcomes before its next own deadline."""
    now = state.now()
    deadlines = [now + config.tick_s]
    for sample in state.samples.values():
        if not sample.closed and sample.not_before > now:
            deadlines.append(sample.not_before)
    for batch in state.batches.values():
        if batch.state == FILLING and not batch.closed:
            start = batch.last_load_s if batch.last_load_s is not None else batch.created_s
            deadlines.append(start + config.batch_wait_s)
        if batch.not_before > now:
            deadlines.append(batch.not_before)
    if state.clear_since is not None:
        deadlines.append(state.clear_since + config.resume_delay_s)
    if state.idle_since is not None:
        deadlines.append(state.idle_since + STALL_AFTER_S)
    if state.unattended_since is not None and config.suspend_limit_sim_s > 0:
        deadlines.append(state.unattended_since[0] + config.suspend_limit_sim_s)
    if state.unattended_since is not None and config.suspend_limit_wall_s > 0:
        deadlines.append(now + 60.0)  # look at the wall clock at least every minute of lab time
    return max(1.0, min(deadlines) - now)


def report_waits(state: CampaignState) -> None:
    """Each new waiting reason goes to the event log once (again after it cleared)."""
    for key, text in state.waiting.items():
        if key not in state.reported_waits:
            state.reported_waits.add(key)
            state.event("waiting", text)
    state.reported_waits &= set(state.waiting)
