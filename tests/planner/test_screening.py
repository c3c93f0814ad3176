"""Screening: hull threshold, stability in air, dosable elements; each verdict explained."""

from __future__ import annotations

from powderlab.planner import Inventory, Screener


def checks(result) -> dict[str, bool]:
    return {c.name: c.passed for c in result.checks}


def test_a_hull_phase_stable_in_air_and_dosable_is_a_target() -> None:
    result = Screener().screen("LiCoO2")
    assert result.passed
    assert result.e_above_hull_ev == 0.0
    assert checks(result) == {"dosable": True, "hull": True, "air": True}
    assert "Co3O4" in result.competing
    assert "TARGET" in result.explain()


def test_above_the_hull_threshold_is_rejected_and_the_threshold_is_a_parameter() -> None:
    strict = Screener().screen("NiMn2O4")  # 29 meV/atom above Mn2O3 + NiO
    assert not checks(strict)["hull"]
    assert 0.025 < strict.e_above_hull_ev < 0.035
    assert any("Mn2O3" in c for c in strict.competing)
    lenient = Screener(hull_threshold_ev=0.05).screen("NiMn2O4")
    assert checks(lenient)["hull"]


def test_phases_that_react_with_air_are_rejected_with_the_products() -> None:
    result = Screener().screen("CaO")
    air = next(c for c in result.checks if c.name == "air")
    assert not air.passed and "CO2" in air.reason and "CaCO3" in air.reason
    oxidised = next(c for c in Screener().screen("FeO").checks if c.name == "air")
    assert not oxidised.passed and "Fe2O3" in oxidised.reason


def test_elements_the_lab_cannot_dose_are_rejected() -> None:
    no_cobalt = Inventory(("Li2CO3", "TiO2"), "test shelf")
    result = Screener(inventory=no_cobalt).screen("LiCoO2")
    dosable = next(c for c in result.checks if c.name == "dosable")
    assert not dosable.passed and "Co" in dosable.reason
    assert not result.passed


def test_inventory_comes_from_the_site_dosing_heads() -> None:
    inventory = Inventory.from_site("default")
    assert {"Li2CO3", "LiOH", "NH4H2PO4", "Co3O4"} <= set(inventory.powders)
    assert {"Li", "P", "Co"} <= inventory.elements()
