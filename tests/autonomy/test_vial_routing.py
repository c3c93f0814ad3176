"""A stored powder goes on a dosing head before the sample is dosed (ADR 0106), on hand-built states."""

from __future__ import annotations

from powderlab.autonomy.experiments import Experiments
from powderlab.autonomy.outcomes import Outcomes
from powderlab.autonomy.routing import Router
from powderlab.autonomy.targets import parse_recipe
from powderlab.core.samples import SampleStatus
from tests.autonomy.scheduler_states import completion, world


def stored_world():
    """Heads A, B, C; the store holds X and Y. Experiment 1 needs X and A, experiment 2 needs B."""
    w = world()
    w.state.heads, w.state.stored = ["A", "B", "C"], ["X", "Y"]
    first, second = w.experiment(w.target("LiXO")), w.experiment(w.target("LiBO"))
    first.recipe = parse_recipe({"precursors": {"X": 100.0, "A": 50.0}, "temperature_c": 900}, "LiXO", 1, {})
    second.recipe = parse_recipe({"precursors": {"B": 100.0}, "temperature_c": 900}, "LiBO", 1, {})
    return w, w.sample(first, "dosing/balance"), w.sample(second, "storage/1")


def test_a_sample_needing_a_stored_powder_gets_it_loaded_onto_a_head_no_waiting_sample_needs():
    w, sample, _ = stored_world()
    route = Router(w.state, w.config)
    op = route.next_step(sample, set())
    assert (op.station, op.action, op.purpose, op.sample_id) == ("dosing", "load_vial", "load_vial", sample.id)
    assert op.goal == {"powder": "X", "replace": "C"}  # A: this sample's, B: the other waiting sample's
    assert op.resources == ("station:dosing",)
    assert route.next_step(sample, {"station:dosing"}) is None

    outcomes = Outcomes(w.state, w.config, Experiments(w.state, w.config, None, None), lambda correct: None)
    w.state.ops[op.id] = op
    outcomes.record(
        op, completion(op, powder="X", head=2, stock_mg=3e4, returned_powder="C", returned_stock_mg=5.0, slot=1)
    )
    assert (w.state.heads, w.state.stored) == (["A", "B", "X"], ["Y", "C"])
    assert any(key[1] == "event" for key in w.events())  # 'inventory' event in the log

    dose = route.next_step(sample, set())
    assert dose.action == "dose" and [p["powder"] for p in dose.goal["powders"]] == ["X", "A"]


def test_when_every_head_is_needed_the_sample_waits_and_says_why():
    w, sample, other = stored_world()
    w.state.heads = ["A", "B"]
    assert Router(w.state, w.config).next_step(sample, set()) is None
    assert "X waits for a head" in w.state.waiting["heads"]
    other.status = SampleStatus.DOSED  # B no longer needed: its head may take X
    assert Router(w.state, w.config).next_step(sample, set()).goal == {"powder": "X", "replace": "B"}


def test_a_restarted_campaign_replays_the_recorded_vial_swaps():
    w, _, _ = stored_world()
    rows = [
        {"action": "load_vial", "state": "succeeded", "result": {"powder": "X", "returned_powder": "C"}},
        {"action": "load_vial", "state": "failed", "result": {}},
        {"action": "dose", "state": "succeeded", "result": {"doses": []}},
        {"action": "load_vial", "state": "succeeded", "result": {"powder": "C", "returned_powder": "A"}},
    ]
    w.state.replay_vials(rows)
    assert (w.state.heads, w.state.stored) == (["C", "B", "X"], ["Y", "A"])
