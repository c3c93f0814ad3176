"""How often a first guess makes a target in the hidden truth: the benchmark's selection of hard targets.

A benchmark (bench/bench_planner.py --hard-fraction, ADR 0113) keeps targets whose first guesses
mostly fail, computed here from the truth BEFORE any planner runs and never shown to a planner:
every precursor set the planners' inventory allows x a fixed temperature grid at one dwell, each
run once in the truth, success = the target's crystalline weight fraction >= 0.5 (the truth's own
yield, no XRD).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from powderlab.chemistry.reactions import precursor_masses
from powderlab.chemistry.truth.model import SynthesisModel
from powderlab.core.errors import ValidationError
from powderlab.core.recipes import MillingSettings, a_lab_profile

FIRST_GUESS_TEMPERATURES_C: tuple[float, ...] = (600.0, 700.0, 800.0, 900.0, 1000.0, 1100.0, 1200.0)
FIRST_GUESS_DWELL_H = 4.0  # the planners' dwell for a first recipe
SUCCESS_YIELD = 0.5  # A-Lab criterion


@dataclass(frozen=True)
class FirstGuessOdds:
    """Of `tried` (precursor set, temperature) first guesses for a target, `worked` made it."""

    target: str
    worked: int
    tried: int
    working: tuple[tuple[tuple[str, ...], float], ...]  # the (precursors, temperature) that made it

    @property
    def fraction(self) -> float:
        return self.worked / self.tried if self.tried else 0.0

    def is_hard(self, bound: float) -> bool:
        """The benchmark's selection rule: some first guess makes the target (it can be made from
        these precursors at all) and at most `bound` of them do (the first guess is usually wrong)."""
        return self.worked > 0 and self.fraction <= bound + 1e-12


def first_guess_odds(
    model: SynthesisModel,
    target: str,
    precursor_sets: Sequence[Sequence[str]],
    temperatures_c: Sequence[float] = FIRST_GUESS_TEMPERATURES_C,
    dwell_h: float = FIRST_GUESS_DWELL_H,
    batch_mg: float = 1000.0,
    success_yield: float = SUCCESS_YIELD,
) -> FirstGuessOdds:
    """Run every (precursor set, temperature) in the truth with the balanced masses of a `batch_mg`
    batch and the A-Lab profile; count those whose target yield reaches `success_yield`."""
    if not precursor_sets:
        raise ValidationError(f"precursor sets of {target}", "none given; give at least one balanced set")
    if not temperatures_c:
        raise ValidationError("temperatures_c", "empty; give at least one temperature in C")
    working: list[tuple[tuple[str, ...], float]] = []
    tried = 0
    for precursors in precursor_sets:
        doses = precursor_masses(target, tuple(precursors), batch_mg, library=model.library)
        masses = {d.powder: d.target_mg for d in doses}
        for temperature in temperatures_c:
            tried += 1
            outcome = model.react(masses, a_lab_profile(float(temperature), dwell_h), MillingSettings())
            if outcome.yield_of(target) >= success_yield:
                working.append((tuple(precursors), float(temperature)))
    return FirstGuessOdds(target, len(working), tried, tuple(working))
