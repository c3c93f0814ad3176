"""Powder dispenser contract: dosing heads, each holding one powder; masses in mg.

Commands dispense open-loop onto whatever stands on the balance; the dosing station closes the
loop with the balance. Errors: UnknownResourceError for a powder no head holds,
OutOfRangeError above max_dose_mg, InsufficientStock / StockExhaustedError (carries the mass
dispensed before the head ran dry), DeviceDisconnectedError.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from powderlab.core.errors import ErrorCode, StockExhaustedError, UnknownResourceError
from powderlab.drivers.base import Device


class DoseSpeed(StrEnum):
    """Coarse dosing is fast and scattered; fine dosing is slow and precise."""

    COARSE = "coarse"
    FINE = "fine"


@dataclass(frozen=True)
class DosingHead:
    """One dosing head: its powder and how much is left."""

    index: int
    powder: str
    remaining_mg: float


class PartialDoseError(StockExhaustedError):
    """The head ran dry part way; dispensed_mg went out before it did."""

    code = ErrorCode.STOCK_EXHAUSTED

    def __init__(self, device: str, powder: str, dispensed_mg: float, requested_mg: float) -> None:
        super().__init__(
            device,
            f"head with {powder} ran empty after {dispensed_mg:.2f} mg of {requested_mg:.2f} mg requested; refill it",
        )
        self.powder, self.dispensed_mg, self.requested_mg = powder, dispensed_mg, requested_mg


class PowderDispenser(Device):
    """A set of dosing heads over the balance."""

    kind: ClassVar[str] = "powder_dispenser"

    @property
    def max_dose_mg(self) -> float:
        return float(self.config.get("max_dose_mg", 20_000.0))

    @abc.abstractmethod
    def heads(self) -> list[DosingHead]:
        """Every head with its powder and remaining stock."""

    def head_for(self, powder: str) -> DosingHead:
        """The head holding a powder, or UnknownResourceError listing the powders held."""
        for head in self.heads():
            if head.powder == powder:
                return head
        raise UnknownResourceError("precursor", powder, [head.powder for head in self.heads()])

    @abc.abstractmethod
    def dispense(self, powder: str, mass_mg: float, speed: DoseSpeed) -> float:
        """Dispense about mass_mg of powder; returns the head's own estimate of what went out.

        Raises PartialDoseError when the head runs dry part way.
        """

    @abc.abstractmethod
    def abort(self) -> None:
        """Stop any dispensing at once. Idempotent."""
