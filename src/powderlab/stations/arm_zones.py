"""One coordinator that grants the arms' motions: no arm is ever sent into space another arm holds.

The cell's shared air space is split into named zones (in the reference cell one, `shared_space`:
the positions more than one arm serves, the buffer and done racks, and the volume between the arm
bases). A motion needs the zones of where the arm stands now and of its goal; it is granted only
when the other arms hold none of them, and all of them at once, so an arm never holds part of
what it needs while waiting for the rest. An arm keeps the zones of where it stands after a motion
(an arm parked above the buffer still fills it) and gives them back with its next motion out of
them. A motion that ends in an error leaves its arm holding everything the motion was granted: the
arm may have stopped anywhere in between, until a later motion (a move home) says where it is.

A motion whose zones another arm holds waits for them on the station's clock, cancellable, up to
a bound; after the bound (or at once, when the other arm is itself waiting for what this arm
holds) it fails with an error that names both arms, the zone and how long it waited. Motions
between positions outside every zone need no zone: the arm's own planner keeps them out of the
space between the arms (see docs/decisions/0080-arm-motion-coordinator.md).
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from powderlab.core.clock import Clock
from powderlab.core.errors import ErrorCode, OperationError

HOME = "home"  # the goal of a move home: clear of every zone
UNKNOWN = None  # the goal of a motion to joints or a tool pose: may end in any zone
SHARED_SPACE = "shared_space"


class ArmWaitError(OperationError):
    """An arm motion waited for a zone another arm holds longer than allowed (or would wait forever)."""

    code = ErrorCode.TIMEOUT


@dataclass(frozen=True)
class ArmPlace:
    """Where an arm stands (or is going) and for which operation, for messages."""

    where: str
    operation: str


def shared_zones(serves: Mapping[str, Sequence[str]], extra: Iterable[str] = ()) -> dict[str, list[str]]:
    """The reference layout: one zone of every position pattern more than one arm serves, plus extra patterns.

    `serves` maps an arm to its reach patterns (site profile `serves`); a pattern that two arms
    list (e.g. "buffer/*") is shared space.
    """
    counts: dict[str, int] = {}
    for patterns in serves.values():
        for pattern in set(patterns):
            counts[pattern] = counts.get(pattern, 0) + 1
    shared = sorted(p for p, n in counts.items() if n > 1) + [p for p in extra if p]
    return {SHARED_SPACE: shared} if shared else {}


class ArmCoordinator:
    """Grants arm motions against the zones they pass through (plain Python, thread-safe).

    zones maps a zone name to the position patterns inside it. Every arm starts at home (no zone).
    """

    def __init__(
        self, arms: Iterable[str], zones: Mapping[str, Sequence[str]], clock: Clock, poll_s: float = 0.2
    ) -> None:
        self.arms = list(arms)
        self.zones = {name: list(patterns) for name, patterns in zones.items()}
        self.clock = clock
        self.poll_s = poll_s
        self._lock = threading.Lock()
        self._held: dict[str, frozenset[str]] = {arm: frozenset() for arm in self.arms}
        self._place: dict[str, ArmPlace] = {arm: ArmPlace("standing at home", "") for arm in self.arms}
        self._waiting: dict[str, frozenset[str]] = {}
        self.waits = 0  # motions that had to wait (for benchmarks and tests)
        self.waited_s = 0.0  # clock time spent waiting, all arms

    # --- queries ---

    def zones_of(self, goal: str | None) -> frozenset[str]:
        """The zones a goal lies in: none for home, every zone for an unknown goal (joints, a tool pose)."""
        if goal is UNKNOWN:
            return frozenset(self.zones)
        if goal == HOME:
            return frozenset()
        return frozenset(z for z, patterns in self.zones.items() if any(fnmatch.fnmatchcase(goal, p) for p in patterns))

    def held(self, arm: str) -> frozenset[str]:
        """The zones an arm holds now (where it stands, plus its motion's zones while it moves)."""
        with self._lock:
            return self._held[self._known(arm)]

    def holders(self) -> dict[str, str]:
        """zone -> the arm that holds it."""
        with self._lock:
            return {zone: arm for arm, zones in self._held.items() for zone in zones}

    # --- motions ---

    @contextmanager
    def motion(
        self,
        arm: str,
        goal: str | None,
        wait_s: float,
        operation: str = "",
        check: Callable[[], None] | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[frozenset[str]]:
        """Hold what a motion of `arm` to `goal` passes through while the body (the motion) runs.

        check() is called only while blocked (it raises to end the wait: cancel, e-stop); stop wakes
        the clock's sleep early. Yields the zones granted. After the body: the arm holds the
        zones of its goal; after an error in the body: everything it was granted.
        """
        granted = self.acquire(arm, goal, wait_s, operation, check, stop)
        try:
            yield granted
        except BaseException:
            with self._lock:
                self._place[arm] = ArmPlace(f"stopped somewhere on the way to {goal or 'a joint target'}", operation)
            raise
        with self._lock:
            self._held[arm] = self.zones_of(goal)
            self._place[arm] = ArmPlace(f"standing at {goal or 'a joint target'}", operation)

    def acquire(
        self,
        arm: str,
        goal: str | None,
        wait_s: float,
        operation: str = "",
        check: Callable[[], None] | None = None,
        stop: threading.Event | None = None,
    ) -> frozenset[str]:
        """Take every zone a motion of `arm` to `goal` needs, all at once; waits for other arms (see motion())."""
        self._known(arm)
        started = self.clock.now()
        deadline = started + max(0.0, wait_s)
        waited = False
        try:
            while True:
                with self._lock:
                    needed = self._held[arm] | self.zones_of(goal)
                    blockers = self._blockers(arm, needed)
                    if not blockers:
                        self._held[arm] = needed
                        self._place[arm] = ArmPlace(f"moving to {goal or 'a joint target'}", operation)
                        return needed
                    self._waiting[arm] = needed
                    cycle = self._cycle(arm)
                    now = self.clock.now()
                if check is not None:
                    check()  # only while blocked: a motion granted at once is never ended by a cancel
                if cycle:
                    raise self._error(arm, goal, blockers, now - started, f"{' and '.join(cycle)} wait for each other")
                if now >= deadline:
                    raise self._error(arm, goal, blockers, now - started, f"gave up after the bound of {wait_s:g} s")
                waited = True
                self.clock.sleep(min(self.poll_s, max(deadline - now, 0.0)), stop)
        finally:
            with self._lock:
                self._waiting.pop(arm, None)
                if waited:
                    self.waits += 1
                    self.waited_s += self.clock.now() - started

    # --- internals (called with the lock held) ---

    def _known(self, arm: str) -> str:
        if arm not in self._held:
            raise OperationError(f"unknown arm '{arm}' for the motion coordinator; arms: {', '.join(self.arms)}")
        return arm

    def _blockers(self, arm: str, needed: frozenset[str]) -> dict[str, str]:
        return {zone: other for other, zones in self._held.items() if other != arm for zone in zones & needed}

    def _cycle(self, arm: str) -> list[str]:
        """The arms of a wait-for cycle through `arm` (each waits for a zone the next holds), or []."""
        path, seen = [arm], {arm}

        def visit(current: str) -> bool:
            for other in set(self._blockers(current, self._waiting.get(current, frozenset())).values()):
                if other == arm:
                    return True
                if other not in seen and other in self._waiting:
                    seen.add(other)
                    path.append(other)
                    if visit(other):
                        return True
                    path.pop()
            return False

        return path if visit(arm) else []

    def _error(self, arm: str, goal: str | None, blockers: dict[str, str], waited_s: float, why: str) -> ArmWaitError:
        with self._lock:
            held = "; ".join(
                f"'{zone}' is held by {other} ({self._describe(other)})" for zone, other in sorted(blockers.items())
            )
        return ArmWaitError(
            f"{arm} cannot move to {goal or 'a joint target'}: {held}; waited {waited_s:.1f} s on the station clock, "
            f"{why}. Move the other arm out (e.g. home) or raise the transfer station's arm_wait_timeout_s"
        )

    def _describe(self, arm: str) -> str:
        place = self._place[arm]
        return place.where + (f" for {place.operation}" if place.operation else "")
