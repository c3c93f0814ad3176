"""Campaigns in one process: every station in a LocalLab, run by a discrete-event executor.

DiscreteEventClock is a Clock shared by cooperating threads of which exactly one runs at a time:
a thread that sleeps hands over to the one that wakes first, and the clock jumps to that time.
Each operation runs the stations' own code in its own thread, so operations overlap on the
virtual clock exactly as they would in the lab (a four-hour dwell costs no wall time), and the
order of events is deterministic. LocalLabPort adapts a LocalLab to the LabPort protocol.
"""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from powderlab.autonomy.port import Completion, FurnaceInfo, LabState, StationInfo, mill_info
from powderlab.autonomy.state import OpRecord
from powderlab.core.errors import ErrorCode
from powderlab.core.positions import PositionSnapshot
from powderlab.stations.furnace import FurnaceStation
from powderlab.stations.lab import LocalLab
from powderlab.stations.operations import operation


@dataclass(order=True)
class _Waiter:
    wake: float
    seq: int
    ready: threading.Event = field(compare=False, default_factory=threading.Event)
    stop: threading.Event | None = field(compare=False, default=None)


class DiscreteEventClock:
    """Virtual time for threads that take turns; sleep() hands the turn to the next waker."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self._heap: list[_Waiter] = []
        self._seq = itertools.count()
        self._participants: set[int] = set()

    def now(self) -> float:
        return self._now

    def participate(self) -> None:
        """The calling thread takes part (and holds the turn). Call once, from the main loop."""
        with self._lock:
            self._participants.add(threading.get_ident())

    def leave(self) -> None:
        """The calling thread stops taking part (threads still parked stay parked)."""
        with self._lock:
            self._participants.discard(threading.get_ident())

    def spawn(self, function: Callable[[], None], name: str = "des") -> threading.Thread:
        """Start function in a new participant thread; it runs when it gets the turn."""
        waiter = _Waiter(self._now, next(self._seq))
        with self._lock:
            heapq.heappush(self._heap, waiter)

        def body() -> None:
            waiter.ready.wait()
            with self._lock:
                self._participants.add(threading.get_ident())
            try:
                function()
            finally:
                with self._lock:
                    self._participants.discard(threading.get_ident())
                self._pass_turn()

        thread = threading.Thread(target=body, name=name, daemon=True)
        thread.start()
        return thread

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        if stop is not None and stop.is_set():
            return False
        if threading.get_ident() not in self._participants:
            if not self._participants:  # nobody takes turns yet (set-up code): just move on
                self._now += max(0.0, seconds)
                return True
            raise RuntimeError("DiscreteEventClock.sleep from a thread that does not take part")
        waiter = _Waiter(self._now + max(0.0, seconds), next(self._seq), stop=stop)
        with self._lock:
            heapq.heappush(self._heap, waiter)
        self._pass_turn()
        waiter.ready.wait()
        return not (stop is not None and stop.is_set())

    def _pass_turn(self) -> None:
        with self._lock:
            if not self._heap:
                return
            woken = [w for w in self._heap if w.stop is not None and w.stop.is_set()]
            if woken:
                pick = min(woken, key=lambda w: w.seq)
                self._heap.remove(pick)
                heapq.heapify(self._heap)
            else:
                pick = heapq.heappop(self._heap)
                self._now = max(self._now, pick.wake)
        pick.ready.set()


class LocalLabPort:
    """The LabPort of an in-process LocalLab on a DiscreteEventClock."""

    def __init__(self, lab: LocalLab, clock: DiscreteEventClock) -> None:
        self.lab = lab
        self.clock = clock
        self._done: list[Completion] = []
        self._event = threading.Event()
        self._cancels: dict[str, threading.Event] = {}
        self.timeline: list[dict[str, Any]] = []

    def now(self) -> float:
        return self.clock.now()

    def start(self, op: OpRecord) -> None:
        station = self.lab[op.station]
        declared = operation(op.action)
        request = declared.request_from_data(op.goal)
        cancel = self._cancels.setdefault(op.id, threading.Event())

        def run() -> None:
            started = self.clock.now()
            outcome = station.run(
                op.action, request, operation_id=f"{op.station}.{op.action}.{op.id[:8]}", cancel=cancel
            )
            self._done.append(
                Completion(
                    op.id,
                    int(outcome.code),
                    outcome.message,
                    declared.result_to_data(outcome.result),
                    declared.pattern(outcome.result),
                    started,
                    self.clock.now(),
                )
            )
            self._cancels.pop(op.id, None)
            self._event.set()

        self.clock.spawn(run, name=f"op-{op.action}")

    def adopt(self, op: OpRecord) -> None:
        """An in-process lab restarts with its campaign: goals of the last run are unknown to it."""
        self._done.append(Completion(op.id, int(ErrorCode.UNKNOWN), "unknown to this lab", known=False))
        self._event.set()

    def cancel(self, op_id: str) -> None:
        event = self._cancels.get(op_id)
        if event is not None:
            event.set()

    def wait(self, timeout_s: float) -> list[Completion]:
        if not self._done and timeout_s > 0:
            self._event.clear()
            self.clock.sleep(timeout_s, self._event)
        done, self._done = self._done, []
        self._event.clear()
        return done

    def positions(self) -> dict[str, PositionSnapshot]:
        return {p.name: p for p in self.lab.transfer.positions()}

    def lab_state(self) -> LabState:
        stations = {}
        estop = False
        reasons = []
        for name, station in self.lab.stations.items():
            status = station.status()
            furnaces = []
            if isinstance(station, FurnaceStation):
                for reading in station.readings():  # a furnace that cannot be read reports a door FAULT
                    door_fault = reading.door.name == "FAULT"
                    furnaces.append(
                        FurnaceInfo(reading.name, door_fault, reading.program_running, reading.temperature_c)
                    )
            mills = [mill_info(d.name, d.state, d.values) for d in status.devices if d.kind == "mill" and d.connected]
            stations[name] = StationInfo(
                name, station.kind, int(status.mode), status.message, "active", furnaces, mills=mills
            )
            if station.estopped:
                estop = True
                reasons.append(status.message)
        return LabState(estop, "; ".join(sorted(set(reasons))), stations)

    def estimate_s(self, op: OpRecord) -> float:
        try:
            request = operation(op.action).request_from_data(op.goal)
            return float(self.lab[op.station].estimate_s(op.action, request))
        except Exception:
            return 0.0

    def at(self, time_s: float, action: Callable[[], None]) -> None:
        """Run action at a lab time (fault injection in tests and benchmarks)."""

        def later() -> None:
            self.clock.sleep(max(0.0, time_s - self.clock.now()))
            action()

        self.clock.spawn(later, name="scheduled")
