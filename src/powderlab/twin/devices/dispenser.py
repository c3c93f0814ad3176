"""Dosing heads in the twin: per-powder flow rates with scatter, stock, clogging."""

from __future__ import annotations

import zlib

import numpy as np

from powderlab.core.errors import DeviceError
from powderlab.core.site import PowderStore, StoredVial
from powderlab.core.units import require_positive
from powderlab.drivers.base import DeviceStatus
from powderlab.drivers.dispenser import (
    DoseSpeed,
    DosingHead,
    PartialDoseError,
    PowderDispenser,
    VialStore,
    swap_heads,
)
from powderlab.twin.devices.balance import PAN
from powderlab.twin.devices.base import TwinDevice

VIAL_SWAP_S = 40.0  # the head changer: vial out to the store, the new one in, seated
SCATTER = {DoseSpeed.COARSE: 0.04, DoseSpeed.FINE: 0.008}  # relative sd of what lands vs asked


class TwinPowderDispenser(TwinDevice, PowderDispenser):
    """Powder lands in the item on the balance pan (its true masses grow) or loose on the pan."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._stock = {str(h["powder"]): float(h.get("stock_mg", 0.0)) for h in self.config.get("heads", [])}
        self.clogged: set[str] = set()
        self._store = VialStore(PowderStore.of(self.config))
        self._rng = np.random.default_rng(self.world.seed + 29)
        self._balance = None

    def _rate_mg_s(self, powder: str, speed: DoseSpeed) -> float:
        """A powder's flow: each powder flows differently (seeded per name)."""
        base = 20.0 + (zlib.crc32(powder.encode()) % 60)
        return base if speed is DoseSpeed.COARSE else base / 10.0

    def heads(self) -> list[DosingHead]:
        return [DosingHead(i, powder, stock) for i, (powder, stock) in enumerate(self._stock.items())]

    def _land(self, powder: str, mass_mg: float) -> None:
        item = self.world.item_at(PAN)
        if item is not None:
            item.truth.add_powder(powder, mass_mg)
            return
        balance = next((d for d in self.world.devices.values() if d.kind == "balance"), None)
        if balance is not None:
            balance.loose_mg += mass_mg

    def dispense(self, powder: str, mass_mg: float, speed: DoseSpeed) -> float:
        require_positive("mass_mg", mass_mg, "mg", high=self.max_dose_mg)
        self.head_for(powder)
        speed = DoseSpeed(speed)
        with self.world.lock:
            if powder in self.clogged:
                trickle = min(self._stock[powder], mass_mg * 0.02)
                self._stock[powder] -= trickle
                self._land(powder, trickle)
                self.clock.sleep(30.0)
                raise DeviceError(
                    self.name,
                    f"dosing head with {powder} is blocked: no powder flow detected; clean or replace the head",
                )
            wanted = mass_mg * max(0.0, 1.0 + self._rng.normal(0.0, SCATTER[speed]))
            out = min(wanted, self._stock[powder])
        self.clock.sleep(out / self._rate_mg_s(powder, speed))
        with self.world.lock:
            self._stock[powder] -= out
            self._land(powder, out)
        if out < wanted:
            raise PartialDoseError(self.name, powder, out, mass_mg)
        return mass_mg  # the head's own estimate: what it was asked for

    def abort(self) -> None:
        """Dosing is over when dispense returns; nothing keeps running."""

    def store(self) -> list[StoredVial]:
        return self._store.listing()

    def load_vial(self, powder: str, head: int) -> StoredVial:
        """The head changer swaps the vials (a clogged head's blockage goes with its vial)."""
        self.clock.sleep(VIAL_SWAP_S)
        with self.world.lock:
            self._stock, returned = swap_heads(self._stock, self._store, powder, head)
            self.clogged.discard(returned.powder)
        return returned

    def safe_stop(self) -> None:
        self.abort()

    def set_stock(self, powder: str, mass_mg: float) -> None:
        self.head_for(powder)
        self._stock[powder] = float(mass_mg)

    def clog_head(self, powder: str) -> None:
        """Fault: the head of `powder` is blocked; no powder flows from it."""
        with self.world.lock:
            self.clogged.add(str(powder))

    def clear_faults(self) -> None:
        with self.world.lock:
            super().clear_faults()
            self.clogged.clear()

    def status(self) -> DeviceStatus:
        values: dict[str, float | str | bool] = {f"stock_mg.{p}": round(m, 2) for p, m in self._stock.items()}
        fault = f"blocked: {', '.join(sorted(self.clogged))}" if self.clogged else ""
        return DeviceStatus(
            self.name, self.kind, True, "fault" if fault else "idle", DeviceError.code if fault else 0, fault, values
        )
