"""Outcomes and retries on hand-built states: successes move samples on, failures retry then give up."""

from __future__ import annotations

from powderlab.autonomy.experiments import Experiments
from powderlab.autonomy.model import ExperimentStatus, TargetStatus
from powderlab.autonomy.outcomes import Outcomes
from powderlab.autonomy.state import FILLING, HEATED, HEATING
from powderlab.core.errors import ErrorCode
from powderlab.core.samples import SampleStatus
from tests.autonomy.scheduler_states import RecordingPlanner, completion, world


def parts(w):
    planner = RecordingPlanner()
    synced: list[bool] = []
    outcomes = Outcomes(w.state, w.config, Experiments(w.state, w.config, planner, analyzer=None), synced.append)
    return outcomes, planner, synced


def test_a_transfer_moves_the_sample_and_its_crucible_in_the_position_copy():
    w = world()
    sample = w.sample(w.experiment(w.target()), "storage/1")
    sample.retries = 2
    op = w.op("transfer", sample, source="storage/1", destination="dosing/balance")
    outcomes, _, _ = parts(w)
    outcomes.record(op, completion(op))
    assert op.state == "succeeded"
    assert sample.location == "dosing/balance" and sample.retries == 0
    assert w.state.occupied == {"dosing/balance": sample.labware_id}


def test_dose_success_records_the_powders_and_heat_success_marks_the_loaded_members():
    w = world()
    batch = w.batch(state=HEATING, furnace="furnace_1")
    target = w.target()
    dosed = w.sample(w.experiment(target), "dosing/balance")
    outcomes, _, _ = parts(w)
    op = w.op("dose", dosed)
    outcomes.record(op, completion(op, doses=[{"powder": "TiO2", "target_mg": 300.0, "actual_mg": 301.5}]))
    assert dosed.status is SampleStatus.DOSED and dosed.dosed_mg == {"TiO2": 301.5}
    inside = w.sample(w.experiment(target), "furnace_1/slot_1", SampleStatus.MILLED, batch)
    outside = w.sample(w.experiment(target), "buffer/1", SampleStatus.MILLED, batch)
    heat = w.op("heat", batch=batch)
    outcomes.record(heat, completion(heat))
    assert batch.state == HEATED and batch.heat_ended_s == w.clock()
    assert inside.status is SampleStatus.HEATED and outside.status is SampleStatus.MILLED


def test_a_retryable_failure_is_tried_again_later_then_the_sample_gives_up_and_the_experiment_is_redone():
    w = world()
    experiment = w.experiment(w.target())
    sample = w.sample(experiment, "milling/clamp", SampleStatus.DOSED)
    outcomes, planner, synced = parts(w)
    for attempt in range(1, w.config.max_retries + 1):
        op = w.op("mill", sample)
        w.state.ops.pop(op.id)
        outcomes.record(op, completion(op, ErrorCode.DEVICE_FAULT, "jammed"))
        assert (sample.status, sample.retries) == (SampleStatus.DOSED, attempt)
        assert sample.not_before == w.clock() + w.config.retry_delay_s
    assert synced == [True] * w.config.max_retries  # each failure re-reads the position table
    op = w.op("mill", sample)
    outcomes.record(op, completion(op, ErrorCode.DEVICE_FAULT, "jammed"))
    assert sample.status is SampleStatus.FAILED
    assert "failed 3 times" in sample.failure
    # one sample of max_samples_per_experiment (2) made: the experiment is made again, not failed
    assert experiment.status is ExperimentStatus.RUNNING
    assert planner.reports == []


def test_the_second_lost_sample_fails_the_experiment_the_planner_hears_of_it_and_the_budget_is_spent():
    w = world()
    target = w.target(budget=1)
    experiment = w.experiment(target)
    w.sample(experiment, "done/1", SampleStatus.FAILED).closed = True
    sample = w.sample(experiment, "dosing/balance")
    outcomes, planner, _ = parts(w)
    op = w.op("dose", sample)
    # powder went in before the failure: this crucible cannot be dosed again (a sample failure)
    partial = [{"powder": "TiO2", "target_mg": 300.0, "actual_mg": 5}]
    outcomes.record(op, completion(op, ErrorCode.DEVICE_FAULT, "clogged", doses=partial))
    assert sample.status is SampleStatus.FAILED
    assert experiment.status is ExperimentStatus.FAILED
    assert [(formula, a.status) for formula, a in planner.reports] == [("LiTiO3", ExperimentStatus.FAILED)]
    assert target.status is TargetStatus.EXHAUSTED
    assert target.id in w.state.ask


def test_a_recipe_failure_fails_the_experiment_at_once():
    w = world()
    experiment = w.experiment(w.target())
    sample = w.sample(experiment, "dosing/balance")
    outcomes, _, _ = parts(w)
    op = w.op("dose", sample)
    outcomes.record(op, completion(op, ErrorCode.INVALID_GOAL, "no such powder"))
    assert sample.status is SampleStatus.FAILED and sample.retries == 0
    assert experiment.status is ExperimentStatus.FAILED


def test_heating_is_retried_then_given_up_with_every_member_failed():
    w = world()
    batch = w.batch(state=HEATING, furnace="furnace_1")
    target = w.target()
    members = [w.sample(w.experiment(target), f"furnace_1/slot_{i}", SampleStatus.MILLED, batch) for i in (1, 2)]
    outcomes, _, _ = parts(w)
    for _ in range(w.config.max_retries):
        op = w.op("heat", batch=batch)
        outcomes.record(op, completion(op, ErrorCode.DEVICE_FAULT, "thermocouple"))
        assert (batch.state, batch.not_before) == (FILLING, w.clock() + w.config.retry_delay_s)
    assert all(m.status is SampleStatus.MILLED for m in members)
    op = w.op("heat", batch=batch)
    outcomes.record(op, completion(op, ErrorCode.DEVICE_FAULT, "thermocouple"))
    assert batch.state == HEATED  # the crucibles come out and are discarded
    assert all(m.status is SampleStatus.FAILED and m.batch_id == batch.id for m in members)


def test_a_measurement_keeps_its_pattern_for_analysis_and_writes_it():
    w = world()
    sample = w.sample(w.experiment(w.target()), "xrd/recovery", SampleStatus.HEATED)
    outcomes, _, _ = parts(w)
    op = w.op("measure_xrd", sample)
    done = completion(op)
    done.pattern = object.__new__(type("Pattern", (), {}))
    outcomes.record(op, done)
    assert sample.status is SampleStatus.MEASURED
    assert w.state.patterns[sample.id] is done.pattern and done.pattern.sample_id == sample.id
    assert [key[0] for key in w.events()].count("pattern") == 1
