"""The mill in the twin: runs on sim time and leaves its energy in the sample's true state."""

from __future__ import annotations

from powderlab.core.errors import InterlockError
from powderlab.core.recipes import MillingSettings
from powderlab.drivers.base import DeviceStatus
from powderlab.drivers.mill import Mill, MillState
from powderlab.twin.devices.base import TwinDevice

CLAMP = "milling/clamp"


class TwinMill(TwinDevice, Mill):
    """Milling accumulates in the crucible at the clamp (duration, frequency) when the run ends."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clamp_closed = False
        self._frequency = 0.0
        self._duration = 0.0
        self._elapsed = 0.0
        self._running = False
        self._started_s = -1.0  # sim time the last run started (-1: none); kept for recovery (ADR 0102)
        self.world.models.append(self)

    def step(self, time_s: float, dt: float) -> None:
        if not self._running:
            return
        self._elapsed = min(self._duration, self._elapsed + dt)
        if self._elapsed >= self._duration - 1e-9:
            self._finish()

    def _finish(self) -> None:
        self._running = False
        item = self.world.item_at(CLAMP)
        if item is not None and self._elapsed > 0:
            before = item.truth.milling
            total = self._elapsed + (before.duration_s if before else 0.0)
            item.truth.milling = MillingSettings(duration_s=total, frequency_hz=self._frequency, ball_count=2)

    def set_clamp(self, closed: bool) -> None:
        with self.world.lock:
            if not closed and self._running:
                raise InterlockError(self.name, "cannot open the clamp while milling; stop the mill first")
            self._clamp_closed = bool(closed)

    def start(self, frequency_hz: float, duration_s: float) -> None:
        self.check_settings(frequency_hz, duration_s)
        with self.world.lock:
            if not self._clamp_closed:
                raise InterlockError(self.name, "clamp is open; close it before milling")
            self._frequency, self._duration, self._elapsed, self._running = frequency_hz, duration_s, 0.0, True
            self._started_s = self.clock.now()

    def stop(self) -> None:
        with self.world.lock:
            if self._running:
                self._duration = self._elapsed
                self._finish()

    def safe_stop(self) -> None:
        self.stop()

    def state(self) -> MillState:
        return MillState(
            self._running, self._clamp_closed, self._frequency if self._running else 0.0, self._elapsed, self._duration
        )

    def status(self) -> DeviceStatus:
        # The last run (started_s, duration_s, elapsed_s) outlives a restart of the station's process: a goal
        # lost with it is reconciled from these (Recovery, ADR 0102).
        values: dict[str, float | str | bool] = {
            "clamp_closed": self._clamp_closed,
            "elapsed_s": self._elapsed,
            "duration_s": self._duration,
            "started_s": self._started_s,
        }
        return DeviceStatus(self.name, self.kind, True, "running" if self._running else "idle", values=values)
