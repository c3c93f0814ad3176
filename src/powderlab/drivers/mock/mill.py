"""Mock mill."""

from __future__ import annotations

from powderlab.core.errors import InterlockError
from powderlab.drivers.base import DeviceStatus
from powderlab.drivers.mill import Mill, MillState
from powderlab.drivers.mock.connection import MockConnection


class MockMill(MockConnection, Mill):
    """Runs for its duration on the injected clock."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._clamp_closed = False
        self._frequency = 0.0
        self._duration = 0.0
        self._started_at: float | None = None

    def safe_stop(self) -> None:
        self._started_at = None

    def _elapsed(self) -> float:
        if self._started_at is None:
            return 0.0
        return min(self.clock.now() - self._started_at, self._duration)

    def _running(self) -> bool:
        return self._started_at is not None and self.clock.now() - self._started_at < self._duration

    def set_clamp(self, closed: bool) -> None:
        self.require_connected()
        if not closed and self._running():
            raise InterlockError(self.name, "cannot open the clamp while milling; stop the mill first")
        self._clamp_closed = closed

    def start(self, frequency_hz: float, duration_s: float) -> None:
        self.require_connected()
        self.check_settings(frequency_hz, duration_s)
        if not self._clamp_closed:
            raise InterlockError(self.name, "clamp is open; close it before milling")
        self._frequency, self._duration, self._started_at = frequency_hz, duration_s, self.clock.now()

    def stop(self) -> None:
        self.require_connected()
        if self._started_at is not None:
            self._duration = self._elapsed()
            self._started_at = None

    def state(self) -> MillState:
        self.require_connected()
        running = self._running()
        return MillState(
            running, self._clamp_closed, self._frequency if running else 0.0, self._elapsed(), self._duration
        )

    def status(self) -> DeviceStatus:
        running = self._connected and self._running()
        values: dict[str, float | str | bool] = {"clamp_closed": self._clamp_closed, "elapsed_s": self._elapsed()}
        return DeviceStatus(self.name, self.kind, self._connected, "running" if running else "idle", values=values)
