"""A clock that runs faster than wall time and can also jump (for emulators under test)."""

from __future__ import annotations

import threading
import time

from powderlab.core.clock import WallClock


class FastClock:
    """Wall time times `factor`, plus jumps from advance(); sleep() waits seconds / factor of wall time.

    Drivers talking to emulators need time to flow (replies arrive in real time) while tests
    want an hour of furnace program to pass at once: both hold on this clock.
    """

    def __init__(self, factor: float = 1.0) -> None:
        if factor <= 0:
            raise ValueError(f"time factor must be > 0, got {factor}")
        self.factor = factor
        self._origin = time.monotonic()
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return (time.monotonic() - self._origin) * self.factor + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += max(0.0, seconds)

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        return WallClock().sleep(seconds / self.factor, stop)
