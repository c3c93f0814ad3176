"""The planner benchmark's hard-target rule (bench_planner --hard-fraction, ADR 0113): the share of
first guesses (precursor set x temperature) that make a target in the hidden truth."""

from __future__ import annotations

import pytest

from powderlab.chemistry.phases import default_library
from powderlab.chemistry.truth import SynthesisModel
from powderlab.chemistry.truth.doped import with_doped
from powderlab.chemistry.truth.first_guess import FirstGuessOdds, first_guess_odds
from powderlab.core.errors import ValidationError

DOPED = "Ni0.75Mg0.25TiO3"
FREE = ("NiO", "MgO", "TiO2")  # a free Mg source: the doped phase forms
LOCKED = ("NiO", "MgTiO3", "TiO2")  # Mg locked in MgTiO3: NiTiO3 forms undoped beside it


def test_a_target_only_one_first_guess_makes_is_kept() -> None:
    model = SynthesisModel(0, library=with_doped(default_library(), [("NiTiO3", "MgTiO3", 0.25)]))
    odds = first_guess_odds(model, DOPED, [FREE, LOCKED], (600.0, 1100.0))
    assert (odds.worked, odds.tried) == (1, 4)
    assert odds.working == ((FREE, 1100.0),)
    assert odds.fraction == pytest.approx(0.25)
    assert odds.is_hard(0.35)
    assert not odds.is_hard(0.2)


def test_an_easy_target_is_dropped_and_so_is_one_no_first_guess_makes() -> None:
    odds = first_guess_odds(SynthesisModel(0), "BaTiO3", [("BaCO3", "TiO2")], (1000.0, 1200.0))
    assert (odds.worked, odds.tried) == (2, 2)
    assert not odds.is_hard(0.35)
    # no first guess works: not a hard target but an unmakeable one (kept out: it cannot separate planners)
    assert not FirstGuessOdds("X", 0, 12, ()).is_hard(0.35)
    with pytest.raises(ValidationError, match="at least one balanced set"):
        first_guess_odds(SynthesisModel(0), "BaTiO3", [])
