"""Routing on hand-built states: the next step of a sample, its arm, and refusals of busy resources."""

from __future__ import annotations

from powderlab.autonomy.routing import Router
from powderlab.autonomy.state import FILLING, HEATING
from powderlab.core.samples import SampleStatus
from tests.autonomy.scheduler_states import world


def router(w):
    return Router(w.state, w.config)


def test_a_planned_sample_goes_from_storage_to_the_balance_with_the_arm_that_reaches_both():
    w = world()
    sample = w.sample(w.experiment(w.target()), "storage/1")
    op = router(w).next_step(sample, set())
    assert (op.action, op.purpose, op.station) == ("transfer", "to_balance", "transfer")
    assert op.goal == {
        "sample_id": sample.id,
        "labware_id": sample.labware_id,
        "source": "storage/1",
        "destination": "dosing/balance",
    }
    assert set(op.resources) == {"arm:arm_a", "pos:storage/1", "pos:dosing/balance"}


def test_a_step_is_refused_while_its_arm_or_destination_is_busy():
    w = world()
    sample = w.sample(w.experiment(w.target()), "storage/1")
    route = router(w)
    assert route.next_step(sample, {"arm:arm_a"}) is None
    assert route.next_step(sample, {"pos:dosing/balance"}) is None
    assert route.next_step(sample, {"arm:arm_b"}) is not None  # the other arm does not matter
    w.state.occupied["dosing/balance"] = "someone-else"
    assert route.next_step(sample, set()) is None


def test_dosing_goal_carries_the_recipe_and_waits_for_the_station():
    w = world()
    experiment = w.experiment(w.target())
    sample = w.sample(experiment, "dosing/balance")
    op = router(w).next_step(sample, set())
    assert (op.action, op.station) == ("dose", "dosing")
    assert op.goal["powders"] == [{"powder": d.powder, "target_mg": d.target_mg} for d in experiment.recipe.precursors]
    assert set(op.resources) == {"station:dosing", "pos:dosing/balance"}
    assert router(w).next_step(sample, {"station:dosing"}) is None


def test_a_milled_sample_is_staged_only_while_the_reserve_stays_free():
    w = world()
    sample = w.sample(w.experiment(w.target()), "milling/clamp", SampleStatus.MILLED)
    op = router(w).next_step(sample, set())
    assert (op.purpose, op.goal["destination"]) == ("stage", "buffer/1")
    w.state.occupied["buffer/1"] = "x"
    w.state.occupied["buffer/2"] = "y"  # one place left = the reserve for unloading
    assert router(w).next_step(sample, set()) is None
    assert "staging" in w.state.waiting


def test_loading_goes_to_the_first_free_slot_of_the_batch_furnace_with_arm_b():
    w = world()
    batch = w.batch(state=FILLING, furnace="furnace_2")
    sample = w.sample(w.experiment(w.target()), "buffer/1", SampleStatus.MILLED, batch)
    w.state.occupied["furnace_2/slot_1"] = "already-in"
    op = router(w).next_step(sample, set())
    assert (op.action, op.batch_id) == ("load_furnace", batch.id)
    assert op.goal == {
        "sample_id": sample.id,
        "labware_id": sample.labware_id,
        "source": "buffer/1",
        "furnace": "furnace_2",
        "slot": 2,
    }
    assert set(op.resources) == {"furnace:furnace_2", "arm:arm_b", "pos:buffer/1", "pos:furnace_2/slot_2"}
    assert router(w).next_step(sample, {"furnace:furnace_2"}) is None
    batch.state = HEATING
    assert router(w).next_step(sample, set()) is None  # only a filling batch is loaded


def test_unloading_keeps_done_places_for_samples_coming_back_from_xrd():
    w = world()
    batch = w.batch(state=FILLING, furnace="furnace_1")
    sample = w.sample(w.experiment(w.target()), "furnace_1/slot_1", SampleStatus.HEATED, batch)
    op = router(w).next_step(sample, set())
    assert (op.action, op.goal["destination"]) == ("unload_furnace", "done/1")
    # three samples at or going to the XRD would need all three done places: park in the buffer
    other = w.experiment(w.target("NaNbO3"))
    w.sample(other, "xrd/recovery", SampleStatus.MEASURED)
    w.state.occupied["done/1"] = w.state.occupied["done/2"] = "full"
    op = router(w).next_step(sample, set())
    assert op.goal["destination"] == "buffer/1"


def test_dispatch_starts_the_sample_furthest_along_first_and_refuses_the_one_that_needs_its_arm():
    w = world()
    target = w.target()
    planned = w.sample(w.experiment(target), "storage/1")  # wants arm_a to the (free) balance
    milled = w.sample(w.experiment(target), "milling/clamp", SampleStatus.MILLED)  # wants arm_a to the buffer
    launched = []
    busy = router(w).dispatch(launched.append)
    # both asked for arm_a; the one further along got it
    assert [(op.sample_id, op.purpose) for op in launched] == [(milled.id, "stage")]
    assert "arm:arm_a" in busy
    assert planned.id not in {op.sample_id for op in launched}


def test_a_failed_sample_that_never_left_storage_is_closed_and_one_elsewhere_is_discarded():
    w = world()
    experiment = w.experiment(w.target())
    unused = w.sample(experiment, "storage/2", SampleStatus.FAILED)
    assert router(w).next_step(unused, set()) is None
    assert unused.closed and unused.status is SampleStatus.FAILED
    dosed = w.sample(experiment, "milling/clamp", SampleStatus.FAILED)
    op = router(w).next_step(dosed, set())
    assert (op.purpose, op.goal["destination"]) == ("discard", "done/1")


def test_measured_sample_is_stored_and_closed_once_in_the_done_rack():
    w = world()
    sample = w.sample(w.experiment(w.target()), "xrd/recovery", SampleStatus.MEASURED)
    op = router(w).next_step(sample, set())
    assert (op.purpose, op.goal["destination"]) == ("store", "done/1")
    sample.location = "done/1"
    assert router(w).next_step(sample, set()) is None
    assert sample.closed
    assert ("save", type(sample), sample.id) in w.events()  # the close is marked for the next flush
