"""Powder dispenser contract: every backend."""

import pytest

from powderlab.core.errors import ErrorCode, OutOfRangeError, UnknownResourceError
from powderlab.drivers.dispenser import DoseSpeed, PartialDoseError

DEVICE_KIND = "powder_dispenser"


def test_heads_hold_the_powders_of_the_site_profile(harness):
    heads = {head.powder: head for head in harness.dispenser().heads()}
    assert {"Li2CO3", "Co3O4", "TiO2"} <= set(heads)
    assert all(head.remaining_mg > 0 for head in heads.values())


def test_unknown_powder_lists_the_powders_held(harness):
    with pytest.raises(UnknownResourceError) as error:
        harness.dispenser().head_for("Unobtainium")
    assert "Unobtainium" in str(error.value) and "Li2CO3" in str(error.value)
    assert error.value.code is ErrorCode.UNKNOWN_RESOURCE


def test_dispensing_lands_on_the_balance_and_draws_stock(harness):
    dispenser, balance = harness.dispenser(), harness.balance()
    balance.tare()
    before = dispenser.head_for("TiO2").remaining_mg
    estimate = dispenser.dispense("TiO2", 200.0, DoseSpeed.COARSE)
    harness.advance(5.0)
    landed = balance.read_stable(10.0).mass_mg
    assert landed == pytest.approx(200.0, rel=0.25)
    assert estimate == pytest.approx(200.0, rel=0.25)
    assert dispenser.head_for("TiO2").remaining_mg == pytest.approx(before - landed, rel=0.05, abs=1.0)


@pytest.mark.parametrize("mass", [0.0, -5.0, 1e9])
def test_masses_outside_the_range_are_refused(harness, mass):
    with pytest.raises(OutOfRangeError) as error:
        harness.dispenser().dispense("TiO2", mass, DoseSpeed.FINE)
    assert "mass_mg" in str(error.value)


def test_running_dry_reports_the_partial_dose(harness):
    dispenser = harness.dispenser()
    harness.set_stock("ZnO", 40.0)
    with pytest.raises(PartialDoseError) as error:
        dispenser.dispense("ZnO", 100.0, DoseSpeed.COARSE)
    assert error.value.code is ErrorCode.STOCK_EXHAUSTED
    assert 0.0 < error.value.dispensed_mg <= 40.0 + 1e-6
    assert dispenser.head_for("ZnO").remaining_mg == pytest.approx(0.0, abs=1.0)
    dispenser.abort()
    dispenser.abort()
