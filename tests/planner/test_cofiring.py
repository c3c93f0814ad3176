"""Co-firing: the ARROWS planner joins an open furnace run where a neighbouring temperature is of equal standing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from powderlab.autonomy.model import Target
from powderlab.core.errors import ValidationError
from powderlab.core.recipes import a_lab_profile
from powderlab.planner import ArrowsPlanner, first_recipes
from powderlab.planner.cofiring import CofiringHint, OpenRun, open_runs
from tests.planner.conftest import analysed


def hint(*runs: tuple[float, float, int, str]) -> CofiringHint:
    """Open runs from (temperature C, dwell h, free slots, state)."""
    return CofiringHint(tuple(OpenRun(a_lab_profile(t, d), free, state) for t, d, free, state in runs))


def temperature(proposal) -> float:
    return proposal.recipe.heating.max_temperature_c


def test_a_first_recipe_moves_one_step_to_join_an_open_run_and_says_so() -> None:
    target = Target("BaTiO3", budget=4)
    alone = ArrowsPlanner().next_recipe(target, [])
    assert temperature(alone) == 1000.0  # the Tamman estimate
    joined = ArrowsPlanner().next_recipe(target, [], cofiring=hint((950.0, 4.0, 3, "filling")))
    assert temperature(joined) == 950.0
    assert "950 C rather than 1000 C" in joined.reason and "a furnace run being loaded" in joined.reason
    assert joined.details["cofiring"]["moved_c"] == -50.0
    assert [d.powder for d in joined.recipe.precursors] == [d.powder for d in alone.recipe.precursors]


def test_a_fuller_own_run_wins_and_far_or_other_dwell_runs_are_not_joined() -> None:
    target = Target("BaTiO3", budget=4)
    offered = hint((950.0, 4.0, 5, "proposed"), (1000.0, 4.0, 1, "proposed"))
    own = ArrowsPlanner().next_recipe(target, [], cofiring=offered)
    assert temperature(own) == 1000.0 and "rather than" not in own.reason
    assert own.details["cofiring"]["moved_c"] == 0.0
    offered = hint((900.0, 4.0, 7, "filling"), (1050.0, 12.0, 7, "queued"), (1100.0, 4.0, 3, "filling"))
    far = ArrowsPlanner().next_recipe(target, [], cofiring=offered)
    assert temperature(far) == 1000.0 and "cofiring" not in far.details


def test_a_furnace_being_loaded_beats_a_queued_run_and_runs_still_forming() -> None:
    target = Target("BaTiO3", budget=4)
    offered = hint((1000.0, 4.0, 7, "proposed"), (950.0, 4.0, 7, "queued"), (1050.0, 4.0, 2, "filling"))
    assert temperature(ArrowsPlanner().next_recipe(target, [], cofiring=offered)) == 1050.0
    offered = hint((1000.0, 4.0, 7, "proposed"), (950.0, 4.0, 7, "queued"))
    assert temperature(ArrowsPlanner().next_recipe(target, [], cofiring=offered)) == 950.0
    # of the same kind: the run closest to full, even over its own temperature
    offered = hint((1050.0, 4.0, 6, "proposed"), (950.0, 4.0, 2, "proposed"), (1000.0, 4.0, 7, "proposed"))
    assert temperature(ArrowsPlanner().next_recipe(target, [], cofiring=offered)) == 950.0
    offered = hint((1050.0, 4.0, 2, "proposed"), (950.0, 4.0, 2, "proposed"), (1000.0, 4.0, 2, "proposed"))
    assert temperature(ArrowsPlanner().next_recipe(target, [], cofiring=offered)) == 1000.0


def test_a_learning_step_keeps_its_direction() -> None:
    target = Target("BaTiO3", budget=5)
    planner = ArrowsPlanner()
    start = first_recipes(planner.sets("BaTiO3"))[0]
    cold = analysed(replace(start, temperature_c=800.0).recipe(), {"BaCO3": 0.5, "TiO2": 0.35, "BaTiO3": 0.15})
    alone = ArrowsPlanner().next_recipe(target, [cold])
    step = temperature(alone)
    assert step > 800.0
    # a run one step hotter than the learning step: joined (still hotter than 800 C)
    hotter = ArrowsPlanner().next_recipe(target, [cold], cofiring=hint((step + 50.0, 4.0, 4, "filling")))
    assert temperature(hotter) == step + 50.0 and "share a furnace run" in hotter.reason
    # a run at the temperature that was too cold is never a step hotter
    back = ArrowsPlanner().next_recipe(target, [cold], cofiring=hint((800.0, 4.0, 4, "filling")))
    assert temperature(back) == step


def test_a_longer_dwell_at_a_tried_temperature_never_moves() -> None:
    target = Target("BaTiO3", budget=5)
    planner = ArrowsPlanner()
    start = first_recipes(planner.sets("BaTiO3"))[0]
    partial = analysed(start.recipe(), {"BaTiO3": 0.45, "BaCO3": 0.15, "TiO2": 0.1})
    alone = ArrowsPlanner().next_recipe(target, [partial])
    assert temperature(alone) == start.temperature_c and "12 h" in alone.reason
    offered = hint((start.temperature_c + 50.0, 12.0, 6, "filling"), (start.temperature_c - 50.0, 12.0, 6, "filling"))
    assert temperature(ArrowsPlanner().next_recipe(target, [partial], cofiring=offered)) == start.temperature_c


def test_a_run_across_a_precursors_decomposition_is_not_joined() -> None:
    target = Target("CoAl2O4", budget=5)
    planner = ArrowsPlanner()
    start = first_recipes(planner.sets("CoAl2O4"))[0]
    assert "Co3O4" in start.precursor_set.precursors  # decomposes to CoO at 895 C
    cold = analysed(start.recipe(), {"Co3O4": 0.4, "Al2O3": 0.6})
    alone = ArrowsPlanner().next_recipe(target, [cold])
    assert temperature(alone) == 850.0 and "decomposition" in alone.reason
    across = ArrowsPlanner().next_recipe(target, [cold], cofiring=hint((900.0, 4.0, 7, "filling")))
    assert temperature(across) == 850.0
    below = ArrowsPlanner().next_recipe(target, [cold], cofiring=hint((800.0, 4.0, 7, "filling")))
    assert temperature(below) == 850.0  # just below the decomposition on purpose: stays there


def test_open_runs_count_free_slots_after_proposed_experiments() -> None:
    at = a_lab_profile
    result = open_runs(
        [(at(900.0), 5, "filling", "furnace_2"), (at(800.0), 2, "queued", "")],
        [at(900.0), at(900.0), at(800.0), at(800.0), *[at(1000.0)] * 9, *[at(700.0)] * 8],
        capacity=8,
    )
    free = {(run.temperature_c, run.state): run.free_slots for run in result.runs}
    # 900: two of five free slots taken; 800: both taken (not open); 1000: a second run with 7 free;
    # 700: one full run (not open)
    assert free == {(900.0, "filling"): 3, (1000.0, "proposed"): 7}
    assert result.runs[0].furnace == "furnace_2"


def test_a_full_run_or_a_bad_tolerance_is_refused_with_what_is_allowed() -> None:
    with pytest.raises(ValidationError, match="allowed: an integer >= 1"):
        OpenRun(a_lab_profile(900.0), 0)
    with pytest.raises(ValidationError, match="allowed: filling, queued, proposed"):
        OpenRun(a_lab_profile(900.0), 2, "heating")
    with pytest.raises(ValidationError, match="allowed: 0 to 100 C"):
        CofiringHint((), tolerance_c=500.0)
