"""OperationContext.sleep ends on a clock that stops a hair short of the deadline (the twin's does)."""

from __future__ import annotations

import threading

from powderlab.stations.context import OperationContext
from powderlab.stations.resources import ResourceLocks


class ShortClock:
    """Like the twin's lockstep clock: a sleep ends within 1e-9 s of its end, and when asked for less
    than that it returns at once without moving time."""

    def __init__(self, start: float) -> None:
        self.time = start
        self.sleeps = 0

    def now(self) -> float:
        return self.time

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        self.sleeps += 1
        if self.sleeps > 1000:
            raise AssertionError("sleep() spins: asked the clock for a rest it never ends")
        if seconds > 1e-9:
            self.time += seconds - 5e-10  # stops short, inside the clock's tolerance
        return True


def context(clock: ShortClock) -> OperationContext:
    resume = threading.Event()
    resume.set()
    return OperationContext("op", clock, threading.Event(), threading.Event(), resume, ResourceLocks(), slice_s=5.0)


def test_sleep_ends_when_the_clock_stops_within_its_tolerance() -> None:
    clock = ShortClock(20854.375663126353)  # a sim time where float steps are ~4e-12
    context(clock).sleep(12.0)
    assert abs(clock.time - (20854.375663126353 + 12.0)) < 1e-6
    assert clock.sleeps <= 4


def test_sleep_still_waits_the_whole_time() -> None:
    clock = ShortClock(100.0)
    context(clock).sleep(0.5)
    assert clock.time > 100.5 - 1e-6
