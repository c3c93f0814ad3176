"""What the campaign needs from the planner and from XRD analysis (issue 7 and issue 6 plug in here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from powderlab.autonomy.model import AnalysisResult, Attempt, Proposal, Target
from powderlab.core.recipes import Recipe
from powderlab.core.xrd import XrdPattern


class Planner(Protocol):
    """Proposes recipes for a target and learns from the outcomes.

    next_recipe is called with the target's whole history (analysed, failed and still running
    attempts) whenever the campaign wants another experiment for it; None means "no further
    recipe" (the target ends as gave_up). The campaign records each proposal before anything is
    done with it, so after a restart the planner is only asked for experiments that were never
    recorded: a planner that derives its state from the history needs no persistence of its own.
    """

    name: str

    def next_recipe(self, target: Target, history: Sequence[Attempt]) -> Proposal | None:
        """The next recipe to try for target, or None."""
        ...

    def report(self, target: Target, attempt: Attempt) -> None:
        """An attempt ended (analysed or failed); the planner may update what it learned."""
        ...


class Analyzer(Protocol):
    """Phases, weight fractions and the target's yield from a measured pattern.

    elements: the sample's chemical system (candidate phases come from it); recipe: what was
    put in the crucible (precursors are natural candidates for unreacted residue).
    """

    name: str

    def analyze(
        self, pattern: XrdPattern, target: str, elements: Sequence[str], *, recipe: Recipe | None = None
    ) -> AnalysisResult:
        """Analyse one pattern."""
        ...
