"""The ARROWS start: precursor sets by driving force, temperatures from the precursors, masses."""

from __future__ import annotations

import pytest

from powderlab.chemistry import default_library
from powderlab.planner import Inventory, first_recipes, precursor_sets
from powderlab.planner.recipes import proposed_temperature


def test_sets_cover_the_target_from_the_inventory_ranked_by_driving_force() -> None:
    sets = precursor_sets("LiCoO2", Inventory.from_site("default"))
    assert {s.precursors for s in sets} == {("LiOH", "Co3O4"), ("Li2CO3", "Co3O4")}
    forces = [s.driving_force_ev_per_atom for s in sets]
    assert forces == sorted(forces) and all(f < 0 for f in forces)
    assert "LiCoO2" in sets[0].equation


def test_temperature_follows_the_tamman_temperatures_and_volatility() -> None:
    library = default_library()
    spinel, why = proposed_temperature([library.find("MgO"), library.find("Al2O3")])
    assert spinel >= 1200.0 and "Al2O3" in why  # refractory pair: hot
    carbonate, _ = proposed_temperature([library.find("BaCO3"), library.find("TiO2")])
    assert 900.0 <= carbonate <= 1050.0
    lithium, why = proposed_temperature([library.find("Li2O"), library.find("Al2O3")])  # 967 C uncapped
    assert lithium <= 950.0 and "evaporate" in why


def test_first_recipes_are_distinct_balanced_and_explained() -> None:
    choices = first_recipes(precursor_sets("LiCoO2", Inventory.from_site("default")), count=5)
    assert len(choices) == 5 and len({c.key for c in choices}) == 5
    recipe = choices[0].recipe()
    assert recipe.target == "LiCoO2" and recipe.total_mass_mg == pytest.approx(1000.0)
    masses = {d.powder: d.target_mg for d in recipe.precursors}
    # LiOH + 1/3 Co3O4 -> LiCoO2: mass ratio 23.95 : 80.24
    assert masses["LiOH"] / masses["Co3O4"] == pytest.approx(23.95 / 80.24, rel=1e-3)
    assert recipe.heating.max_temperature_c == choices[0].temperature_c
    assert all(c.why and "driving force" in c.why[0] for c in choices)
