"""XRD analysis accuracy on seeded simulated mixtures, and its flags."""

from __future__ import annotations

import numpy as np
import pytest

from powderlab.chemistry.phases import default_library
from powderlab.chemistry.xrd.analyze import analyze_pattern
from powderlab.chemistry.xrd.reflections import reflections_from_structure
from powderlab.chemistry.xrd.simulate import SimulationOptions, simulate_pattern
from powderlab.core.errors import ValidationError

from .mixtures import make_mixtures, score

MIXTURES = 66


@pytest.fixture(scope="module")
def results() -> list[tuple[object, bool, float]]:
    library = default_library()
    out = []
    for mixture in make_mixtures(library, MIXTURES):
        pattern = simulate_pattern(mixture.fractions, options=mixture.options, seed=mixture.seed)
        analysis = analyze_pattern(pattern, elements=mixture.elements)
        right, error = score(mixture, analysis)
        out.append((mixture, right, error, analysis.unknown_phase_suspected))
    return out


def test_right_phase_set_in_at_least_95_percent(results: list) -> None:
    right = sum(r for _, r, _, _ in results)
    assert right / len(results) >= 0.95, [(m.fractions, m.label) for m, r, _, _ in results if not r]


def test_weight_fractions_within_5_wt_percent_on_average(results: list) -> None:
    assert np.mean([e for _, _, e, _ in results]) < 0.05


def test_strained_textured_noisy_subset_meets_the_same_bar(results: list) -> None:
    hard = [(r, e) for m, r, e, _ in results if m.label != "standard"]
    assert len(hard) >= 15
    assert sum(r for r, _ in hard) / len(hard) >= 0.95
    assert np.mean([e for _, e in hard]) < 0.05


def test_no_unknown_phase_flag_when_every_phase_is_a_candidate(results: list) -> None:
    flagged = sum(f for _, _, _, f in results)
    assert flagged / len(results) <= 0.05


def test_each_found_phase_has_confidence_and_lattice_scale() -> None:
    pattern = simulate_pattern({"LiCoO2": 0.7, "Co3O4": 0.3}, seed=5)
    analysis = analyze_pattern(pattern, elements=["Li", "Co", "O", "C"])
    assert analysis.phase_ids == ("LiCoO2", "Co3O4")
    assert all(p.confidence > 0.9 for p in analysis.phases)
    assert all(abs(p.lattice_scale - 1) < 0.01 for p in analysis.phases)
    assert analysis.rwp < 2 * analysis.rexp
    assert not analysis.unknown_phase_suspected
    assert analysis.fraction("LiCoO2") == pytest.approx(0.7, abs=0.03)


def test_unknown_phase_is_flagged() -> None:
    # ZnO is in the sample but the analysis is told Li-Co-O only
    pattern = simulate_pattern({"LiCoO2": 0.6, "ZnO": 0.4}, seed=7)
    analysis = analyze_pattern(pattern, elements=["Li", "Co", "O"])
    assert analysis.unknown_phase_suspected
    assert analysis.unexplained_fraction > 0.1
    known = analyze_pattern(pattern, elements=["Li", "Co", "Zn", "O"])
    assert not known.unknown_phase_suspected
    assert set(known.phase_ids) == {"LiCoO2", "ZnO"}


def test_amorphous_content_shows_as_a_hump_not_as_a_phase() -> None:
    pattern = simulate_pattern({"BaTiO3": 1.0}, seed=2, amorphous_fraction=0.4)
    analysis = analyze_pattern(pattern, elements=["Ba", "Ti", "O", "C"])
    assert analysis.phase_ids == ("BaTiO3",)
    assert analysis.amorphous_hump_fraction > 0.1


def test_given_reference_structures_instead_of_the_library() -> None:
    library = default_library()
    references = {
        name: reflections_from_structure(library.get(name).structure()) for name in ("ZnO", "Fe2O3", "ZnFe2O4")
    }
    pattern = simulate_pattern({"ZnFe2O4": 0.5, "ZnO": 0.5}, seed=3, options=SimulationOptions().ideal())
    analysis = analyze_pattern(pattern, references=references)
    assert set(analysis.phase_ids) == {"ZnO", "ZnFe2O4"}


def test_simulated_patterns_carry_no_truth_unless_asked() -> None:
    assert simulate_pattern({"ZnO": 1.0}, seed=1).metadata == {}
    assert "truth:ZnO" in simulate_pattern({"ZnO": 1.0}, seed=1, record_truth=True).metadata


def test_analysis_needs_candidates() -> None:
    pattern = simulate_pattern({"ZnO": 1.0}, seed=1)
    with pytest.raises(ValidationError, match="give candidate phase ids"):
        analyze_pattern(pattern)
    with pytest.raises(ValidationError, match="no library phase is made of Xe"):
        analyze_pattern(pattern, elements=["Xe"])
