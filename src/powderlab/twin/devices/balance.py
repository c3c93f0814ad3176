"""The balance in the twin: what stands on the pan, first-order settling, noise and drift."""

from __future__ import annotations

import math

import numpy as np

from powderlab.core.errors import OverloadError, UnstableReadingError
from powderlab.drivers.balance import Balance, BalanceReading
from powderlab.drivers.base import DeviceStatus
from powderlab.twin.devices.base import TwinDevice

PAN = "dosing/balance"


class TwinBalance(TwinDevice, Balance):
    """Reads the mass of the item on the pan plus loose load; settles with time constant settle_tau_s.

    Stable (MT-SICS S) when the filtered reading has been within stable_band_mg of the load for
    settling_s and no vibration or drift moves it faster than the band per settling window.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.loose_mg = 0.0  # load not in an item (test weights, spilt powder)
        self.tare_mg = 0.0
        self.zero_mg = 0.0
        self.tau_s = float(self.config.get("settle_tau_s", 0.8))
        self.settling_s = float(self.config.get("settling_s", 2.0))
        self.band_mg = float(self.config.get("stable_band_mg", 0.05))
        self.noise_mg = float(self.config.get("noise_mg", 0.01))
        self.vibration = False
        self.drift_mg_per_s = 0.0
        self._drift_mg = 0.0
        self._filtered = self.gross_load()
        self._settled_since = 0.0
        self.world.models.append(self)

    def gross_load(self) -> float:
        item = self.world.item_at(PAN)
        return self.loose_mg + (item.mass_mg if item is not None else 0.0)

    def step(self, time_s: float, dt: float) -> None:
        load = self.gross_load() + self._drift_mg
        self._drift_mg += self.drift_mg_per_s * dt
        self._filtered = load + (self._filtered - load) * math.exp(-dt / self.tau_s)
        if (
            abs(self._filtered - load) > self.band_mg
            or self.vibration
            or self.drift_mg_per_s * self.settling_s > self.band_mg
        ):
            self._settled_since = time_s

    def _stable(self) -> bool:
        if abs(self._filtered - self.gross_load() - self._drift_mg) > self.band_mg:
            self._settled_since = self.world.time  # the load just changed (nothing stepped since)
        return self.world.time - self._settled_since >= self.settling_s

    def _check_range(self, gross: float) -> None:
        if gross > self.capacity_mg:
            raise OverloadError(
                self.name, f"overload: {gross:.1f} mg on the pan; capacity is {self.capacity_mg:.0f} mg"
            )
        if gross - self.zero_mg < -self.band_mg * 10:
            raise OverloadError(self.name, "underload: the load is below zero; re-zero with the pan empty")

    def _noise_mg(self) -> float:
        """Reading noise, a function of the seed and the sim time: readings at one instant agree, and a
        status read between two dosing reads takes nothing from the dosing's sequence (lockstep sim time
        then gives the same doses however often the status timers look)."""
        rng = np.random.default_rng([self.world.seed + 17, round(self.world.time * 1e6)])
        return float(rng.normal(0.0, self.noise_mg * (20.0 if self.vibration else 1.0)))

    def _gross_reading(self) -> float:
        noise = self._noise_mg()
        reading = self._filtered + noise
        self._check_range(reading)
        step = self.readability_mg
        return round(reading / step) * step

    def read(self) -> BalanceReading:
        with self.world.lock:
            gross = self._gross_reading()
            return BalanceReading(round(gross - self.zero_mg - self.tare_mg, 6), self._stable())

    def read_stable(self, timeout_s: float) -> BalanceReading:
        self.read()  # range errors at once
        if not self.world.wait_until(self._stable, timeout_s):
            raise UnstableReadingError(self.name, f"no stable reading within {timeout_s:g} s")
        return self.read()

    def tare(self, timeout_s: float = 10.0) -> float:
        reading = self.read_stable(timeout_s)
        self.tare_mg += reading.mass_mg
        return self.tare_mg

    def zero(self, timeout_s: float = 10.0) -> None:
        self.read_stable(timeout_s)
        with self.world.lock:
            self.zero_mg, self.tare_mg = self._gross_reading(), 0.0

    def safe_stop(self) -> None:
        """A balance has nothing to stop."""

    def drift(self, mg_per_s: float) -> None:
        """Fault: a draught or a temperature change moves the reading by mg_per_s."""
        with self.world.lock:
            self.drift_mg_per_s = float(mg_per_s)

    def clear_faults(self) -> None:
        with self.world.lock:
            super().clear_faults()
            self.drift_mg_per_s = 0.0

    def status(self) -> DeviceStatus:
        values: dict[str, float | str | bool] = {"tare_mg": self.tare_mg, "drift_mg_per_s": self.drift_mg_per_s}
        return DeviceStatus(self.name, self.kind, True, "stable" if self._stable() else "settling", values=values)
