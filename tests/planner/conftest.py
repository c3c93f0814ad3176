"""Shared helpers of the planner tests: attempts as the campaign hands them to a planner."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")

from powderlab.autonomy.model import Attempt, ExperimentStatus, PhaseFraction
from powderlab.core.recipes import Recipe


def analysed(recipe: Recipe, phases: dict[str, float], number: int = 1) -> Attempt:
    """An analysed attempt whose pattern showed `phases` (id -> weight fraction)."""
    fractions = tuple(PhaseFraction(p, p, f) for p, f in phases.items())
    return Attempt(f"e{number}", number, recipe, ExperimentStatus.ANALYSED, phases.get(recipe.target, 0.0), fractions)
