"""Balance contract: masses in mg.

Ranges: 0 .. capacity_mg (site profile), readability readability_mg.
Errors: OverloadError above capacity or below zero, UnstableReadingError when a stable reading
does not come within the timeout, DeviceDisconnectedError, DeviceTimeoutError.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import ClassVar

from powderlab.drivers.base import Device


@dataclass(frozen=True)
class BalanceReading:
    """One reading: net mass (after tare) and whether the balance called it stable."""

    mass_mg: float
    stable: bool


class Balance(Device):
    """A laboratory balance (MT-SICS semantics: S, SI, T, Z)."""

    kind: ClassVar[str] = "balance"

    @property
    def capacity_mg(self) -> float:
        return float(self.config.get("capacity_mg", 220_000.0))

    @property
    def readability_mg(self) -> float:
        return float(self.config.get("readability_mg", 0.01))

    @abc.abstractmethod
    def read(self) -> BalanceReading:
        """The current net reading, stable or not (MT-SICS SI)."""

    @abc.abstractmethod
    def read_stable(self, timeout_s: float) -> BalanceReading:
        """Wait for a stable net reading (MT-SICS S); UnstableReadingError after timeout_s."""

    @abc.abstractmethod
    def tare(self, timeout_s: float = 10.0) -> float:
        """Tare on the next stable reading; returns the tare in mg. Repeating it re-tares the same load."""

    @abc.abstractmethod
    def zero(self, timeout_s: float = 10.0) -> None:
        """Set zero on the next stable reading and clear the tare."""
