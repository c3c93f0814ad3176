"""Sim time that waits for the lab's work: the part of the twin's world that is only time.

`World` (the PyBullet cell) builds on it; on its own it is the clock of the mock lab's sim-time
server (`sim_clock` node), so mock stations run in the same lockstep as twin stations (ADR 0082).
Every access holds `lock`; time advances only in `advance()`.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import Any

from powderlab.twin.lockstep import Lockstep

IDLE_STEP_S = 1.0  # longest time step when nothing moves (process models stay accurate)


class Timeline:
    """Sim time, its lock, its lease table and waits in it; a world with nothing in it."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.lockstep = Lockstep(self.lock)
        self.time = 0.0
        self.manual = True
        self.devices: dict[str, Any] = {}

    def moving(self) -> bool:
        """Something moves (an arm): time then advances in small steps."""
        return False

    def step_grid_s(self) -> float:
        """Steps end on multiples of this (and at the deadlines of waits): time is cut into the same steps
        whatever the pacing or the machine's load, so the process models integrate the same way."""
        return IDLE_STEP_S

    def _to_grid(self, grid: float) -> float:
        """Sim seconds from now to the next multiple of `grid`."""
        return (math.floor(self.time / grid + 1e-9) + 1) * grid - self.time

    def _next_dt(self, remaining: float) -> float:
        return min(self._to_grid(self.step_grid_s()), remaining)

    def _manual_step(self) -> float:
        return IDLE_STEP_S

    def _step(self, dt: float) -> None:
        self.time += dt

    def advance(self, seconds: float, until: Callable[[], bool] | None = None) -> None:
        """Let `seconds` of sim time pass for everything; stop early after the step where until() holds."""
        with self.lock:
            end = self.time + max(0.0, seconds)
            while self.time < end - 1e-9:
                self._step(self._next_dt(end - self.time))
                if until is not None and until():
                    break
            self.changed.notify_all()

    def wait_until(
        self,
        predicate: Callable[[], bool],
        timeout_s: float,
        stop: threading.Event | None = None,
        wall_timeout_s: float | None = None,
    ) -> bool:
        """Wait (in sim time) until predicate() holds; False after timeout_s or when stop is set.

        Manual mode advances the world itself (like VirtualClock.sleep); otherwise the server's
        loop advances it and this waits on the condition. Under a lease (the calling request's,
        see twin.lockstep) the wait tells the time loop when its work wants to go on, so time
        stops at that moment. wall_timeout_s: give up after that much wall time (False).
        """
        with self.lock:
            deadline = self.time + max(0.0, timeout_s)
            if predicate():
                return True
            waiter = None if self.manual else self.lockstep.wait(self.lockstep.current, deadline, predicate)
            if waiter is not None:
                self.changed.notify_all()  # the time loop may go on now
            give_up = None if wall_timeout_s is None else time.monotonic() + wall_timeout_s
            try:
                while not predicate():
                    if stop is not None and stop.is_set():
                        return False
                    if waiter is not None and waiter.woken:  # the time loop or a wake ended the wait
                        return predicate()
                    if self.time >= deadline - 1e-9:
                        return predicate()
                    if give_up is not None and time.monotonic() >= give_up:
                        self.lockstep.linger(waiter)
                        return False
                    if self.manual:
                        self.advance(min(self._manual_step(), deadline - self.time))
                    else:
                        self.changed.wait(0.05)
                return True
            finally:
                if waiter is None or not waiter.lingering:
                    self.lockstep.done_waiting(waiter)

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        end = self.time + seconds
        return self.wait_until(lambda: self.time >= end - 1e-9, seconds, stop)

    def close(self) -> None:
        """Release what the world holds (nothing, for time alone)."""
