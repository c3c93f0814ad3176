"""Furnace contract: every backend."""

import pytest

from powderlab.core.errors import DeviceError, InterlockError, OutOfRangeError
from powderlab.core.recipes import HeatingProfile, HeatingSegment, SegmentKind
from powderlab.drivers.furnace import DoorState

DEVICE_KIND = "furnace"

SHORT = HeatingProfile(
    (
        HeatingSegment(SegmentKind.RAMP, target_c=400.0, rate_c_per_min=20.0),
        HeatingSegment(SegmentKind.DWELL, duration_min=10.0),
        HeatingSegment(SegmentKind.COOL, target_c=150.0),
    )
)


def test_door_commands_are_idempotent(harness):
    furnace = harness.furnace()
    furnace.set_door(True)
    furnace.set_door(True)
    assert furnace.door() is DoorState.OPEN
    furnace.set_door(False)
    furnace.set_door(False)
    assert furnace.door() is DoorState.CLOSED


def test_profile_above_the_limit_is_refused_naming_the_limit(harness):
    furnace = harness.furnace()
    too_hot = HeatingProfile((HeatingSegment(SegmentKind.RAMP, target_c=1600.0, rate_c_per_min=5.0),))
    with pytest.raises(OutOfRangeError) as error:
        furnace.start_program(too_hot)
    assert "1600" in str(error.value) and f"{furnace.limits.max_temperature_c:.0f}" in str(error.value)
    assert not furnace.program().running


def test_no_program_with_the_door_open(harness):
    furnace = harness.furnace()
    furnace.set_door(True)
    with pytest.raises(InterlockError):
        furnace.start_program(SHORT)
    furnace.set_door(False)


def test_program_heats_dwells_cools_and_ends(harness):
    furnace = harness.furnace()
    furnace.start_program(SHORT)
    harness.advance(600.0)  # 10 min at 20 C/min: about 225 C
    program = furnace.program()
    assert program.running and program.segment_index == 0
    assert 150.0 < furnace.temperature_c() < 300.0
    with pytest.raises(InterlockError):
        furnace.set_door(True)  # never while a program runs
    harness.advance(SHORT.duration_s(furnace.limits) + 600.0)
    program = furnace.program()
    assert not program.running and program.finished
    assert furnace.temperature_c() < 160.0


def test_hot_chamber_keeps_the_door_closed(harness):
    furnace = harness.furnace()
    harness.heat_chamber(600.0)
    with pytest.raises(InterlockError) as error:
        furnace.set_door(True)
    assert f"{furnace.limits.safe_door_temperature_c:.0f} C" in str(error.value)
    assert furnace.door() is DoorState.CLOSED


def test_stop_program_switches_heaters_off(harness):
    furnace = harness.furnace()
    furnace.start_program(SHORT)
    harness.advance(900.0)
    furnace.stop_program()
    furnace.stop_program()
    hot = furnace.temperature_c()
    harness.advance(1800.0)
    assert not furnace.program().running
    assert furnace.temperature_c() < hot


def test_thermocouple_break_is_a_device_error(harness):
    furnace = harness.furnace()
    harness.break_thermocouple()
    with pytest.raises(DeviceError) as error:
        furnace.temperature_c()
    assert "thermocouple" in str(error.value)


def test_jammed_door_reports_a_fault(harness):
    furnace = harness.furnace()
    harness.jam_door()
    with pytest.raises(DeviceError):
        furnace.set_door(True, timeout_s=5.0)
    assert furnace.door() is DoorState.FAULT
