"""Mock powder dispenser."""

from __future__ import annotations

from powderlab.core.units import require_positive
from powderlab.drivers.base import DeviceStatus
from powderlab.drivers.dispenser import DoseSpeed, DosingHead, PartialDoseError, PowderDispenser
from powderlab.drivers.mock.balance import MockBalance


class MockPowderDispenser(PowderDispenser):
    """Heads from the site profile; dispenses exactly what is asked onto the coupled balance."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._connected = False
        self.balance: MockBalance | None = None
        self._stock = {str(head["powder"]): float(head.get("stock_mg", 0.0)) for head in self.config.get("heads", [])}
        self.dispensed: list[tuple[str, float, DoseSpeed]] = []

    # --- test hooks ---
    def set_stock(self, powder: str, mass_mg: float) -> None:
        self.head_for(powder)
        self._stock[powder] = mass_mg

    # --- contract ---
    def connect(self) -> None:
        self._connected = True

    def disconnect(self) -> None:
        self._connected = False

    @property
    def connected(self) -> bool:
        return self._connected

    def safe_stop(self) -> None:
        self.abort()

    def heads(self) -> list[DosingHead]:
        return [DosingHead(i, powder, stock) for i, (powder, stock) in enumerate(self._stock.items())]

    def dispense(self, powder: str, mass_mg: float, speed: DoseSpeed) -> float:
        self.require_connected()
        require_positive("mass_mg", mass_mg, "mg", high=self.max_dose_mg)
        head = self.head_for(powder)
        out = min(mass_mg, head.remaining_mg)
        self._stock[powder] = head.remaining_mg - out
        if self.balance is not None:
            self.balance.add_load(out)
        self.dispensed.append((powder, out, DoseSpeed(speed)))
        if out < mass_mg:
            raise PartialDoseError(self.name, powder, out, mass_mg)
        return out

    def abort(self) -> None:
        """Mock dispensing is instant: nothing is ever running."""

    def status(self) -> DeviceStatus:
        values: dict[str, float | str | bool] = {f"stock_mg.{p}": m for p, m in self._stock.items()}
        return DeviceStatus(self.name, self.kind, self._connected, "idle", values=values)
