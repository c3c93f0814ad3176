"""A dose lost with its restarted dosing station is settled by weighing its crucible (issue 19, ADR 0115):
nothing in it: dosed again; the whole dose: dosed; part of it: the sample fails with what is in it; a
balance that cannot tell: the sample is parked for a person. Never dosed again blindly."""

from __future__ import annotations

import pytest

from powderlab.autonomy.port import Completion
from powderlab.autonomy.routing import Router
from powderlab.autonomy.state import OpRecord
from powderlab.core.errors import ErrorCode
from powderlab.core.samples import SampleStatus
from powderlab.stations.operations import OPERATIONS
from tests.autonomy.scheduler_states import world
from tests.autonomy.test_recovery import recovery
from tests.autonomy.test_station_loss import lost_with_restart, station_port

EMPTY = 25_000.0  # CampaignConfig.crucible_empty_mg; the recipe doses Li2CO3 200 mg then TiO2 300 mg


def lost_dose(**alive: bool):
    """A sample on the balance whose dose was lost with its restarted station, and the recovery part."""
    w = world()
    sample = w.sample(w.experiment(w.target()), "dosing/balance")
    op = w.op("dose", sample)
    op.station, op.resources = "dosing", ("station:dosing", "pos:dosing/balance")
    part, port = recovery(w, {"dosing/balance": sample.labware_id})
    port.lab_state = station_port(w, **alive).lab_state
    sent: list[OpRecord] = []

    def launch(weigh: OpRecord) -> None:
        sent.append(weigh)
        w.state.ops[weigh.id] = weigh

    part.launch = launch
    del w.state.ops[op.id]  # the engine pops it before calling lost()
    part.lost(op, lost_with_restart(op))
    return w, sample, op, part, port, sent


def weighed(part, weigh: OpRecord, mass_mg: float | None, code: int = 0) -> None:
    del part.state.ops[weigh.id]
    data = OPERATIONS["weigh"].result_to_data(OPERATIONS["weigh"].result(mass_mg)) if mass_mg is not None else {}
    part.outcomes.record(weigh, Completion(weigh.id, code, "balance unstable" if code else "", data))


def test_the_crucible_is_weighed_once_the_station_is_back_and_nothing_doses_it_meanwhile():
    w, sample, op, part, port, sent = lost_dose(dosing=False)
    assert w.state.dose_watch == {sample.id: op}
    router = Router(w.state, w.config)
    assert router.next_step(sample, w.state.busy()) is None  # the balance and station are held
    part.watch_doses(port.lab_state())
    assert sent == []  # not alive: waits
    part.watch_doses(station_port(w).lab_state())
    assert [(s.action, s.station, s.purpose, s.goal["labware_id"]) for s in sent] == [
        ("weigh", "dosing", "reconcile", sample.labware_id)
    ]
    part.watch_doses(station_port(w).lab_state())
    assert len(sent) == 1  # one weigh in flight, not one a loop


def test_nothing_in_the_crucible_is_dosed_again():
    w, sample, _op, part, _, sent = lost_dose()
    part.watch_doses(part.port.lab_state())
    weighed(part, sent[0], EMPTY + 3.0)
    assert not w.state.dose_watch and sample.status is SampleStatus.PLANNED and not sample.closed
    step = Router(w.state, w.config).next_step(sample, w.state.busy())
    assert step is not None and step.action == "dose"


def test_the_whole_dose_in_the_crucible_is_recorded_as_dosed_with_the_measured_mass():
    _w, sample, op, part, _, sent = lost_dose()
    part.watch_doses(part.port.lab_state())
    weighed(part, sent[0], EMPTY + 498.0)
    assert sample.status is SampleStatus.DOSED and op.state == "succeeded"
    assert sum(sample.dosed_mg.values()) == pytest.approx(498.0)
    assert sample.dosed_mg["TiO2"] == pytest.approx(300.0 * 498.0 / 500.0)


def test_part_of_the_dose_fails_the_sample_with_what_is_in_it():
    _w, sample, _op, part, _, sent = lost_dose()
    part.watch_doses(part.port.lab_state())
    weighed(part, sent[0], EMPTY + 320.0)  # Li2CO3 whole, 120 mg of TiO2
    assert sample.status is SampleStatus.FAILED and "part of the dose" in sample.failure
    assert sample.dosed_mg == {"Li2CO3": pytest.approx(200.0), "TiO2": pytest.approx(120.0)}


@pytest.mark.parametrize("mass, code", [(0.0, 0), (None, int(ErrorCode.BALANCE_UNSTABLE))])
def test_a_balance_that_cannot_tell_parks_the_sample_for_a_person(mass, code):
    w, sample, _op, part, _, sent = lost_dose()
    part.watch_doses(part.port.lab_state())
    weighed(part, sent[0], mass, code)
    assert sample.status is SampleStatus.FAILED and sample.failure.startswith("parked for a person: dose outcome")
    assert not w.state.dose_watch and sample.labware_id in sample.failure


def test_a_lost_dose_is_weighed_again_after_the_engine_restarts():
    w, sample, op, _part, _, _ = lost_dose()
    records = {
        "targets": list(w.state.targets.values()),
        "experiments": list(w.state.experiments.values()),
        "samples": [sample],
        "batches": [],
        "operations": [op],
    }
    fresh = world()
    again, _ = recovery(fresh, {})
    assert again.reload(records) == []
    assert fresh.state.dose_watch == {sample.id: op}  # not dosed again on the planned sample
