"""Walking a heating profile: where a furnace programmer is at a given time since it started.

One walker for every furnace model (the mock furnace, the twin's furnace and, through the mock,
the Eurotherm emulator), so they agree on the setpoint, the segment and the end of a program.
A ramp moves the setpoint linearly at its rate; a dwell holds it; a cool segment switches the
heaters off and the setpoint follows Newton cooling towards ambient (the segment ends when it
reaches the segment's target, see HeatingProfile.segment_durations_s).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from powderlab.core.recipes import FurnaceLimits, HeatingProfile, SegmentKind


def newton_cooled_c(from_c: float, elapsed_s: float, limits: FurnaceLimits) -> float:
    """Temperature after elapsed_s of natural cooling from from_c (heaters off)."""
    ambient = limits.ambient_c
    return ambient + (from_c - ambient) * math.exp(-max(0.0, elapsed_s) / limits.cooling_time_constant_s)


@dataclass(frozen=True)
class ProfilePoint:
    """The programmer's state at one moment of a program."""

    setpoint_c: float
    segment_index: int  # the running segment; the last one once finished
    heaters_on: bool  # a ramp or a dwell drives the heaters; a cool segment and the end do not
    finished: bool  # the program has run all its segments


class ProfileWalker:
    """A heating profile started at start_c on a furnace with the given limits."""

    def __init__(self, profile: HeatingProfile, limits: FurnaceLimits, start_c: float) -> None:
        self.profile = profile
        self.limits = limits
        self.start_c = float(start_c)
        self.durations_s = profile.segment_durations_s(limits, self.start_c)
        self.total_s = sum(self.durations_s)
        end = self.start_c
        for segment in profile.segments:
            if segment.kind is SegmentKind.RAMP:
                end = segment.target_c
            elif segment.kind is SegmentKind.COOL:
                end = min(end, segment.target_c)
        self.end_c = end  # the setpoint once the program has run

    def at(self, elapsed_s: float) -> ProfilePoint:
        """The point elapsed_s after the program started (negative elapsed is the start)."""
        elapsed, start = max(0.0, float(elapsed_s)), self.start_c
        if elapsed >= self.total_s:
            return self._end()
        for index, (segment, duration) in enumerate(zip(self.profile.segments, self.durations_s, strict=True)):
            if elapsed < duration:
                if segment.kind is SegmentKind.RAMP:
                    direction = 1.0 if segment.target_c >= start else -1.0
                    return ProfilePoint(start + direction * segment.rate_c_per_min / 60.0 * elapsed, index, True, False)
                if segment.kind is SegmentKind.DWELL:
                    return ProfilePoint(start, index, True, False)
                return ProfilePoint(newton_cooled_c(start, elapsed, self.limits), index, False, False)
            elapsed -= duration
            if segment.kind is SegmentKind.RAMP:
                start = segment.target_c
            elif segment.kind is SegmentKind.COOL:
                start = min(start, segment.target_c)
        return self._end()  # only by rounding: the sum of the durations is total_s

    def _end(self) -> ProfilePoint:
        return ProfilePoint(self.end_c, len(self.durations_s) - 1, False, True)
