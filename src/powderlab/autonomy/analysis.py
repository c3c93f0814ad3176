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
    version = "2"  # goes into every claim: a claim names the analysis it rests on

    def __init__(self, alternatives: bool = True, library: Any = None, **options: Any) -> None:
        try:
            from powderlab.chemistry.xrd import AnalysisOptions, analyze_pattern
        except ImportError as error:
            raise UnknownResourceError(
                "analyzer", "chemistry", ["standin (powderlab.chemistry is not installed in this checkout)"]
            ) from error
        self._analyze = analyze_pattern
        self._options = AnalysisOptions(**options) if options else None
        # also fit the best phase set without the target (a second hypothesis, ~1 s more)
        self.alternatives = alternatives
        self.library = library  # None: the packaged library; else e.g. a copy with predicted phases

    def analyze(
        self, pattern: XrdPattern, target: str, elements: Sequence[str], *, recipe: Recipe | None = None
    ) -> AnalysisResult:
        system = set(elements)
        if recipe is not None:
            for dose in recipe.precursors:
                system.update(elements_of(dose.powder))
        analysis = self._analyze(pattern, elements=sorted(system), options=self._options, library=self.library)
        phases = tuple(PhaseFraction(p.phase_id, p.formula, p.weight_fraction, p.confidence) for p in analysis.phases)
        curves = analysis.to_dict(include_curves=True).get("curves")
        target_yield = float(analysis.fraction(target))
        evidence: dict[str, Any] = {
            "analysis_version": f"{self.name}/{self.version}",
            "rexp": round(float(analysis.rexp), 4),
            "goodness_of_fit": round(float(analysis.rwp / analysis.rexp), 3) if analysis.rexp > 0 else None,
            "unexplained_fraction": round(float(analysis.unexplained_fraction), 4),
            "amorphous_fraction": round(float(analysis.amorphous_hump_fraction), 4),
            "phases": [p.to_dict() for p in analysis.phases],
            "candidates": list(analysis.candidates),
            "alternatives": [],
        }
        if self.alternatives and target_yield > 0:
            evidence["alternatives"] = self._alternatives(pattern, analysis, target)
        return AnalysisResult(
            self.name,
            target,
            target_yield,
            phases,
            float(analysis.rwp),
            bool(analysis.unknown_phase_suspected),
            curves,
            f"candidates: {len(analysis.candidates)}",
            evidence,
        )

    def _alternatives(self, pattern: XrdPattern, analysis: Any, target: str) -> list[dict[str, Any]]:
        """The best phase set that does without the target (as Dara keeps several hypotheses): how
        much worse it fits says how strongly the pattern needs the target at all."""
        from powderlab.chemistry.phases import _reduced_formula

        reduced = _reduced_formula(target)
        others = [
            name
            for name in analysis.candidates
            if name != target and _reduced_formula(_formula_of(self.library, name)) != reduced
        ]
        if not others:
            return [{"phases": [], "rwp": None, "delta_rwp": None, "note": "no candidate without the target"}]
        try:
            alternative = self._analyze(pattern, candidates=others, options=self._options, library=self.library)
        except Exception as error:  # a failed second hypothesis must not lose the first
            return [{"phases": [], "rwp": None, "delta_rwp": None, "note": f"alternative fit failed: {error}"}]
        return [
            {
                "phases": [p.to_dict() for p in alternative.phases],
                "rwp": round(float(alternative.rwp), 4),
                "delta_rwp": round(float(alternative.rwp - analysis.rwp), 4),
                "unexplained_fraction": round(float(alternative.unexplained_fraction), 4),
                "note": f"best fit without {target}",
            }
        ]


def _formula_of(library: Any, name: str) -> str:
    """The formula of a candidate phase id (library ids such as TiO2_rutile are not formulas)."""
    from powderlab.chemistry.phases import default_library

    library = library if library is not None else default_library()
    return library.get(name).formula if name in library else name


# What a campaign uses unless told otherwise (`powderlab campaign`, the autonomy node, `powderlab up
# --autonomy`): the real planner and the real analysis; 'fixed' and 'standin' are for tests (issue 16).
DEFAULT_PLANNER = "literature"
DEFAULT_ANALYZER = "chemistry"


def make_analyzer(name: str, seed: int = 0, library: Any = None) -> Any:
    """An analyzer by name: 'chemistry' (the real XRD analysis, the default) or 'standin' (tests)."""
    from powderlab.autonomy.standins import StandInAnalyzer

    if name == "standin":
        return StandInAnalyzer(seed)
    if name == "chemistry":  # library: e.g. with the predicted structures of a candidate library (ADR 0109)
        return ChemistryAnalyzer(library=library)
    raise UnknownResourceError("analyzer", name, ["standin", "chemistry"])


def make_planner(name: str, seed: int = 0, library: Any = None, site: Any = None) -> Any:
    """A planner by name: 'fixed' (recipes from the targets file, for tests), 'arrows' (the AI
    planner: driving-force ranking + active learning, powderlab.planner), or its baselines
    'ranking' (no learning) and 'random'; 'literature' (literature recipes first, then arrows: the default)."""
    from powderlab.autonomy.standins import FixedListPlanner

    if name == "fixed":
        return FixedListPlanner()
    if name in ("arrows", "ranking", "random"):
        from powderlab.planner import make

        return make(name, seed, **_with_library(library), **_with_site(site))
    if name == "literature":  # literature recipes first, then arrows (ADR 0090)
        from powderlab.planner.literature_start import LiteratureStartPlanner

        return LiteratureStartPlanner(**_with_library(library), **_with_site(site))
    raise UnknownResourceError("planner", name, ["fixed", "arrows", "ranking", "random", "literature"])


def _with_site(site: Any) -> dict[str, Any]:
    """The planner's inventory keyword: the campaign site's dosing heads and powder store (ADR 0106)."""
    if site is None:
        return {}
    from powderlab.planner.inventory import Inventory

    return {"inventory": Inventory.from_site(site)}


def _with_library(library: Any) -> dict[str, Any]:
    """The planner's library keyword: only when a campaign has one of its own (candidates, ADR 0109)."""
    return {} if library is None else {"library": library}
