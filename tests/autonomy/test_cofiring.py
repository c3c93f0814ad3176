"""Co-firing, the campaign side: the open furnace runs reach a planner that accepts them, and only such a one."""

from __future__ import annotations

from typing import Any

from powderlab.autonomy.cofiring import ask_planner, cofiring_hint
from powderlab.autonomy.experiments import Experiments
from powderlab.autonomy.model import Proposal, Target
from powderlab.autonomy.standins import StandInAnalyzer
from powderlab.autonomy.state import FILLING, QUEUED
from powderlab.core.samples import SampleStatus
from powderlab.planner.cofiring import CofiringHint
from tests.autonomy.scheduler_states import RecordingPlanner, recipe, world


class CofiringPlanner(RecordingPlanner):
    """Proposes fixed recipes and records the hint of every request."""

    accepts_cofiring = True

    def __init__(self, recipes: list[Any]) -> None:
        super().__init__(recipes)
        self.hints: list[tuple[str, CofiringHint]] = []

    def next_recipe(self, target: Target, history: list[Any], cofiring: CofiringHint | None = None) -> Proposal | None:
        assert cofiring is not None
        self.hints.append((target.formula, cofiring))
        return super().next_recipe(target, history)


def runs(hint: CofiringHint) -> set[tuple[float, int, str, str]]:
    return {(r.temperature_c, r.free_slots, r.state, r.furnace) for r in hint.runs}


def test_the_campaign_passes_the_open_runs_and_its_own_proposals_to_a_planner_that_accepts_them() -> None:
    w = world()
    filling = w.batch(900.0, state=FILLING, furnace="furnace_1")  # 2 slots, 1 member: 1 free
    w.sample(w.experiment(w.target("NaNbO3"), 900.0), "furnace_1/slot_1", SampleStatus.MILLED, filling)
    full = w.batch(800.0)  # queued, 2 members: not open
    for _ in range(2):
        w.sample(w.experiment(w.target("BaTiO3"), 800.0), "buffer/1", SampleStatus.MILLED, full)
    closed = w.batch(700.0, state=QUEUED)
    closed.closed = True  # takes no more crucibles
    w.config.in_flight_per_target = 2
    target = w.target("LiTiO3")
    w.state.ask.add(target.id)
    planner = CofiringPlanner([recipe(1000.0), recipe(1000.0)])
    Experiments(w.state, w.config, planner, StandInAnalyzer(0)).propose()
    assert [formula for formula, _ in planner.hints] == ["LiTiO3", "LiTiO3"]
    first, second = (hint for _, hint in planner.hints)
    assert runs(first) == {(900.0, 1, "filling", "furnace_1")}
    # the first proposal (1000 C, not in any run yet) is open for the second request: 1 of 2 slots free
    assert runs(second) == {(900.0, 1, "filling", "furnace_1"), (1000.0, 1, "proposed", "")}


def test_a_planner_that_does_not_accept_the_hint_is_called_as_before() -> None:
    w = world()
    target = w.target("LiTiO3")
    w.state.ask.add(target.id)
    planner = RecordingPlanner([recipe(900.0)])  # next_recipe(target, history) only
    Experiments(w.state, w.config, planner, StandInAnalyzer(0)).propose()
    assert [e.recipe.heating.max_temperature_c for e in w.state.experiments.values()] == [900.0]
    seen: list[Any] = []

    class Plain:
        def next_recipe(self, *args: Any, **kwargs: Any) -> None:
            seen.append((args, kwargs))

    ask_planner(Plain(), target.target, [], CofiringHint())
    assert seen and seen[0][1] == {}


def test_the_hint_counts_open_members_only() -> None:
    w = world()
    batch = w.batch(900.0)
    sample = w.sample(w.experiment(w.target(), 900.0), "buffer/1", SampleStatus.MILLED, batch)
    failed = w.sample(w.experiment(w.target("NaNbO3"), 900.0), "buffer/2", SampleStatus.FAILED, batch)
    assert runs(cofiring_hint(w.state.batches.values(), w.state.samples.values(), [], 2)) == {(900.0, 1, "queued", "")}
    sample.closed = True
    failed.status = SampleStatus.MILLED
    assert runs(cofiring_hint(w.state.batches.values(), w.state.samples.values(), [], 2)) == {(900.0, 1, "queued", "")}
