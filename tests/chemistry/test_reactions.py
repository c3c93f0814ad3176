"""Balanced reactions with gases, energies, masses and errors."""

from __future__ import annotations

import pytest

from powderlab.chemistry.reactions import balance_reaction, obvious_precursors, precursor_masses
from powderlab.core.errors import UnknownResourceError, ValidationError


def test_licoo2_from_carbonate_takes_up_oxygen_and_releases_co2() -> None:
    # 1/2 Li2CO3 + 1/3 Co3O4 + 1/12 O2 -> LiCoO2 + 1/2 CO2 (balanced by hand)
    reaction = balance_reaction("LiCoO2", ["Li2CO3", "Co3O4"])
    assert reaction.precursors == {"Li2CO3": pytest.approx(0.5), "Co3O4": pytest.approx(1 / 3)}
    assert reaction.gases == {"CO2": pytest.approx(0.5), "O2": pytest.approx(-1 / 12)}
    assert str(reaction) == "0.5 Li2CO3 + 0.3333 Co3O4 + 0.08333 O2 -> LiCoO2 + 0.5 CO2"


def test_phosphate_from_ammonium_phosphate_releases_nh3_and_water() -> None:
    reaction = balance_reaction("Li3PO4", ["Li2CO3", "NH4H2PO4"])
    assert reaction.precursors == {"Li2CO3": pytest.approx(1.5), "NH4H2PO4": pytest.approx(1.0)}
    assert reaction.gases == {"CO2": pytest.approx(1.5), "NH3": pytest.approx(1.0), "H2O": pytest.approx(1.5)}


def test_manganese_dioxide_releases_oxygen() -> None:
    reaction = balance_reaction("LiMn2O4", ["Li2CO3", "MnO2"])
    assert reaction.gases == {"CO2": pytest.approx(0.5), "O2": pytest.approx(0.25)}


def test_reaction_energy_per_atom_and_at_temperature() -> None:
    reaction = balance_reaction("BaTiO3", ["BaCO3", "TiO2"])
    # solid-state enthalpy: uphill at 0 K because CO2 must leave; downhill at 1200 K in air
    assert reaction.energy_ev is not None and reaction.energy_ev > 0
    hot = balance_reaction("BaTiO3", ["BaCO3", "TiO2"], temperature_k=1200.0)
    assert hot.energy_ev_per_atom < 0
    oxide = balance_reaction("BaTiO3", ["BaO", "TiO2"])
    assert oxide.energy_ev_per_atom == pytest.approx(oxide.energy_ev / 5.0)
    assert oxide.energy_ev < 0


def test_precursor_masses_match_hand_computation() -> None:
    # per LiCoO2: 0.5 x 73.891 g Li2CO3 + 1/3 x 240.797 g Co3O4 = 36.946 + 80.266 = 117.211 g
    doses = precursor_masses("LiCoO2", ["Li2CO3", "Co3O4"], 1000.0)
    masses = {d.powder: d.target_mg for d in doses}
    assert masses["Li2CO3"] == pytest.approx(1000.0 * 36.946 / 117.211, rel=1e-3)
    assert masses["Co3O4"] == pytest.approx(1000.0 * 80.266 / 117.211, rel=1e-3)
    # 500 mg of LiCoO2 (97.873 g/mol) = 5.1087 mmol -> 377.5 mg Li2CO3 ... by target basis
    target = {d.powder: d.target_mg for d in precursor_masses("LiCoO2", ["Li2CO3", "Co3O4"], 500.0, basis="target")}
    assert target["Li2CO3"] == pytest.approx(500.0 / 97.873 * 36.946, rel=1e-3)


def test_obvious_precursors() -> None:
    assert obvious_precursors("LiFePO4") == ["Fe2O3", "Li2CO3", "NH4H2PO4"]


def test_missing_elements_are_named() -> None:
    with pytest.raises(ValidationError, match="missing elements Co"):
        balance_reaction("LiCoO2", ["Li2CO3", "NiO"])


def test_element_that_cannot_leave_is_named() -> None:
    with pytest.raises(ValidationError, match=r"Sr \(from SrCO3\) is not in BaTiO3"):
        balance_reaction("BaTiO3", ["BaCO3", "TiO2", "SrCO3"])


def test_unknown_precursor_is_named() -> None:
    with pytest.raises(UnknownResourceError, match="unknown precursor 'Li3CO3'"):
        balance_reaction("LiCoO2", ["Li3CO3", "Co3O4"])


def test_bad_batch_mass() -> None:
    with pytest.raises(ValidationError, match="batch_mg"):
        precursor_masses("LiCoO2", ["Li2CO3", "Co3O4"], -5)
