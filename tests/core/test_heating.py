"""The one heating-profile walker (mock furnace, twin furnace and, through the mock, the Eurotherm emulator)."""

import math

import pytest

from powderlab.core.heating import ProfilePoint, ProfileWalker, newton_cooled_c
from powderlab.core.recipes import FurnaceLimits, HeatingProfile, HeatingSegment, SegmentKind

LIMITS = FurnaceLimits(ambient_c=25.0, cooling_time_constant_s=5400.0)
PROFILE = HeatingProfile(
    (
        HeatingSegment(SegmentKind.RAMP, target_c=500.0, rate_c_per_min=10.0),  # 47.5 min from 25 C
        HeatingSegment(SegmentKind.DWELL, duration_min=60.0),
        HeatingSegment(SegmentKind.COOL, target_c=100.0),
    )
)
RAMP_S, DWELL_S = 2850.0, 3600.0
COOL_S = 5400.0 * math.log((500.0 - 25.0) / (100.0 - 25.0))


@pytest.fixture
def walker() -> ProfileWalker:
    return ProfileWalker(PROFILE, LIMITS, 25.0)


def test_durations_and_total(walker):
    assert walker.durations_s == pytest.approx([RAMP_S, DWELL_S, COOL_S])
    assert walker.total_s == pytest.approx(RAMP_S + DWELL_S + COOL_S)


def test_ramp_moves_the_setpoint_at_its_rate(walker):
    assert walker.at(0.0) == ProfilePoint(25.0, 0, True, False)
    assert walker.at(RAMP_S / 2) == ProfilePoint(pytest.approx(262.5), 0, True, False)


def test_a_ramp_down_moves_the_setpoint_down():
    down = ProfileWalker(
        HeatingProfile((HeatingSegment(SegmentKind.RAMP, target_c=400.0, rate_c_per_min=10.0),)), LIMITS, 600.0
    )
    assert down.at(60.0).setpoint_c == pytest.approx(590.0)
    assert down.total_s == pytest.approx(1200.0)


def test_dwell_holds_the_ramps_target(walker):
    assert walker.at(RAMP_S + 1.0) == ProfilePoint(500.0, 1, True, False)
    assert walker.at(RAMP_S + DWELL_S - 1.0) == ProfilePoint(500.0, 1, True, False)


def test_cool_switches_heaters_off_and_follows_newton_cooling(walker):
    point = walker.at(RAMP_S + DWELL_S + 1000.0)
    assert point.segment_index == 2 and not point.heaters_on and not point.finished
    assert point.setpoint_c == pytest.approx(25.0 + 475.0 * math.exp(-1000.0 / 5400.0))
    assert point.setpoint_c == pytest.approx(newton_cooled_c(500.0, 1000.0, LIMITS))
    assert walker.at(RAMP_S + DWELL_S + COOL_S - 1e-6).setpoint_c == pytest.approx(100.0, abs=1e-3)


def test_finished_at_the_end_holds_the_last_segment_and_its_target(walker):
    end = ProfilePoint(100.0, 2, False, True)
    assert walker.at(walker.total_s) == end
    assert walker.at(walker.total_s + 10_000.0) == end
    assert walker.end_c == 100.0


def test_a_cool_target_above_the_start_keeps_the_start():
    profile = HeatingProfile(
        (
            HeatingSegment(SegmentKind.RAMP, target_c=150.0, rate_c_per_min=10.0),
            HeatingSegment(SegmentKind.COOL, target_c=200.0),
        )
    )
    walker = ProfileWalker(profile, LIMITS, 25.0)
    assert walker.durations_s[1] == 0.0
    assert walker.at(walker.total_s) == ProfilePoint(150.0, 1, False, True)
