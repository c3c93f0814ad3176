"""External target lists: formula, optional structure (CIF or dict), optional energy; errors per entry."""

from __future__ import annotations

from pymatgen.io.cif import CifWriter

from powderlab.chemistry import default_library
from powderlab.planner.service import PlannerService


def nacro2_as_naalo2() -> object:
    structure = default_library().find("NaCrO2").structure()
    structure.replace_species({"Cr": "Al"})
    return structure


def test_good_entries_are_queued_and_each_bad_one_gets_its_own_error() -> None:
    service = PlannerService()
    result = service.submit(
        {
            "targets": [
                "LiCoO2",
                {"formula": "BaTiO3", "budget": 3, "priority": 2},
                {"formula": "Q2O3"},
                {"formula": "Li7La3Zr2O12"},
                {"formula": "BaTiO3", "budget": 0},
                {"formula": "SrTiO3", "energy_per_atom_ev": -7.0},
                {"formula": "LiCoO2", "colour": "blue"},
                {"formula": "NaAlO2", "structure": "not a cif"},
                42,
            ]
        }
    )
    assert [e.formula for e in result.accepted] == ["LiCoO2", "BaTiO3"]
    errors = "\n".join(result.errors)
    assert len(result.errors) == 7
    assert "entry 3 (Q2O3)" in errors and "not a chemical formula" in errors
    assert "entry 4 (Li7La3Zr2O12)" in errors and "give its structure" in errors
    assert "entry 5 (BaTiO3): budget" in errors
    assert "entry 6 (SrTiO3): energy_per_atom_ev: given without a structure" in errors
    assert "entry 7 (LiCoO2): entry: unknown keys ['colour']" in errors
    assert "entry 8 (NaAlO2): structure: could not be read" in errors
    assert "entry 9 (42)" in errors
    assert [q["formula"] for q in service.queue()] == ["BaTiO3", "LiCoO2"]  # priority first


def test_a_new_compound_with_structure_and_energy_is_added_and_planned() -> None:
    service = PlannerService(relax=None)  # no CHGNet here: an entry without energy is refused
    cif = str(CifWriter(nacro2_as_naalo2()))
    result = service.submit(
        [
            {"formula": "NaAlO2", "structure": cif, "energy_per_atom_ev": -6.58, "budget": 2},
            {"formula": "NaAlO2", "structure": nacro2_as_naalo2().as_dict()},  # no energy
            {"formula": "LiAlO2", "structure": cif, "energy_per_atom_ev": -6.5},  # composition mismatch
        ]
    )
    assert [e.phase_id for e in result.accepted][:1] == ["ext-NaAlO2"]
    assert "entry 2 (NaAlO2): energy_per_atom_ev: missing" in "\n".join(result.errors)
    assert "entry 3 (LiAlO2): structure: its composition NaAlO2 is not the formula LiAlO2" in "\n".join(result.errors)
    record = service.propose("NaAlO2")
    assert record is not None
    assert {d.powder for d in record.recipe.precursors} == {"Na2CO3", "Al2O3"}
    assert "driving force" in record.reason


def test_a_target_the_lab_cannot_dose_is_refused() -> None:
    structure = default_library().find("LiAlO2").structure()
    structure.replace_species({"Al": "Ga"})
    service = PlannerService()
    result = service.submit([{"formula": "LiGaO2", "structure": structure.as_dict(), "energy_per_atom_ev": -5.0}])
    assert not result.accepted
    assert "no powder in the inventory brings Ga" in result.errors[0]
