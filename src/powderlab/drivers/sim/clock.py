"""Station time on the twin: now() and sleep() asked of the twin itself, in lockstep with its clock.

A station on the sim backend waits through the twin (`sleep_until` under the thread's lease), so
the twin knows the station's work is waiting and until when (twin.lockstep, ADR 0082). Waiting
on /clock instead would let sim time run on while the station computes between two steps.
"""

from __future__ import annotations

import threading

from powderlab.drivers.sim.link import CONTROL, TwinLink, lease_time

WAIT_SLICE_WALL_S = 0.25  # a sleep returns to look at its stop event at least this often (wall seconds)


class LockstepClock:
    """core.clock.Clock of the twin's sim time, over the sim drivers' link."""

    def __init__(self, link: TwinLink) -> None:
        self.link = link

    def now(self) -> float:
        known = lease_time()  # under a lease the clock has not moved since the last answer
        return known if known is not None else float(self.link.call(CONTROL, "time"))

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        if stop is not None and stop.is_set():
            return False
        if seconds <= 0:
            return True
        deadline = self.now() + seconds
        while True:
            now = float(self.link.call(CONTROL, "sleep_until", deadline, WAIT_SLICE_WALL_S))
            if now >= deadline - 1e-9:
                return not (stop is not None and stop.is_set())
            if stop is not None and stop.is_set():
                return False
