"""Mock balance."""

from __future__ import annotations

from powderlab.core.errors import OverloadError, UnstableReadingError
from powderlab.drivers.balance import Balance, BalanceReading
from powderlab.drivers.base import DeviceStatus
from powderlab.drivers.mock.connection import MockConnection


class MockBalance(MockConnection, Balance):
    """A balance whose load is whatever was put on it; always stable unless told otherwise."""

    STATE_KEYS = {"load_mg": "add_load", "unstable": "set_unstable"}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.load_mg = 0.0  # gross load on the pan
        self.tare_mg = 0.0
        self.unstable = False

    # --- test hooks ---
    def add_load(self, mass_mg: float) -> None:
        self.load_mg += mass_mg

    def set_unstable(self, unstable: bool) -> None:
        self.unstable = unstable

    # --- contract ---
    def safe_stop(self) -> None:
        """A balance has nothing to stop."""

    def _check_range(self) -> None:
        if self.load_mg > self.capacity_mg:
            raise OverloadError(
                self.name, f"overload: {self.load_mg:.1f} mg on the pan; capacity is {self.capacity_mg:.0f} mg"
            )
        if self.load_mg < 0:
            raise OverloadError(self.name, "underload: the load is below zero; re-zero with the pan empty")

    def read(self) -> BalanceReading:
        self.require_connected()
        self._check_range()
        return BalanceReading(round(self.load_mg - self.tare_mg, 6), not self.unstable)

    def read_stable(self, timeout_s: float) -> BalanceReading:
        reading = self.read()
        if not reading.stable:
            self.clock.sleep(timeout_s)
            raise UnstableReadingError(self.name, f"no stable reading within {timeout_s:g} s")
        return reading

    def tare(self, timeout_s: float = 10.0) -> float:
        self.read_stable(timeout_s)
        self.tare_mg = self.load_mg
        return self.tare_mg

    def zero(self, timeout_s: float = 10.0) -> None:
        self.read_stable(timeout_s)
        self.tare_mg = 0.0
        self.load_mg = 0.0

    def status(self) -> DeviceStatus:
        values: dict[str, float | str | bool] = {"load_mg": self.load_mg, "tare_mg": self.tare_mg}
        return DeviceStatus(
            self.name, self.kind, self._connected, "unstable" if self.unstable else "stable", values=values
        )
