"""Targets and experiments: proposals from the planner, analyses of measured samples, settled targets.

The planner is asked for recipes while a target has budget and fewer experiments in flight than
allowed; every proposal is recorded as an experiment. A measured sample's pattern is analysed; a
target yield of at least success_yield makes the target MADE, and every ended experiment is
reported to the planner. A target whose budget is spent with nothing running is EXHAUSTED.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from powderlab.autonomy.campaign_state import OPEN_EXPERIMENT, CampaignState
from powderlab.autonomy.claims import claim_for_analysis
from powderlab.autonomy.cofiring import ask_planner, cofiring_hint
from powderlab.autonomy.config import CampaignConfig
from powderlab.autonomy.furnaces import Furnaces
from powderlab.autonomy.model import (
    TERMINAL_TARGET,
    AnalysisResult,
    Attempt,
    ExperimentStatus,
    Target,
    TargetStatus,
    slug,
)
from powderlab.autonomy.protocols import Analyzer, Planner
from powderlab.autonomy.state import ExperimentRecord, SampleRecord, TargetRecord
from powderlab.autonomy.store import Store
from powderlab.core.samples import SampleStatus

log = logging.getLogger("powderlab.autonomy.engine")


def attempt_of(experiment: ExperimentRecord) -> Attempt:
    """An experiment as the planner sees it."""
    return Attempt(
        experiment.id,
        experiment.attempt,
        experiment.recipe,
        experiment.status,
        experiment.target_yield,
        failure=experiment.failure,
        reason=experiment.reason,
    )


class Experiments:
    """The planner's side of the campaign: targets, proposals, analyses and their outcomes."""

    def __init__(self, state: CampaignState, config: CampaignConfig, planner: Planner, analyzer: Analyzer) -> None:
        self.state = state
        self.config = config
        self.planner = planner
        self.analyzer = analyzer

    # ------------------------------------------------------------------ targets

    def add_targets(self, targets: list[Target]) -> None:
        """New targets (one already in the campaign is ignored, with an event)."""
        state = self.state
        known = {t.target.formula for t in state.targets.values()}
        for target in targets:
            if target.formula in known:
                state.event("target", f"target {target.formula} is already in the campaign; ignored")
                continue
            state.seq["target"] += 1
            record = TargetRecord(f"{state.cid}:{slug(target.formula)}", target, state.seq["target"])
            state.add(record)
            state.ask.add(record.id)
            known.add(target.formula)
            state.event(
                "target", f"target {target.formula} submitted (priority {target.priority}, budget {target.budget})"
            )

    def history(self, target_id: str) -> list[Attempt]:
        return [attempt_of(e) for e in self.state.experiments.values() if e.target_id == target_id]

    def settle_target(self, target: TargetRecord) -> None:
        """A target whose budget is spent and has nothing running is exhausted."""
        if target.status in TERMINAL_TARGET:
            return
        mine = [e for e in self.state.experiments.values() if e.target_id == target.id]
        running = [e for e in mine if e.status in OPEN_EXPERIMENT]
        if not running and len(mine) >= target.target.budget:
            target.status = TargetStatus.EXHAUSTED
            self.state.changed(target)
            self.state.event("target", f"{target.target.formula}: budget of {target.target.budget} experiments spent")

    # ------------------------------------------------------------------ proposals

    def propose(self) -> None:
        """Ask the planner for recipes for the targets that asked (up to in_flight_per_target running)."""
        state = self.state
        furnaces = Furnaces(state, self.config)
        for target_id in sorted(state.ask, key=lambda t: state.targets[t].seq):
            target = state.targets[target_id]
            state.ask.discard(target_id)
            if target.status in TERMINAL_TARGET:
                continue
            mine = [e for e in state.experiments.values() if e.target_id == target_id]
            running = [e for e in mine if e.status in OPEN_EXPERIMENT]
            while len(running) < self.config.in_flight_per_target and len(mine) < target.target.budget:
                try:  # the open furnace runs go to a planner that accepts them (co-firing, ADR 0084)
                    unplaced = furnaces.pending_experiments()
                    hint = cofiring_hint(
                        state.batches.values(), state.samples.values(), unplaced, furnaces.batch_capacity
                    )
                    proposal = ask_planner(self.planner, target.target, self.history(target_id), hint)
                except Exception as error:
                    log.exception("planner failed for %s", target.target.formula)
                    state.event("planner", f"{target.target.formula}: planner error {error!r}")
                    proposal = None
                if proposal is None:
                    if not running:
                        target.status = TargetStatus.GAVE_UP
                        state.changed(target)
                        state.event("target", f"{target.target.formula}: the planner has no further recipe")
                    break
                experiment = ExperimentRecord(
                    f"{target_id}#{len(mine) + 1}",
                    target_id,
                    len(mine) + 1,
                    proposal.recipe,
                    proposal.reason,
                    created_s=state.now(),
                )
                state.add(experiment)
                if target.status is TargetStatus.PENDING:
                    target.status = TargetStatus.ACTIVE
                    state.changed(target)
                mine.append(experiment)
                running.append(experiment)
                state.event("proposal", f"{experiment.id}: {proposal.recipe.recipe_id} ({proposal.reason})")

    def cancel_unneeded(self) -> None:
        """Experiments of a made target that have nothing in the lab are not run any more."""
        state = self.state
        open_samples = {s.experiment_id for s in state.samples.values() if not s.closed}
        for experiment in state.experiments.values():
            if experiment.status not in OPEN_EXPERIMENT or experiment.id in open_samples:
                continue
            target = state.targets[experiment.target_id]
            if target.status is not TargetStatus.MADE:
                continue
            experiment.status, experiment.finished_s = ExperimentStatus.CANCELLED, state.now()
            experiment.failure = f"not run: {target.target.formula} was made by {target.made_by}"
            state.changed(experiment)
            state.event("experiment", f"{experiment.id} cancelled ({experiment.failure})")

    # ------------------------------------------------------------------ analysis and ends

    def analyse_pending(self, store: Store, on_analysis: Callable[[str, AnalysisResult], None] | None) -> None:
        """Analyse every measured sample's pattern; on_analysis is called once the analysis is flushed."""
        state = self.state
        for sample in state.samples.values():
            if sample.status is not SampleStatus.MEASURED or sample.analysed:
                continue
            experiment = state.experiments[sample.experiment_id]
            target = state.targets[experiment.target_id].target
            pattern = state.patterns.pop(sample.id, None) or store.pattern(sample.id)
            if pattern is None:
                continue
            try:
                analysis = self.analyzer.analyze(pattern, target.formula, target.elements, recipe=experiment.recipe)
            except Exception as error:  # an analysis bug must not stop the lab
                log.exception("analysis of %s failed", sample.id)
                sample.analysed = True
                state.changed(sample)
                self.experiment_failed(experiment, f"analysis failed: {error!r}")
                continue
            self.record_analysis(sample, experiment, analysis)
            if on_analysis is not None:
                state.work.flush(store)  # what they are told is on record
                on_analysis(sample.id, analysis)

    def record_analysis(self, sample: SampleRecord, experiment: ExperimentRecord, analysis: AnalysisResult) -> None:
        """The analysis, the experiment's yield, and the target MADE if the yield is enough."""
        state = self.state
        state.work.analysis(sample.id, experiment.id, analysis, state.now())
        sample.analysed = True
        sample.status = SampleStatus.ANALYSED if sample.closed else sample.status
        state.changed(sample)
        experiment.status = ExperimentStatus.ANALYSED
        experiment.target_yield = float(analysis.target_yield)
        experiment.finished_s = state.now()
        state.changed(experiment)
        target = state.targets[experiment.target_id]
        # the claims ledger (issue 17, ADR 0098): MADE only when the claim's evidence holds, not the yield alone
        claim = claim_for_analysis(
            self.config,
            state.cid,
            sample_id=sample.id,
            target_id=target.id,
            target=target.target.formula,
            experiment_id=experiment.id,
            analysis=analysis,
            sim_now=state.now(),
            library=getattr(self.analyzer, "library", None),  # predicted structures of new targets (ADR 0109)
        )
        state.work.claim(claim)
        if claim.made and target.status is not TargetStatus.MADE:
            target.status, target.made_by = TargetStatus.MADE, experiment.id
            state.changed(target)
        state.event(
            "analysis",
            f"{experiment.id}: {target.target.formula} yield {analysis.target_yield:.0%} ({analysis.analyzer})",
            sample.id,
        )
        self.experiment_ended(experiment)

    def experiment_failed(self, experiment: ExperimentRecord, reason: str) -> None:
        experiment.status, experiment.failure, experiment.finished_s = ExperimentStatus.FAILED, reason, self.state.now()
        self.state.changed(experiment)
        self.state.event("experiment", f"{experiment.id} failed: {reason}")
        self.experiment_ended(experiment)

    def experiment_ended(self, experiment: ExperimentRecord) -> None:
        """Tell the planner, ask it again for the target, settle the target if its budget is spent."""
        target = self.state.targets[experiment.target_id]
        try:
            self.planner.report(target.target, attempt_of(experiment))
        except Exception:  # the planner's bookkeeping must not stop the lab
            log.exception("planner.report failed for %s", experiment.id)
        self.state.ask.add(target.id)
        self.settle_target(target)
