"""Recovery on hand-built states: lost goals, the position table as the truth, reload, overruns."""

from __future__ import annotations

from powderlab.autonomy.experiments import Experiments
from powderlab.autonomy.model import TargetStatus
from powderlab.autonomy.outcomes import Outcomes
from powderlab.autonomy.port import Completion
from powderlab.autonomy.recovery import Recovery
from powderlab.autonomy.state import FILLING, HEATING, OpRecord
from powderlab.core.samples import SampleStatus
from tests.autonomy.scheduler_states import FakePort, RecordingPlanner, world


def recovery(w, table: dict[str, str]) -> tuple[Recovery, FakePort]:
    port = FakePort(w.clock, table)
    experiments = Experiments(w.state, w.config, RecordingPlanner(), analyzer=None)
    outcomes = Outcomes(w.state, w.config, experiments, sync_positions=print)
    part = Recovery(w.state, port, w.config, outcomes)
    outcomes.sync_positions = part.sync_positions  # wired as the engine wires them
    return part, port


def unknown(op: OpRecord, unknown_goal: bool = False) -> Completion:
    return Completion(op.id, 0, "", known=False, unknown_goal=unknown_goal)


def test_a_lost_transfer_takes_the_crucible_position_from_the_lab_table():
    w = world()
    sample = w.sample(w.experiment(w.target()), "storage/1")
    op = w.op("transfer", sample, source="storage/1", destination="dosing/balance")
    part, _ = recovery(w, {"dosing/balance": sample.labware_id})
    part.lost(op, unknown(op))
    assert op.state == "lost"
    assert sample.location == "dosing/balance" and sample.status is SampleStatus.PLANNED
    assert w.state.occupied == {"dosing/balance": sample.labware_id}
    assert ("save", OpRecord, op.id) in w.events()


def test_a_lost_store_transfer_that_arrived_closes_the_sample():
    w = world()
    sample = w.sample(w.experiment(w.target()), "xrd/recovery", SampleStatus.MEASURED)
    op = w.op("transfer", sample, source="xrd/recovery", destination="done/2")
    op.purpose = "store"
    part, _ = recovery(w, {"done/2": sample.labware_id})
    part.lost(op)
    assert sample.closed and sample.location == "done/2"


def test_a_dose_that_never_reached_the_lab_is_dosed_again_but_an_unknown_one_spoils_the_crucible():
    w = world()
    experiment = w.experiment(w.target())
    fresh = w.sample(experiment, "dosing/balance")
    op = w.op("dose", fresh)
    part, _ = recovery(w, {"dosing/balance": fresh.labware_id})
    part.lost(op, unknown(op, unknown_goal=True))  # the station answered: no such goal, and it is young
    assert fresh.status is SampleStatus.PLANNED and not fresh.closed
    again = w.op("dose", fresh)
    w.clock.t += w.config.result_keep_s + 1  # older than the station keeps results: anything may have happened
    part.lost(again, unknown(again, unknown_goal=True))
    # not dosed again: its crucible is weighed first (ADR 0115)
    assert fresh.status is SampleStatus.PLANNED and w.state.dose_watch == {fresh.id: again}


def test_a_lost_heating_heats_the_batch_again():
    w = world()
    batch = w.batch(state=HEATING, furnace="furnace_1")
    op = w.op("heat", batch=batch)
    part, _ = recovery(w, {})
    part.lost(op)
    assert batch.state == FILLING


def test_samples_follow_the_position_table_and_a_missing_crucible_closes_its_sample_as_lost():
    w = world()
    target = w.target(budget=2)
    moved = w.sample(w.experiment(target), "storage/1")
    gone = w.sample(w.experiment(target), "storage/2")
    working = w.sample(w.experiment(target), "storage/3")
    w.op("transfer", working, source="storage/3", destination="dosing/balance")
    part, port = recovery(w, {"buffer/2": moved.labware_id, "dosing/balance": working.labware_id})
    part.sync_positions(correct=False)
    assert w.state.occupied == port.table and moved.location == "storage/1"  # only the copy changed
    part.sync_positions(correct=True)
    assert moved.location == "buffer/2"
    assert gone.closed and gone.status is SampleStatus.FAILED and "not in the position table" in gone.failure
    assert working.location == "storage/3"  # its goal is in flight: the outcome will say
    assert target.status is TargetStatus.ACTIVE


def test_overruns_are_reported_once():
    w = world()
    op = w.op("mill", w.sample(w.experiment(w.target()), "milling/clamp", SampleStatus.DOSED))
    op.estimate_s = 600.0
    part, _ = recovery(w, {})
    w.clock.t += 600.0 * w.config.overrun_factor + w.config.overrun_margin_s
    part.check_overruns()
    assert not op.overrun_reported
    w.clock.t += 1
    part.check_overruns()
    part.check_overruns()
    assert op.overrun_reported
    assert [key[0] for key in w.events()] == ["event"]


def test_reload_rebuilds_counters_and_asks_again_for_open_targets():
    w = world()
    target = w.target()
    done = w.target("NaNbO3")
    done.status = TargetStatus.MADE
    experiment = w.experiment(target)
    sample = w.sample(experiment, "buffer/1", SampleStatus.MILLED)
    batch = w.batch()
    in_flight = w.op("mill", sample)
    finished = w.op("dose", sample)
    finished.state = "succeeded"
    records = {
        "targets": list(w.state.targets.values()),
        "experiments": [experiment],
        "samples": [sample],
        "batches": [batch],
        "operations": [in_flight, finished],
    }
    fresh = world()
    part, port = recovery(fresh, {})
    pending = part.reload(records)
    assert pending == [in_flight]
    assert fresh.state.seq == {"sample": sample.seq, "batch": 1, "target": 2}
    assert fresh.state.ask == {target.id}
    assert fresh.state.used_labware == {sample.labware_id}
    part.adopt(pending)
    assert port.adopted == [in_flight] and fresh.state.ops == {in_flight.id: in_flight}
