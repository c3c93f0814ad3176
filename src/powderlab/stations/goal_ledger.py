"""Which goal ids a station has started, and which it must never run (tombstoned by the campaign).

A goal sent just before a cable is pulled can reach the station after the campaign was told the
station does not know it and has settled it (ADR 0102). Before concluding "unknown", the campaign
tombstones the goal id at the station: from then on the station refuses that id. Both steps take one
lock, so exactly one wins: either the goal had started (the tombstone is refused and the campaign keeps
following the goal) or it never will. No clocks are compared across hosts.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

DEFAULT_KEEP = 10_000  # goal ids remembered (each kind); far more than a campaign sends to one station


class GoalLedger:
    """Started and tombstoned goal ids of one station process (bounded: the oldest are forgotten)."""

    def __init__(self, keep: int = DEFAULT_KEEP) -> None:
        if keep < 1:
            raise ValueError(f"keep: {keep} goal ids; allowed: at least 1")
        self.keep = keep
        self._lock = threading.Lock()
        self._started: OrderedDict[str, None] = OrderedDict()
        self._tombstoned: OrderedDict[str, None] = OrderedDict()

    def start(self, goal_id: str) -> bool:
        """The station is about to run goal_id: True to run it, False when it is tombstoned (refuse it)."""
        with self._lock:
            if goal_id in self._tombstoned:
                return False
            self._remember(self._started, goal_id)
            return True

    def tombstone(self, goal_id: str) -> bool:
        """Never run goal_id: True when it will not run, False when it has started already (it is known)."""
        with self._lock:
            if goal_id in self._started:
                return False
            self._remember(self._tombstoned, goal_id)
            return True

    def tombstoned(self, goal_id: str) -> bool:
        """Whether goal_id is refused."""
        with self._lock:
            return goal_id in self._tombstoned

    def _remember(self, ids: OrderedDict[str, None], goal_id: str) -> None:
        ids[goal_id] = None
        ids.move_to_end(goal_id)
        while len(ids) > self.keep:
            ids.popitem(last=False)
