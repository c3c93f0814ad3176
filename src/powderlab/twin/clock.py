"""The twin's sim time as a core.clock.Clock, for the device models that live in the world."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from powderlab.twin.timeline import Timeline


class TwinClock:
    """The world's sim time as a core.clock.Clock (for the twin's own device models)."""

    def __init__(self, world: Timeline) -> None:
        self.world = world

    def now(self) -> float:
        return self.world.time

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        if seconds <= 0:
            return not (stop and stop.is_set())
        return self.world.sleep(seconds, stop)
