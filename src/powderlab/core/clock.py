"""Clocks for station logic and device models.

Station logic never calls time.sleep: it asks a Clock, so the same code runs on wall time (real
hardware), on ROS sim time (the twin publishes /clock; see powderlab.nodes.ros_clock) and on a
virtual clock that jumps instantly (unit tests, the mock backend).
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Clock(Protocol):
    """What station logic needs of time."""

    def now(self) -> float:
        """Seconds since an arbitrary, fixed origin."""
        ...

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        """Wait `seconds` of this clock's time. Returns False when `stop` was set first."""
        ...


class WallClock:
    """Real time (time.monotonic)."""

    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        if seconds <= 0:
            return not (stop and stop.is_set())
        if stop is None:
            time.sleep(seconds)
            return True
        return not stop.wait(seconds)


class VirtualClock:
    """A clock that jumps: sleep() advances time at once. Deterministic and instant."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += max(0.0, seconds)

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        if stop is not None and stop.is_set():
            return False
        self.advance(seconds)
        return True


class ScaledClock:
    """Wall time running `factor` times faster (for demos on mock hardware)."""

    def __init__(self, factor: float) -> None:
        if factor <= 0:
            raise ValueError(f"time factor must be > 0, got {factor}")
        self.factor = factor
        self._origin = time.monotonic()

    def now(self) -> float:
        return (time.monotonic() - self._origin) * self.factor

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        return WallClock().sleep(seconds / self.factor, stop)
