"""Lockstep sim time: the twin's clock moves only while every piece of lab work waits in sim time.

A *lease* stands for one thread of lab work that spans processes: an operation sent by the
autonomy node (the lease is its goal id), the station executing it, a transfer the furnace
station asks of the transfer station (a child lease), or the campaign engine itself. A lease is
*runnable* while its work computes (a station's bookkeeping, a ROS round trip, path planning on a
loaded machine) and *waiting* while its work waits in sim time (an arm motion, a dwell, a sleep
until a deadline). A lease with open children is waiting on them. Sim time advances only while no
lease is runnable, and never past the earliest deadline of a waiting lease, so the same campaign
gives the same sim-time history however slow the machine is (ADR 0082).

Work that holds no lease (status reads, a technician's jog, tests driving the twin directly)
neither holds time nor is held by it.

A runnable lease that stays runnable for `stale_after_s` of wall time (a crashed client, a bug)
stops holding time, with a warning, until it next waits: the lab then degrades to free-running
time instead of freezing.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

STALE_AFTER_S = 120.0  # wall seconds a lease may compute before it stops holding sim time


@dataclass(eq=False)
class Waiter:
    """One wait in sim time under a lease: until a deadline, or until a predicate holds."""

    lease: str
    deadline: float
    predicate: Callable[[], bool] | None = None
    woken: bool = False
    lingering: bool = False  # its thread gave up on wall time; the lease still waits until its next request


@dataclass
class Lease:
    """One thread of lab work (see the module docstring)."""

    key: str
    parent: str = ""
    owner: int = 0  # the connection that began it (its leases end when it closes)
    children: int = 0
    waiters: list[Waiter] = field(default_factory=list)
    runnable_since: float = field(default_factory=time.monotonic)
    stale: bool = False
    wake_pending: bool = False  # woken while not waiting: its next wait ends at once

    @property
    def waiting(self) -> bool:
        return self.children > 0 or any(not w.woken for w in self.waiters)


class Lockstep:
    """The lease table. Every method must be called with `lock` held (the world's lock)."""

    def __init__(self, lock: threading.RLock, stale_after_s: float = STALE_AFTER_S) -> None:
        self.lock = lock
        self.stale_after_s = stale_after_s
        self.leases: dict[str, Lease] = {}
        self._current = threading.local()

    # --- the lease of the calling thread (set per request by the twin server) ---
    @property
    def current(self) -> str:
        return getattr(self._current, "lease", "")

    @current.setter
    def current(self, lease: str) -> None:
        self._current.lease = lease

    # --- leases ---
    def begin(self, key: str, parent: str = "", owner: int = 0) -> bool:
        """Open a lease (runnable). False when it is open already (its first opener owns it)."""
        if not key:
            raise ValueError("a lease needs a key")
        if key in self.leases:
            return False
        parent_lease = self.leases.get(parent) if parent else None
        self.leases[key] = Lease(key, parent if parent_lease else "", owner)
        if parent_lease is not None:
            parent_lease.children += 1
        return True

    def end(self, key: str) -> None:
        lease = self.leases.pop(key, None)
        if lease is None:
            return
        for waiter in lease.waiters:
            waiter.woken = True
        parent = self.leases.get(lease.parent)
        if parent is not None:
            parent.children = max(0, parent.children - 1)
            self._became_runnable(parent)

    def end_owned_by(self, owner: int) -> list[str]:
        """End every lease a closed connection began (its process is gone)."""
        gone = [key for key, lease in self.leases.items() if lease.owner == owner]
        for key in gone:
            self.end(key)
        return gone

    # --- waits ---
    def wait(self, key: str, deadline: float = math.inf, predicate: Callable[[], bool] | None = None) -> Waiter | None:
        """Register a wait of lease `key` (None when the lease is not open: the wait holds nothing)."""
        lease = self.leases.get(key) if key else None
        if lease is None:
            return None
        waiter = Waiter(key, deadline, predicate)
        lease.waiters = [w for w in lease.waiters if not w.woken]  # woken ones are on their way out
        if lease.wake_pending:
            lease.wake_pending = False
            waiter.woken = True
            return waiter
        lease.waiters.append(waiter)
        lease.stale = False
        return waiter

    def done_waiting(self, waiter: Waiter | None) -> None:
        """The waiting thread returned (woken, timed out on its own, or stopped)."""
        if waiter is None:
            return
        lease = self.leases.get(waiter.lease)
        if lease is None:
            return
        was_waiting = lease.waiting
        if waiter in lease.waiters:
            lease.waiters.remove(waiter)
        if was_waiting and not lease.waiting:
            self._became_runnable(lease)

    def linger(self, waiter: Waiter | None) -> None:
        """The waiting thread returns on a wall-time bound (to look at a stop event), but its lease goes on
        waiting until it sends its next request: a slow machine between two looks is not lab time."""
        if waiter is not None and not waiter.woken:
            waiter.lingering = True

    def resume(self, key: str) -> None:
        """A request of lease `key` arrived: a wait it left lingering is over."""
        lease = self.leases.get(key) if key else None
        if lease is None:
            return
        for waiter in [w for w in lease.waiters if w.lingering]:
            self.done_waiting(waiter)

    def wake(self, key: str) -> None:
        """End every wait of a lease now (a completion arrived for the campaign engine)."""
        lease = self.leases.get(key)
        if lease is None:
            return
        if not any(not w.woken for w in lease.waiters):
            lease.wake_pending = True
        for waiter in lease.waiters:
            waiter.woken = True
        lease.waiters.clear()
        self._became_runnable(lease)

    def _became_runnable(self, lease: Lease) -> None:
        if not lease.waiting:
            lease.runnable_since = time.monotonic()
            lease.stale = False

    # --- what the time loop asks ---
    def runnable(self) -> list[str]:
        """Leases whose work is computing now (sim time must not move), stale ones excluded."""
        now = time.monotonic()
        busy = []
        for lease in self.leases.values():
            if lease.waiting or lease.stale:
                continue
            if now - lease.runnable_since > self.stale_after_s:
                lease.stale = True
                log.warning(
                    "lease %s computed for %.0f s of wall time without waiting in sim time; it no longer "
                    "holds the twin's clock",
                    lease.key,
                    now - lease.runnable_since,
                )
                continue
            busy.append(lease.key)
        return busy

    def next_deadline(self) -> float:
        """The earliest sim time a waiting lease wants to wake at (inf: none)."""
        deadlines = [w.deadline for lease in self.leases.values() for w in lease.waiters if not w.woken]
        return min(deadlines, default=math.inf)

    def wake_due(self, now: float) -> bool:
        """Wake every wait whose deadline has come or whose predicate holds; True if any woke."""
        woke = False
        for lease in self.leases.values():
            before = lease.waiting
            for waiter in lease.waiters:
                if waiter.woken:
                    continue
                if now >= waiter.deadline - 1e-9 or (waiter.predicate is not None and waiter.predicate()):
                    waiter.woken = True
                    woke = True
            if before and not lease.waiting:
                self._became_runnable(lease)
        return woke
