"""Furnace batching and admission on hand-built states: profiles, capacity, furnaces, heating."""

from __future__ import annotations

from powderlab.autonomy.furnaces import Furnaces
from powderlab.autonomy.model import ExperimentStatus, TargetStatus
from powderlab.autonomy.state import FILLING, QUEUED, BatchRecord, SampleRecord
from powderlab.core.samples import SampleStatus
from tests.autonomy.scheduler_states import world


def test_admission_groups_experiments_by_heating_profile_and_respects_batch_capacity():
    w = world()
    w.crucibles("storage/1", "storage/2", "storage/3", "storage/4")
    target = w.target()
    hot = [w.experiment(target, 900.0) for _ in range(3)]
    cool = w.experiment(w.target("NaNbO3"), 800.0)
    furnaces = Furnaces(w.state, w.config)
    assert furnaces.batch_capacity == 2
    furnaces.admit()
    by_experiment = {s.experiment_id: s for s in w.state.samples.values()}
    # the 900 C group is larger: it opens the first batch and fills it to capacity; the third 900 C
    # experiment needs a second batch, and then every furnace has an unsettled batch: no 800 C batch
    first, second = (by_experiment[e.id].batch_id for e in hot[:2])
    assert first == second
    assert by_experiment[hot[2].id].batch_id not in ("", first)
    assert cool.id not in by_experiment
    assert len(w.state.batches) == 2
    for batch in w.state.batches.values():
        assert batch.state == QUEUED and len(w.state.members(batch)) <= batch.capacity
        assert batch.key == hot[0].profile_key
    assert all(e.status is ExperimentStatus.RUNNING for e in hot)
    assert sorted(s.labware_id for s in w.state.samples.values()) == sorted(f"fresh-storage-{i}" for i in (1, 2, 3))
    # the writes: a batch is inserted before the first sample that references it
    pending = w.events()
    first_batch = pending.index(("add", BatchRecord, first))
    first_sample = min(pending.index(("add", SampleRecord, s.id)) for s in w.state.samples.values())
    assert first_batch < first_sample


def test_an_open_batch_of_the_same_profile_is_joined_before_a_new_one_is_made():
    w = world()
    w.crucibles("storage/1")
    batch = w.batch(800.0, state=FILLING, furnace="furnace_1")
    w.sample(w.experiment(w.target("NaNbO3"), 800.0), "buffer/1", SampleStatus.MILLED, batch)
    newer = w.experiment(w.target(), 800.0)
    Furnaces(w.state, w.config).admit()
    sample = next(s for s in w.state.samples.values() if s.experiment_id == newer.id)
    assert sample.batch_id == batch.id
    assert len(w.state.batches) == 1


def test_no_new_batch_while_every_furnace_has_an_unsettled_one():
    w = world()
    w.batch(900.0)
    w.batch(1000.0)
    experiment = w.experiment(w.target(), 800.0)
    assert Furnaces(w.state, w.config).choose_admission([experiment]) is None


def test_no_admission_without_a_fresh_crucible_and_the_reason_is_given():
    w = world()
    w.experiment(w.target())
    w.state.occupied["storage/1"] = "used"
    w.state.used_labware.add("used")
    Furnaces(w.state, w.config).admit()
    assert not w.state.samples
    assert "refill" in w.state.waiting["crucibles"]


def test_a_made_target_gets_no_new_samples():
    w = world()
    w.crucibles("storage/1")
    target = w.target()
    w.experiment(target)
    target.status = TargetStatus.MADE
    assert Furnaces(w.state, w.config).pending_experiments() == []


def test_queued_batches_take_free_furnaces_highest_priority_first_and_skip_a_furnace_not_yet_empty():
    w = world()
    low = w.batch(900.0)
    high = w.batch(800.0)
    w.sample(w.experiment(w.target("LiTiO3", priority=0), 900.0), "storage/1", batch=low)
    w.sample(w.experiment(w.target("NaNbO3", priority=5), 800.0), "storage/2", batch=high)
    w.state.occupied["furnace_1/slot_2"] = "left-behind"
    Furnaces(w.state, w.config).assign_furnaces()
    assert (high.state, high.furnace) == (FILLING, "furnace_2")
    assert (low.state, low.furnace) == (QUEUED, "")


def test_a_full_batch_heats_once_every_member_is_loaded():
    w = world()
    batch = w.batch(900.0, state=FILLING, furnace="furnace_1")
    target = w.target()
    loaded = w.sample(w.experiment(target), "furnace_1/slot_1", SampleStatus.MILLED, batch)
    coming = w.sample(w.experiment(target), "buffer/1", SampleStatus.MILLED, batch)
    furnaces = Furnaces(w.state, w.config)
    launched = []
    furnaces.heat(set(), launched.append)
    assert launched == []
    coming.location = "furnace_1/slot_2"
    furnaces.heat({"arm:arm_a"}, launched.append)
    [op] = launched
    assert (op.action, op.batch_id, op.resources) == ("heat", batch.id, ("furnace:furnace_1",))
    assert op.goal == {"furnace": "furnace_1", "profile": batch.profile.to_list()}
    assert batch.closed
    assert loaded.batch_id == batch.id


def test_a_part_filled_batch_waits_for_more_of_its_profile_then_heats_after_batch_wait():
    w = world()
    w.crucibles("storage/1")
    batch = w.batch(900.0, state=FILLING, furnace="furnace_1")
    target = w.target()
    w.sample(w.experiment(target), "furnace_1/slot_1", SampleStatus.MILLED, batch)
    batch.last_load_s = w.clock()
    w.experiment(target, 900.0)  # another 900 C experiment is waiting for a crucible
    furnaces = Furnaces(w.state, w.config)
    launched = []
    w.clock.t += w.config.batch_wait_s * 10
    furnaces.heat(set(), launched.append)
    assert launched == [] and not batch.closed  # more of its profile is coming: no wait limit
    w.state.experiments.popitem()  # nothing more of the profile
    w.clock.t = batch.last_load_s + w.config.batch_wait_s - 1
    w.sample(w.experiment(w.target("NaNbO3")), "dosing/balance")  # work upstream: the batch may wait
    furnaces.heat(set(), launched.append)
    assert launched == []
    w.clock.t += 1
    furnaces.heat(set(), launched.append)
    assert [op.action for op in launched] == ["heat"]


def test_a_part_filled_run_whose_crucibles_joined_a_batch_wait_ago_heats_once_they_are_loaded():
    # ADR 0111: the wait runs from the last crucible that joined the run, not the last one loaded
    # (a run queued behind another is loaded only when its furnace frees, long after they joined)
    w = world(now=100_000.0)
    batch = w.batch(900.0, state=FILLING, furnace="furnace_1")
    sample = w.sample(w.experiment(w.target(), 900.0), "furnace_1/slot_1", SampleStatus.MILLED, batch)
    w.sample(w.experiment(w.target("NaNbO3"), 800.0), "dosing/balance")  # work upstream: the run may wait
    batch.last_load_s = w.clock()  # loaded just now
    furnaces = Furnaces(w.state, w.config)
    launched = []
    sample.created_s = batch.created_s = w.clock() - w.config.batch_wait_s + 1  # joined not long ago: waits
    furnaces.heat(set(), launched.append)
    assert launched == [] and not batch.closed
    sample.created_s = batch.created_s = w.clock() - w.config.batch_wait_s  # joined a batch wait ago: heats
    furnaces.heat(set(), launched.append)
    assert [(op.action, op.batch_id) for op in launched] == [("heat", batch.id)] and batch.closed
