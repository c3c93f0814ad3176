"""The real XRD analysis (powderlab.chemistry, issue 6) behind the campaign's Analyzer protocol."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from powderlab.autonomy.model import AnalysisResult, PhaseFraction, elements_of
from powderlab.core.errors import UnknownResourceError
from powderlab.core.recipes import Recipe
from powderlab.core.xrd import XrdPattern


class ChemistryAnalyzer:
    """Whole-pattern fitting against the phase library of the sample's chemical system.

    Uses powderlab.chemistry.xrd.analyze_pattern(pattern, elements=...) and reads the target's
    weight fraction with XrdAnalysis.fraction(target).
    """

    name = "chemistry-whole-pattern-fit"

    def __init__(self, **options: Any) -> None:
        try:
            from powderlab.chemistry.xrd import AnalysisOptions, analyze_pattern
        except ImportError as error:
            raise UnknownResourceError(
                "analyzer", "chemistry", ["standin (powderlab.chemistry is not installed in this checkout)"]
            ) from error
        self._analyze = analyze_pattern
        self._options = AnalysisOptions(**options) if options else None

    def analyze(
        self, pattern: XrdPattern, target: str, elements: Sequence[str], *, recipe: Recipe | None = None
    ) -> AnalysisResult:
        system = set(elements)
        if recipe is not None:
            for dose in recipe.precursors:
                system.update(elements_of(dose.powder))
        analysis = self._analyze(pattern, elements=sorted(system), options=self._options)
        phases = tuple(PhaseFraction(p.phase_id, p.formula, p.weight_fraction, p.confidence) for p in analysis.phases)
        curves = analysis.to_dict(include_curves=True).get("curves")
        return AnalysisResult(
            self.name,
            target,
            float(analysis.fraction(target)),
            phases,
            float(analysis.rwp),
            bool(analysis.unknown_phase_suspected),
            curves,
            f"candidates: {len(analysis.candidates)}",
        )


def make_analyzer(name: str, seed: int = 0) -> Any:
    """An analyzer by name: 'standin' (default until chemistry is merged) or 'chemistry'."""
    from powderlab.autonomy.standins import StandInAnalyzer

    if name == "standin":
        return StandInAnalyzer(seed)
    if name == "chemistry":
        return ChemistryAnalyzer()
    raise UnknownResourceError("analyzer", name, ["standin", "chemistry"])


def make_planner(name: str, seed: int = 0) -> Any:
    """A planner by name: 'fixed' (recipes from the targets file, the default), 'arrows' (the AI
    planner: driving-force ranking + active learning, powderlab.planner), or its baselines
    'ranking' (no learning) and 'random'."""
    from powderlab.autonomy.standins import FixedListPlanner

    if name == "fixed":
        return FixedListPlanner()
    if name in ("arrows", "ranking", "random"):
        from powderlab.planner import make

        return make(name, seed)
    raise UnknownResourceError("planner", name, ["fixed", "arrows", "ranking", "random"])
