"""GNoME-style candidates: substitution on library prototypes, CHGNet relaxation, screening."""

from __future__ import annotations

import math

import pytest

from powderlab.core.errors import ValidationError
from powderlab.planner.candidates import propose_targets, substitutions


def test_substitutions_are_charge_balanced_new_and_scored() -> None:
    found = substitutions(["Na", "Al", "O"])
    assert found, "expected a substitution onto an A(+1)B(+3)O2 prototype"
    best = found[0]
    assert best.formula == "NaAlO2"
    assert best.prototype in {"LiAlO2", "NaFeO2", "NaCrO2", "LiCrO2", "NaCoO2", "LiCoO2"}
    assert 0.0 < best.probability <= 1.0
    assert [c.probability for c in found] == sorted((c.probability for c in found), reverse=True)
    assert all(c.formula not in {"LiAlO2", "Al2O3"} for c in found)  # known compositions are not "new"


def test_candidates_are_relaxed_with_chgnet_and_screened_against_the_hull() -> None:
    [candidate] = propose_targets(["Na", "Al", "O"], limit=1, steps=5)
    assert candidate.energy_per_atom_ev is not None and math.isfinite(candidate.energy_per_atom_ev)
    assert -9.0 < candidate.energy_per_atom_ev < -4.0  # an oxide on CHGNet's (MP) scale
    assert 1 <= candidate.relax_steps <= 7  # trajectory: start, steps, end
    screening = candidate.screening
    assert screening is not None and screening.e_above_hull_ev is not None
    assert {c.name for c in screening.checks} == {"dosable", "hull", "air"}
    text = candidate.explain()
    assert "CHGNet energy" in text and "e_above_hull" in text and "prototype" in text


def test_a_system_without_metal_or_oxygen_is_refused() -> None:
    with pytest.raises(ValidationError, match="include O"):
        substitutions(["Na", "Al"])
    with pytest.raises(ValidationError, match="no metal"):
        substitutions(["O"])
