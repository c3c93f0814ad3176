"""Powder dispenser contract: dosing heads, each holding one powder; masses in mg.

Commands dispense open-loop onto whatever stands on the balance; the dosing station closes the
loop with the balance. Errors: UnknownResourceError for a powder no head holds,
OutOfRangeError above max_dose_mg, InsufficientStock / StockExhaustedError (carries the mass
dispensed before the head ran dry), DeviceDisconnectedError.

A dispenser may have a powder store (`store:` in the site profile, ADR 0106): a rack of vials its
head changer reaches. `load_vial` puts a stored vial on a head and the head's vial back into the
slot the new one came from, so a swap never needs a free slot.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from powderlab.core.errors import ErrorCode, OperationError, StockExhaustedError, UnknownResourceError
from powderlab.core.site import PowderStore, StoredVial
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

    def store(self) -> list[StoredVial]:
        """The vials in the dispenser's powder store, by slot (none: it has no store)."""
        return []

    def load_vial(self, powder: str, head: int) -> StoredVial:
        """Put the stored vial of `powder` on head `head`; returns the vial that went back to the store.

        Errors: UnknownResourceError for a powder the store does not hold, OperationError when the
        dispenser has no head changer.
        """
        raise OperationError(
            f"dispenser '{self.name}' has no head changer: vials are swapped by hand", ErrorCode.UNKNOWN_RESOURCE
        )


class VialStore:
    """The store's vials by slot, and the swap a head changer performs (shared by mock and twin)."""

    def __init__(self, store: PowderStore) -> None:
        self.slots = store.slots
        self.vials: dict[int, StoredVial] = {vial.slot: vial for vial in store.vials}

    def listing(self) -> list[StoredVial]:
        return [self.vials[slot] for slot in sorted(self.vials)]

    def take(self, powder: str) -> StoredVial:
        """The fullest vial of `powder`, out of its slot (UnknownResourceError lists what is stored)."""
        matches = [vial for vial in self.vials.values() if vial.powder == powder]
        if not matches:
            raise UnknownResourceError("powder in the store", powder, sorted({v.powder for v in self.vials.values()}))
        vial = max(matches, key=lambda v: (v.stock_mg, -v.slot))
        del self.vials[vial.slot]
        return vial

    def put(self, slot: int, powder: str, stock_mg: float) -> StoredVial:
        vial = StoredVial(slot, powder, stock_mg)
        self.vials[slot] = vial
        return vial


def swap_heads(
    stocks: dict[str, float], store: VialStore, powder: str, head: int
) -> tuple[dict[str, float], StoredVial]:
    """Heads (powder -> stock, in head order) after loading `powder` onto head `head`, and the vial put back."""
    heads = list(stocks.items())
    if powder in stocks:
        raise OperationError(f"{powder} is already on a head; nothing to load", ErrorCode.INVALID_GOAL)
    if not 0 <= head < len(heads):
        raise UnknownResourceError("dosing head", str(head), [str(i) for i in range(len(heads))])
    vial = store.take(powder)  # first: an unknown powder leaves the heads as they were
    old_powder, old_stock = heads[head]
    heads[head] = (vial.powder, vial.stock_mg)
    return dict(heads), store.put(vial.slot, old_powder, old_stock)
