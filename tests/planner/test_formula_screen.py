"""A target by formula alone: prototype substitution, CHGNet relaxation, hull, each step explained."""

from __future__ import annotations

import json
import os

import pytest

from powderlab.chemistry.phases import default_library
from powderlab.planner.formula_screen import screen_formula, structure_candidates


def test_structure_candidates_are_prototypes_of_the_same_stoichiometry() -> None:
    found = structure_candidates("MgMnO3", default_library(), limit=5)
    assert found and all(c.formula == "MgMnO3" for c in found)
    assert found[0].prototype == "MgTiO3"  # ilmenite: Mg stays, Ti4+ -> Mn4+ is the most probable
    assert [c.probability for c in found] == sorted((c.probability for c in found), reverse=True)
    assert {c.prototype for c in found} <= {p.phase_id for p in default_library()}


def test_a_formula_without_a_prototype_says_so() -> None:
    result = screen_formula("Li4Nb2O7", competitors=0, optimizer=object())  # no relaxation is reached
    assert not result.candidates and not result.passed
    assert "no library prototype" in result.explain()


def test_plan_screen_of_a_new_formula(capsys: pytest.CaptureFixture, tmp_path) -> None:
    from powderlab.chemistry.candidates import read_candidates
    from powderlab.cli.main import main

    os.environ["OMP_NUM_THREADS"] = "1"
    saved = tmp_path / "candidates.json"  # never the user's file from a test
    args = ["plan", "screen", "MgMnO3", "--candidates", "1", "--competitors", "0", "--steps", "3", "--json"]
    code = main([*args, "--save", str(saved)])
    data = json.loads(capsys.readouterr().out)[0]
    assert data["formula"] == "MgMnO3" and data["in_library"] is False
    assert data["kept"]["prototype"] == "MgTiO3" and data["kept"]["energy_per_atom_ev"] < -5
    assert data["screening"]["e_above_hull_mev_per_atom"] is not None
    assert code == (0 if data["passed"] else 1)
    assert [p.phase_id for p in read_candidates(saved)] == ["candidate-MgMnO3"]  # kept for a campaign (ADR 0109)
