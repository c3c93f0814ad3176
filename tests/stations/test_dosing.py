"""Dosing: closed loop to tolerance; refusals before dispensing; partial doses are recorded."""

import threading

import pytest

from powderlab.core.errors import ErrorCode
from powderlab.core.recipes import PowderDose
from powderlab.core.samples import SampleRef
from powderlab.stations.dosing import DoseRequest
from tests.stations.conftest import move

SAMPLE = SampleRef("S1", "crucible_01")


@pytest.fixture
def dosing(lab):
    move(lab, "crucible_01", "storage/1", "dosing/balance")
    return lab["dosing"]


def dose(station, *powders, **kwargs):
    request = DoseRequest(SAMPLE, tuple(PowderDose(p, m) for p, m in powders), **kwargs)
    return station.run("dose", request, **{k: v for k, v in kwargs.items() if k == "cancel"})


def test_doses_every_powder_within_tolerance(dosing):
    outcome = dose(dosing, ("Li2CO3", 377.5), ("Co3O4", 820.2))
    assert outcome.ok, outcome.message
    records = {r.powder: r for r in outcome.result.doses}
    assert records["Li2CO3"].actual_mg == pytest.approx(377.5, abs=max(0.5, 3.775))
    assert all(r.within_tolerance and r.complete for r in records.values())
    assert outcome.result.total_mg == pytest.approx(1197.7, abs=1.0)


def test_unknown_powder_is_refused_before_anything_is_dispensed(dosing):
    stock = {h.powder: h.remaining_mg for h in dosing.dispenser.heads()}
    outcome = dose(dosing, ("Li2CO3", 100.0), ("Unobtainium", 50.0))
    assert outcome.code is ErrorCode.UNKNOWN_RESOURCE and "Unobtainium" in outcome.message
    assert {h.powder: h.remaining_mg for h in dosing.dispenser.heads()} == stock


def test_more_than_the_stock_is_refused_before_dispensing(dosing):
    dosing.dispenser.set_stock("ZnO", 100.0)
    outcome = dose(dosing, ("Li2CO3", 100.0), ("ZnO", 500.0))
    assert outcome.code is ErrorCode.INSUFFICIENT_STOCK
    assert "500.0 mg needed, 100.0 mg left" in outcome.message
    assert dosing.dispenser.head_for("Li2CO3").remaining_mg == 100000.0


def test_a_head_running_dry_mid_dose_records_the_partial_dose(dosing):
    dosing.dispenser.set_stock("Co3O4", 820.0)
    dosing.check_request = lambda request: None  # the stock check would refuse this goal up front
    outcome = dose(dosing, ("Li2CO3", 377.5), ("Co3O4", 1000.0))
    assert outcome.code is ErrorCode.STOCK_EXHAUSTED
    li, co = outcome.result.doses
    assert li.complete and li.within_tolerance
    assert not co.complete and co.actual_mg == pytest.approx(820.0, abs=0.5)


def test_unstable_balance_times_out_and_keeps_what_was_dosed(dosing):
    dosing.balance.set_unstable(True)
    outcome = dose(dosing, ("Li2CO3", 100.0))
    assert outcome.code is ErrorCode.BALANCE_UNSTABLE and "stable" in outcome.message
    assert outcome.result is not None and outcome.result.doses[0].powder == "Li2CO3"


def test_overload_is_reported(dosing):
    dosing.balance.add_load(dosing.balance.capacity_mg + 1.0)
    outcome = dose(dosing, ("Li2CO3", 100.0))
    assert outcome.code is ErrorCode.OVERLOAD and "capacity" in outcome.message


def test_cancel_mid_dose_stops_between_powders_and_reports_what_went_in(dosing):
    cancel = threading.Event()
    request = DoseRequest(SAMPLE, (PowderDose("Li2CO3", 100.0), PowderDose("Co3O4", 200.0)))

    def feedback(fields):
        if fields.get("stage") == "fine" and fields.get("powder") == "Li2CO3":
            cancel.set()

    outcome = dosing.run("dose", request, feedback=feedback, cancel=cancel)
    assert outcome.code is ErrorCode.CANCELED
    li, co = outcome.result.doses
    assert li.actual_mg > 0 and co.actual_mg == 0.0


def test_wrong_or_missing_crucible_is_refused(lab):
    outcome = dose(lab["dosing"], ("Li2CO3", 100.0))
    assert outcome.code is ErrorCode.POSITION_EMPTY and "dosing/balance" in outcome.message
    move(lab, "crucible_02", "storage/2", "dosing/balance")
    outcome = dose(lab["dosing"], ("Li2CO3", 100.0))
    assert outcome.code is ErrorCode.WRONG_LABWARE and "crucible_02" in outcome.message


def test_negative_mass_never_reaches_the_station():
    with pytest.raises(Exception) as error:
        PowderDose("Li2CO3", -1.0)
    assert getattr(error.value, "code", None) is ErrorCode.OUT_OF_RANGE
