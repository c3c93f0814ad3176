"""Progress on hand-built states: counts, the samples' list, the ETA and the next wait."""

from __future__ import annotations

import pytest

from powderlab.autonomy import progress
from powderlab.autonomy.model import ExperimentStatus, TargetStatus
from powderlab.autonomy.state import FILLING
from powderlab.core.samples import SampleStatus
from tests.autonomy.scheduler_states import world

HOUR = 3600.0


def test_counts_and_eta_from_the_pace_of_the_experiments_done_so_far():
    w = world(now=0.0)
    w.state.opened = True
    made = w.target("LiTiO3")
    made.status = TargetStatus.MADE
    active = w.target("NaNbO3")
    for status in (ExperimentStatus.ANALYSED, ExperimentStatus.FAILED):
        w.experiment(made, status=status)
    running = w.sample(w.experiment(active), "milling/clamp", SampleStatus.DOSED)
    w.op("mill", running)
    w.clock.t = 10 * HOUR
    p = progress.progress(w.state)
    assert (p.state, p.targets_total, p.targets_made, p.targets_failed, p.targets_active) == ("running", 2, 1, 0, 1)
    assert (p.experiments_done, p.experiments_planned) == (2, 3)
    assert (p.samples_total, p.samples_in_flight, p.operations_in_flight) == (1, 1, 1)
    assert p.sim_elapsed_s == 10 * HOUR
    # 2 experiments per settled target; 1 active target, less half a sample in flight: 1.5 to go,
    # at 5 h per experiment done so far
    assert p.eta_s == pytest.approx(1.5 * 5 * HOUR)
    active.status = TargetStatus.EXHAUSTED
    assert progress.progress(w.state).eta_s == 0.0


def test_sample_rows_list_samples_in_flight_first_with_the_operation_working_on_them():
    w = world()
    target = w.target()
    old = w.sample(w.experiment(target, status=ExperimentStatus.ANALYSED), "done/1", SampleStatus.ANALYSED)
    old.closed, old.finished_s = True, 5.0
    w.state.experiments[old.experiment_id].target_yield = 0.8
    batch = w.batch(state=FILLING, furnace="furnace_1")
    heating = w.sample(w.experiment(target), "furnace_1/slot_1", SampleStatus.MILLED, batch)
    waiting = w.sample(w.experiment(target), "storage/1")
    w.op("heat", batch=batch)
    rows = {r.sample_id: r for r in progress.sample_rows(w.state)}
    assert list(rows) == [heating.id, waiting.id, old.id]
    assert (rows[heating.id].state, rows[heating.id].stage) == ("running", "heat")
    assert (rows[waiting.id].state, rows[waiting.id].stage) == ("queued", "planned")
    assert (rows[old.id].state, rows[old.id].target_yield) == ("done", 0.8)
    assert len(progress.sample_rows(w.state, limit=2)) == 2


def test_next_wait_is_the_earliest_own_deadline_and_at_least_a_second():
    w = world(now=1000.0)
    config = w.config
    assert progress.next_wait(w.state, config) == config.tick_s
    sample = w.sample(w.experiment(w.target()), "milling/clamp", SampleStatus.DOSED)
    sample.not_before = 1000.0 + 120.0  # a retry is due
    assert progress.next_wait(w.state, config) == 120.0
    batch = w.batch(state=FILLING, furnace="furnace_1")
    batch.last_load_s = 1000.0 - config.batch_wait_s + 30.0  # its wait ends in 30 s
    assert progress.next_wait(w.state, config) == 30.0
    batch.last_load_s = 1000.0 - config.batch_wait_s - 500.0  # overdue
    assert progress.next_wait(w.state, config) == 1.0


def test_a_waiting_reason_is_logged_once_and_again_after_it_cleared():
    w = world()
    w.state.waiting["done"] = "done rack full"
    progress.report_waits(w.state)
    progress.report_waits(w.state)
    assert len(w.events()) == 1
    del w.state.waiting["done"]
    progress.report_waits(w.state)
    w.state.waiting["done"] = "done rack full"
    progress.report_waits(w.state)
    assert len(w.events()) == 2
