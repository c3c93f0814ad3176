"""Active learning: what an analysed attempt teaches changes the next proposal; budgets end targets."""

from __future__ import annotations

from dataclasses import replace

from powderlab.autonomy.model import Attempt, ExperimentStatus, Target
from powderlab.planner import ArrowsPlanner, first_recipes
from powderlab.planner.service import PlannerService
from tests.planner.conftest import analysed


def test_a_learned_pairwise_reaction_to_an_inert_intermediate_changes_the_next_proposal() -> None:
    target = Target("LiMn2O4", budget=5)
    planner = ArrowsPlanner()
    first = planner.next_recipe(target, [])
    assert sorted(d.powder for d in first.recipe.precursors) == ["LiOH", "MnO2"]
    # control: only unreacted precursors seen -> the same set, hotter
    cold = [analysed(first.recipe, {"LiOH": 0.3, "MnO2": 0.7})]
    control = ArrowsPlanner().next_recipe(target, cold)
    assert sorted(d.powder for d in control.recipe.precursors) == ["LiOH", "MnO2"]
    assert control.recipe.heating.max_temperature_c > first.recipe.heating.max_temperature_c
    # the pattern shows LiOH + MnO2 -> Li2MnO3 with little driving force left to LiMn2O4
    trapped = analysed(first.recipe, {"Li2MnO3": 0.45, "Mn2O3": 0.55})
    planner.report(target, trapped)
    assert "Li2MnO3" in planner.memory.pairs[frozenset({"LiOH", "MnO2"})]
    assert "Li2MnO3" in planner.memory.inert["LiMn2O4"]
    following = planner.next_recipe(target, [trapped])
    assert sorted(d.powder for d in following.recipe.precursors) == ["Li2CO3", "MnO2"]
    assert "inert Li2MnO3" in following.reason


def test_evaporation_moves_the_temperature_down() -> None:
    target = Target("LiCoO2", budget=5)
    planner = ArrowsPlanner()
    start = first_recipes(planner.sets("LiCoO2"))[0]
    recipe = replace(start, temperature_c=1000.0).recipe()
    hot = analysed(recipe, {"LiCoO2": 0.2, "Co3O4": 0.8})  # Li short: it evaporated
    proposal = planner.next_recipe(target, [hot])
    assert proposal.recipe.heating.max_temperature_c < 1000.0
    assert "evaporated" in proposal.reason


def test_no_reaction_far_above_the_tamman_temperatures_ends_the_target() -> None:
    target = Target("CoTiO3", budget=5)
    planner = ArrowsPlanner()
    history: list[Attempt] = []
    while (proposal := planner.next_recipe(target, history)) is not None:
        history.append(analysed(proposal.recipe, {"Co3O4": 0.4, "TiO2": 0.6}, len(history) + 1))
    temperatures = [a.recipe.heating.max_temperature_c for a in history]
    assert temperatures == sorted(temperatures) and len(set(temperatures)) == len(temperatures)  # hotter each time
    assert len(history) < 5  # gave up before the budget: twice nothing reacted above the Tamman temperatures
    assert "no real driving force" in planner.explanations["CoTiO3"]


def test_the_budget_ends_a_target() -> None:
    target = Target("BaTiO3", budget=2)
    planner = ArrowsPlanner()
    history: list[Attempt] = []
    for number in (1, 2):
        proposal = planner.next_recipe(target, history)
        assert proposal is not None
        history.append(analysed(proposal.recipe, {"BaTiO3": 0.1, "BaCO3": 0.5, "TiO2": 0.4}, number))
    assert planner.next_recipe(target, history) is None
    assert "budget" in planner.explanations["BaTiO3"]
    # a lab failure counts against the budget too, and a made target asks for nothing more
    failed = [Attempt("e1", 1, history[0].recipe, ExperimentStatus.FAILED, failure="crucible dropped")]
    assert planner.next_recipe(Target("BaTiO3", budget=1), failed) is None
    made = [analysed(history[0].recipe, {"BaTiO3": 0.9, "TiO2": 0.1})]
    assert planner.next_recipe(Target("BaTiO3", budget=5), made) is None


def test_the_queue_marks_a_target_exhausted_when_its_budget_is_spent() -> None:
    service = PlannerService()
    service.submit({"targets": [{"formula": "BaTiO3", "budget": 2}]})
    for _ in range(2):
        record = service.propose("BaTiO3")
        service.report("BaTiO3", record.recipe.recipe_id, 0.05, {"BaTiO3": 0.05, "BaCO3": 0.55, "TiO2": 0.4})
    assert service.target("BaTiO3").status == "exhausted"
    assert service.propose("BaTiO3") is None
    assert "budget" in service.queue()[0]["last_reason"]


def test_heating_up_tries_just_below_a_precursor_decomposition_first() -> None:
    target = Target("CoTiO3", budget=5)
    planner = ArrowsPlanner()
    first = planner.next_recipe(target, [])
    assert first.recipe.heating.max_temperature_c == 700.0
    cold = [analysed(first.recipe, {"Co3O4": 0.4, "TiO2": 0.6})]
    proposal = planner.next_recipe(target, cold)
    assert proposal.recipe.heating.max_temperature_c == 850.0  # Co3O4 -> CoO at 895 C
    assert "Co3O4's decomposition" in proposal.reason
