"""Mock powder dispenser."""

from __future__ import annotations

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
from powderlab.drivers.mock.balance import MockBalance
from powderlab.drivers.mock.connection import MockConnection


class MockPowderDispenser(MockConnection, PowderDispenser):
    """Heads from the site profile; dispenses exactly what is asked onto the coupled balance."""

    STATE_KEYS = {"stock_mg": "set_stocks", "stock_overestimate_mg": "set_overestimates", "rate_mg_s": "set_rate"}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.balance: MockBalance | None = None
        self._stock = {str(head["powder"]): float(head.get("stock_mg", 0.0)) for head in self.config.get("heads", [])}
        self.dispensed: list[tuple[str, float, DoseSpeed]] = []
        self._store = VialStore(PowderStore.of(self.config))
        self._overestimate: dict[str, float] = {}  # heads that believe they hold more than they do
        self.rate_mg_s = 0.0  # 0: instant; else dispensing takes mass / rate seconds of the clock

    # --- test hooks ---
    def set_stock(self, powder: str, mass_mg: float) -> None:
        self.head_for(powder)
        self._stock[powder] = mass_mg

    def set_stocks(self, stocks: dict[str, float]) -> None:
        for powder, mass in stocks.items():
            self.set_stock(powder, float(mass))

    def set_overestimates(self, overestimates: dict[str, float]) -> None:
        for powder, mass in overestimates.items():
            self.head_for(powder)
            self._overestimate[powder] = float(mass)

    def set_rate(self, rate_mg_s: float) -> None:
        self.rate_mg_s = float(rate_mg_s)

    # --- contract ---
    def safe_stop(self) -> None:
        self.abort()

    def heads(self) -> list[DosingHead]:
        return [
            DosingHead(i, powder, stock + self._overestimate.get(powder, 0.0))
            for i, (powder, stock) in enumerate(self._stock.items())
        ]

    def dispense(self, powder: str, mass_mg: float, speed: DoseSpeed) -> float:
        self.require_connected()
        require_positive("mass_mg", mass_mg, "mg", high=self.max_dose_mg)
        self.head_for(powder)
        out = min(mass_mg, self._stock[powder])
        if self.rate_mg_s > 0:
            self.clock.sleep(out / self.rate_mg_s)
        self._stock[powder] -= out
        if self.balance is not None:
            self.balance.add_load(out)
        self.dispensed.append((powder, out, DoseSpeed(speed)))
        if out < mass_mg:
            raise PartialDoseError(self.name, powder, out, mass_mg)
        return out

    def abort(self) -> None:
        """Mock dispensing is instant: nothing is ever running."""

    def store(self) -> list[StoredVial]:
        return self._store.listing()

    def load_vial(self, powder: str, head: int) -> StoredVial:
        self.require_connected()
        self._stock, returned = swap_heads(self._stock, self._store, powder, head)
        self._overestimate.pop(returned.powder, None)
        return returned

    def status(self) -> DeviceStatus:
        values: dict[str, float | str | bool] = {f"stock_mg.{p}": m for p, m in self._stock.items()}
        return DeviceStatus(self.name, self.kind, self._connected, "idle", values=values)
