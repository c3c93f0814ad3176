"""Stand-ins for the planner (issue 7) and the XRD analysis (issue 6) until they are merged.

They are honest about what they are: the fixed-list planner only replays the recipes given with
each target, and the stand-in analyzer does NOT read chemistry from the pattern (mock patterns
carry none): it draws the yield from its own seeded hidden optimum per target. Every result they
produce is labelled with their names so no figure can be mistaken for real analysis.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence

import numpy as np

from powderlab.autonomy.model import AnalysisResult, Attempt, PhaseFraction, Proposal, Target
from powderlab.core.recipes import Recipe
from powderlab.core.xrd import XrdPattern

STANDIN_ANALYZER = "standin-hidden-optimum (no chemistry; mock patterns are not analysed)"
FIXED_PLANNER = "fixed-list (recipes from the targets file, in order)"


def _unit(seed: int, *names: str) -> float:
    """A reproducible number in [0, 1) from a seed and names."""
    digest = hashlib.sha256("|".join([str(seed), *names]).encode()).digest()
    return int.from_bytes(digest[:8], "little") / 2**64


class FixedListPlanner:
    """Tries the recipes given with each target, in order; None when they are used up."""

    name = FIXED_PLANNER

    def next_recipe(self, target: Target, history: Sequence[Attempt]) -> Proposal | None:
        tried = {attempt.recipe.recipe_id for attempt in history}
        for index, recipe in enumerate(target.recipes, start=1):
            if recipe.recipe_id not in tried:
                return Proposal(recipe, f"recipe {index} of {len(target.recipes)} given with the target")
        return None

    def report(self, target: Target, attempt: Attempt) -> None:
        """Nothing to learn: the list is fixed."""


class StandInAnalyzer:
    """Yield from a seeded hidden optimum (temperature and precursor set) per target.

    yield = quality(precursor set) x exp(-((T_max - T_opt) / 180 C)^2) + noise, with T_opt in
    650-1050 C and quality in 0.3-1.0 drawn from (seed, target[, precursors]). The pattern is
    kept for the report's plot; nothing is fitted to it.
    """

    name = STANDIN_ANALYZER

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def expected_yield(self, target: str, recipe: Recipe) -> float:
        optimum_c = 650.0 + 400.0 * _unit(self.seed, "t_opt", target)
        powders = ",".join(sorted(d.powder for d in recipe.precursors))
        quality = 0.3 + 0.7 * _unit(self.seed, "quality", target, powders)
        temperature = recipe.heating.max_temperature_c
        return quality * math.exp(-(((temperature - optimum_c) / 180.0) ** 2))

    def analyze(
        self, pattern: XrdPattern, target: str, elements: Sequence[str], *, recipe: Recipe | None = None
    ) -> AnalysisResult:
        base = self.expected_yield(target, recipe) if recipe is not None else 0.0
        noise = 0.05 * (_unit(self.seed, "noise", target, pattern.sample_id, pattern.holder_id) - 0.5)
        value = float(min(1.0, max(0.0, base + noise)))
        phases = [PhaseFraction(target, target, value, 1.0)]
        rest = 1.0 - value
        residue = [d.powder for d in recipe.precursors] if recipe is not None else ["unidentified"]
        for powder in residue:
            if rest > 1e-6:
                phases.append(PhaseFraction(powder, powder, rest / len(residue), 0.5))
        step = max(1, pattern.two_theta_deg.size // 1500)
        curves = {
            "two_theta": np.round(pattern.two_theta_deg[::step], 4).tolist(),
            "observed": np.round(pattern.intensity[::step], 2).tolist(),
        }
        return AnalysisResult(
            self.name,
            target,
            value,
            tuple(phases),
            None,
            False,
            curves,
            "stand-in: yield from a seeded hidden optimum, not from the pattern",
        )
