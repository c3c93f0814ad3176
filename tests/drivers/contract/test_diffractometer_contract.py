"""Diffractometer contract: every backend."""

import pytest

from powderlab.core.errors import DeviceError, OutOfRangeError
from powderlab.core.recipes import ScanSettings

DEVICE_KIND = "diffractometer"
QUICK = ScanSettings(10.0, 60.0, 0.05, 60.0)


def test_scan_settings_outside_the_instrument_range_are_refused(harness):
    with pytest.raises(OutOfRangeError) as error:
        harness.diffractometer().check_scan(ScanSettings(10.0, 150.0, 0.02, 60.0))
    assert "two_theta_end_deg" in str(error.value) and "120" in str(error.value)


def test_prepare_load_scan_unload(harness):
    xrd = harness.diffractometer()
    holder = xrd.prepare("crucible_01", grind_s=30.0)
    assert holder.sample_mg > 0
    xrd.load(holder.holder_id)
    xrd.load(holder.holder_id)  # idempotent for the same holder
    xrd.start_scan(QUICK)
    harness.advance(QUICK.scan_time_s / 2)
    state = xrd.scan_state()
    assert state.scanning and 0.3 < state.progress < 0.7
    with pytest.raises(DeviceError):
        xrd.result()
    harness.advance(QUICK.scan_time_s)
    assert not xrd.scan_state().scanning
    pattern = xrd.result()
    assert pattern.two_theta_deg.size == QUICK.point_count
    assert pattern.two_theta_deg[0] == pytest.approx(10.0) and pattern.two_theta_deg[-1] == pytest.approx(60.0)
    assert pattern.wavelength_angstrom == pytest.approx(1.5406, abs=1e-3)
    assert pattern.intensity.max() > pattern.intensity.min()
    xrd.unload()
    xrd.unload()
    assert xrd.scan_state().loaded_holder == ""


def test_scan_needs_a_loaded_holder(harness):
    with pytest.raises(DeviceError) as error:
        harness.diffractometer().start_scan(QUICK)
    assert "holder" in str(error.value)


def test_abort_stops_the_scan(harness):
    xrd = harness.diffractometer()
    holder = xrd.prepare("crucible_02", grind_s=10.0)
    xrd.load(holder.holder_id)
    xrd.start_scan(QUICK)
    xrd.abort_scan()
    xrd.abort_scan()
    assert not xrd.scan_state().scanning
    xrd.unload()
    xrd.safe_stop()
