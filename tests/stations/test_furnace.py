"""Furnace station: door interlocks, slot choice, profiles, e-stop."""

import threading

import pytest

from powderlab.core.errors import ErrorCode
from powderlab.core.recipes import HeatingProfile, HeatingSegment, SegmentKind, a_lab_profile
from powderlab.core.samples import SampleRef
from powderlab.drivers.furnace import DoorState
from powderlab.stations.base import StationMode
from powderlab.stations.furnace import HeatRequest, LoadRequest, UnloadRequest

SAMPLE = SampleRef("S1", "crucible_01")
QUICK = HeatingProfile(
    (
        HeatingSegment(SegmentKind.RAMP, target_c=600.0, rate_c_per_min=20.0),
        HeatingSegment(SegmentKind.DWELL, duration_min=30.0),
        HeatingSegment(SegmentKind.COOL, target_c=150.0),
    )
)


def load(lab, labware="crucible_01", source="storage/1", **kwargs):
    return lab["furnaces"].run("load_furnace", LoadRequest(SampleRef("", labware), source, **kwargs))


def test_load_heat_unload(lab):
    loaded = load(lab)
    assert loaded.ok and loaded.result.position == "furnace_1/slot_1"
    furnace = lab["furnaces"].furnace("furnace_1")
    assert furnace.door() is DoorState.CLOSED
    feedback = []
    heated = lab["furnaces"].run("heat", HeatRequest("furnace_1", QUICK), feedback=feedback.append)
    assert heated.ok and heated.result.max_temperature_c == pytest.approx(600.0, abs=1.0)
    assert heated.result.duration_s == pytest.approx(QUICK.duration_s(furnace.limits), rel=0.01)
    assert any(f.get("temperature_c", 0) > 500 for f in feedback)
    unloaded = lab["furnaces"].run("unload_furnace", UnloadRequest(SAMPLE, "buffer/1"))
    assert unloaded.ok, unloaded.message
    assert lab.transfer.table.get("buffer/1").labware.labware_id == "crucible_01"


def test_a_started_furnace_is_filled_first(lab):
    load(lab, "crucible_01", "storage/1")
    second = load(lab, "crucible_02", "storage/2")
    assert second.result.position == "furnace_1/slot_2"
    named = load(lab, "crucible_03", "storage/3", furnace="furnace_3", slot=5)
    assert named.result.position == "furnace_3/slot_5"


def test_hot_furnace_refuses_the_load_before_the_arm_moves(lab):
    lab["furnaces"].furnace("furnace_2").set_temperature(450.0)
    arm = lab.transfer.arms()["arm_b"]
    before = arm.joint_positions()
    outcome = load(lab, furnace="furnace_2")
    assert outcome.code is ErrorCode.INTERLOCK and "450 C" in outcome.message and "200 C" in outcome.message
    assert arm.joint_positions() == before
    assert lab.transfer.table.get("storage/1").labware is not None
    assert lab["furnaces"].furnace("furnace_2").door() is DoorState.CLOSED


def test_profile_above_the_limit_is_refused(lab):
    outcome = lab["furnaces"].run("heat", HeatRequest("furnace_1", a_lab_profile(1500.0)))
    assert outcome.code is ErrorCode.OUT_OF_RANGE and "1500" in outcome.message and "1200" in outcome.message


def test_unknown_furnace_lists_the_furnaces(lab):
    outcome = lab["furnaces"].run("heat", HeatRequest("furnace_9", QUICK))
    assert outcome.code is ErrorCode.UNKNOWN_RESOURCE and "furnace_4" in outcome.message


def test_no_free_slot(lab):
    for number in range(1, 9):
        lab.transfer.set_position(f"furnace_1/slot_{number}", f"x{number}", "crucible")
    outcome = load(lab, furnace="furnace_1")
    assert outcome.code is ErrorCode.NO_FREE_SLOT and "furnace_1: full" in outcome.message


def test_unload_waits_for_the_chamber_to_cool(lab):
    load(lab)
    lab["furnaces"].furnace("furnace_1").set_temperature(700.0)
    start = lab.clock.now()
    outcome = lab["furnaces"].run("unload_furnace", UnloadRequest(SAMPLE, "buffer/1"))
    assert outcome.ok
    limits = lab["furnaces"].furnace("furnace_1").limits
    import math

    expected = limits.cooling_time_constant_s * math.log((700 - 25) / (200 - 25))
    assert lab.clock.now() - start == pytest.approx(expected, rel=0.05)


def test_estop_during_heating_switches_heaters_off_and_refuses_goals(lab):
    furnaces = lab["furnaces"]
    started = threading.Event()

    def feedback(fields):
        if fields.get("temperature_c", 0) > 300 and not started.is_set():
            started.set()
            lab.estop("test")

    outcome = furnaces.run("heat", HeatRequest("furnace_1", QUICK), feedback=feedback)
    assert outcome.code is ErrorCode.ESTOPPED
    assert not furnaces.furnace("furnace_1").program().running
    assert furnaces.mode is StationMode.ESTOPPED
    refused = furnaces.run("heat", HeatRequest("furnace_1", QUICK))
    assert refused.code is ErrorCode.ESTOPPED and "reset" in refused.message
    lab.reset()
    assert furnaces.mode is StationMode.IDLE


def test_a_long_heat_reads_the_furnace_every_heat_poll_and_ends_on_time(lab):
    furnaces = lab["furnaces"]
    profile = a_lab_profile(900.0)  # about 10 h with natural cooling
    planned = profile.duration_s(furnaces.furnace("furnace_1").limits)
    feedback = []
    heated = furnaces.run("heat", HeatRequest("furnace_1", profile), feedback=feedback.append)
    assert heated.ok, heated.message
    poll = furnaces.parameters["heat_poll_s"]
    slice_s = furnaces.parameters["checkpoint_slice_s"]
    # one reading per heat_poll_s, not per checkpoint slice (the twin pays round trips for each) ...
    readings = sum("setpoint_c" in f for f in feedback)
    assert readings <= planned / poll + 60.0 / slice_s + 5
    assert readings < planned / slice_s / 4
    # ... and the slices near the planned end: the heat is not reported late
    assert heated.result.duration_s == pytest.approx(planned, abs=2 * slice_s + 1.0)
