"""What a running operation may ask of its station: time, checkpoints, feedback, resources."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from powderlab.core.clock import Clock
from powderlab.core.errors import CanceledError, DeviceTimeoutError, EStopError
from powderlab.stations.resources import ResourceLocks

SLEEP_TOLERANCE_S = 1e-6  # a sleep this close to its end is over (float rounding of sim times)


class OperationContext:
    """Handed to every station operation.

    checkpoint() is where cancel, e-stop and pause take effect: it raises CanceledError or
    EStopError, and blocks while the station is paused. sleep() waits on the station's clock in
    slices and honours cancel and e-stop (not pause: a device mid-motion finishes its step).
    """

    def __init__(
        self,
        operation_id: str,
        clock: Clock,
        cancel: threading.Event,
        estop: threading.Event,
        resume: threading.Event,
        locks: ResourceLocks,
        feedback: Callable[[dict[str, Any]], None] | None = None,
        slice_s: float = 1.0,
    ) -> None:
        self.operation_id = operation_id
        self.clock = clock
        self._cancel = cancel
        self._estop = estop
        self._resume = resume  # set while not paused
        self._locks = locks
        self._feedback = feedback
        self.slice_s = slice_s
        self.held: list[str] = []

    @property
    def stop_event(self) -> threading.Event:
        """Set when the operation must stop (cancel or e-stop)."""
        return self._cancel if not self._estop.is_set() else self._estop

    @property
    def cancel_event(self) -> threading.Event:
        """The event that cancels this operation (nested operations share it)."""
        return self._cancel

    def check_estop(self) -> None:
        """Raise only for the e-stop (used where a cancel must wait for a safe point)."""
        if self._estop.is_set():
            raise EStopError("emergency stop engaged; the operation was aborted")

    def check(self) -> None:
        """Raise if the operation was cancelled or the e-stop engaged."""
        if self._estop.is_set():
            raise EStopError("emergency stop engaged; the operation was aborted")
        if self._cancel.is_set():
            raise CanceledError("the goal was cancelled")

    def checkpoint(self) -> None:
        """check(), and wait here while the station is paused."""
        self.check()
        while not self._resume.is_set():
            # wait in the station's clock too: on lockstep sim time a paused operation must not hold the
            # lab's clock (ADR 0082); the short wall wait keeps a jumping test clock from spinning
            self.clock.sleep(self.slice_s, self._resume)
            self._resume.wait(0.05)
            self.check()

    def sleep(self, seconds: float, slice_s: float | None = None) -> None:
        """Wait seconds of clock time, raising at once on cancel or e-stop (the clock's sleep ends on
        either); slice_s: the longest single clock sleep (default: the station's checkpoint slice)."""
        step = self.slice_s if slice_s is None else max(float(slice_s), 1e-3)
        end = self.clock.now() + seconds
        while True:
            self.check()
            remaining = end - self.clock.now()
            # A clock may end a sleep within SLEEP_TOLERANCE_S of its deadline (the twin's does): a rest
            # below it must end the sleep, or asking for it again returns at once, forever (and, in
            # lockstep, holds sim time while it spins).
            if remaining <= SLEEP_TOLERANCE_S:
                return
            self.clock.sleep(min(remaining, step), self.stop_event)

    def wait_for(self, condition: Callable[[], bool], timeout_s: float, what: str, poll_s: float | None = None) -> None:
        """Poll condition until true; DeviceTimeoutError naming `what` after timeout_s."""
        deadline = self.clock.now() + timeout_s
        while not condition():
            if self.clock.now() >= deadline:
                raise DeviceTimeoutError(what, f"not done within {timeout_s:g} s")
            self.sleep(min(poll_s or self.slice_s, max(deadline - self.clock.now(), 0.0)))

    def feedback(self, **fields: Any) -> None:
        if self._feedback is not None:
            self._feedback(fields)

    def hold(self, *resources: str, wait_s: float = 0.0, cancellable: bool = True) -> None:
        """Take resources (an arm, a furnace) for the rest of the operation, all or none.

        Waits up to wait_s of clock time for them; StationUnavailableError after that.
        cancellable=False: only the e-stop ends the wait (an arm holding a crucible waits on).
        """
        deadline = self.clock.now() + wait_s
        while True:
            if cancellable:
                self.check()
            else:
                self.check_estop()
            if self._locks.try_acquire(resources, self.operation_id):
                self.held.extend(resources)
                return
            if self.clock.now() >= deadline:
                self._locks.raise_busy(resources, self.operation_id)
            self.clock.sleep(min(self.slice_s, 0.2), self.stop_event)

    def let_go(self, *resources: str) -> None:
        """Give back resources taken with hold() before the operation ends (a zone the arm has left)."""
        self._locks.release_some(resources, self.operation_id)
        self.held = [r for r in self.held if r not in resources]

    def release_all(self) -> None:
        self._locks.release(self.operation_id)
        self.held.clear()
