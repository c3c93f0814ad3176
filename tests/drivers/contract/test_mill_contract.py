"""Mill contract: every backend."""

import pytest

from powderlab.core.errors import InterlockError, OutOfRangeError

DEVICE_KIND = "mill"


def test_settings_outside_the_limits_name_the_allowed_range(harness):
    mill = harness.mill()
    with pytest.raises(OutOfRangeError) as error:
        mill.check_settings(frequency_hz=99.0, duration_s=60.0)
    assert "frequency_hz" in str(error.value) and "30" in str(error.value)
    with pytest.raises(OutOfRangeError):
        mill.check_settings(frequency_hz=20.0, duration_s=1e6)


def test_clamp_interlock_blocks_milling(harness):
    mill = harness.mill()
    mill.set_clamp(False)
    with pytest.raises(InterlockError) as error:
        mill.start(20.0, 60.0)
    assert "clamp" in str(error.value)


def test_mills_for_the_duration_and_stops_by_itself(harness):
    mill = harness.mill()
    mill.set_clamp(True)
    mill.set_clamp(True)  # idempotent
    mill.start(25.0, 120.0)
    assert mill.state().running
    with pytest.raises(InterlockError):
        mill.set_clamp(False)  # not while running
    harness.advance(130.0)
    state = mill.state()
    assert not state.running
    assert state.elapsed_s == pytest.approx(120.0, abs=2.0)
    mill.set_clamp(False)


def test_stop_is_idempotent_and_immediate(harness):
    mill = harness.mill()
    mill.set_clamp(True)
    mill.start(25.0, 600.0)
    harness.advance(10.0)
    mill.stop()
    mill.stop()
    assert not mill.state().running
    mill.safe_stop()
