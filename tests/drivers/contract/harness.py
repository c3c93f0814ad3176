"""Backends under the contract test suite.

A harness builds connected devices of one backend and can act on the world they sense the way
the physical world would (put a load on the balance, heat the chamber, jam the door, ...) and
let time pass. Each backend adds its harness to HARNESSES; the suite runs every contract test for
every backend that provides that device kind.
"""

from __future__ import annotations

from typing import ClassVar

from powderlab.core.clock import VirtualClock
from powderlab.core.site import SiteProfile
from powderlab.drivers import mock
from powderlab.drivers.arm import Arm
from powderlab.drivers.balance import Balance
from powderlab.drivers.base import Device
from powderlab.drivers.diffractometer import Diffractometer
from powderlab.drivers.dispenser import PowderDispenser
from powderlab.drivers.furnace import Furnace
from powderlab.drivers.mill import Mill

# device kind -> (station in hardware/default.yaml, device name)
DEVICES = {
    "balance": ("dosing", "balance"),
    "powder_dispenser": ("dosing", "dispenser"),
    "mill": ("milling", "mill"),
    "furnace": ("furnaces", "furnace_1"),
    "diffractometer": ("xrd", "diffractometer"),
    "arm": ("transfer", "arm_a"),
}


class Harness:
    """Base: what a backend must provide to run the contract suite."""

    name: ClassVar[str] = ""
    kinds: ClassVar[frozenset[str]] = frozenset(DEVICES)

    def device(self, kind: str) -> Device:
        """A connected device of this kind (the dispenser pours onto this harness's balance)."""
        raise NotImplementedError

    def balance(self) -> Balance:
        return self.device("balance")  # type: ignore[return-value]

    def dispenser(self) -> PowderDispenser:
        return self.device("powder_dispenser")  # type: ignore[return-value]

    def mill(self) -> Mill:
        return self.device("mill")  # type: ignore[return-value]

    def furnace(self) -> Furnace:
        return self.device("furnace")  # type: ignore[return-value]

    def diffractometer(self) -> Diffractometer:
        return self.device("diffractometer")  # type: ignore[return-value]

    def arm(self) -> Arm:
        return self.device("arm")  # type: ignore[return-value]

    # --- the world ---
    def put_on_balance(self, mass_mg: float) -> None:
        raise NotImplementedError

    def make_balance_unstable(self, unstable: bool) -> None:
        raise NotImplementedError

    def set_stock(self, powder: str, mass_mg: float) -> None:
        raise NotImplementedError

    def heat_chamber(self, temperature_c: float) -> None:
        raise NotImplementedError

    def break_thermocouple(self) -> None:
        raise NotImplementedError

    def jam_door(self) -> None:
        raise NotImplementedError

    def protective_stop(self) -> None:
        raise NotImplementedError

    def advance(self, seconds: float) -> None:
        """Let time pass for the devices."""
        raise NotImplementedError

    def close(self) -> None:
        """Disconnect everything and free the backend."""


class MockHarness(Harness):
    """The mock backend on a virtual clock."""

    name = "mock"

    def __init__(self) -> None:
        self.clock = VirtualClock()
        self.site = SiteProfile.load("default")
        self._devices: dict[str, Device] = {}
        built: dict[str, dict[str, Device]] = {}
        for kind, (station, device) in DEVICES.items():
            if station not in built:
                built[station] = mock.build_devices(self.site.station(station), self.clock)
            self._devices[kind] = built[station][device]
            self._devices[kind].connect()

    def device(self, kind: str) -> Device:
        return self._devices[kind]

    def put_on_balance(self, mass_mg: float) -> None:
        self._devices["balance"].add_load(mass_mg)  # type: ignore[attr-defined]

    def make_balance_unstable(self, unstable: bool) -> None:
        self._devices["balance"].set_unstable(unstable)  # type: ignore[attr-defined]

    def set_stock(self, powder: str, mass_mg: float) -> None:
        self._devices["powder_dispenser"].set_stock(powder, mass_mg)  # type: ignore[attr-defined]

    def heat_chamber(self, temperature_c: float) -> None:
        self._devices["furnace"].set_temperature(temperature_c)  # type: ignore[attr-defined]

    def break_thermocouple(self) -> None:
        self._devices["furnace"].fail_thermocouple()  # type: ignore[attr-defined]

    def jam_door(self) -> None:
        self._devices["furnace"].jam_door()  # type: ignore[attr-defined]

    def protective_stop(self) -> None:
        self._devices["arm"].trigger_protective_stop()  # type: ignore[attr-defined]

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def close(self) -> None:
        for device in self._devices.values():
            device.disconnect()


# Later backends register here: "sim" (the twin), "opcua" and "serial" (against emulators).
HARNESSES: dict[str, type[Harness]] = {"mock": MockHarness}


def backends_for(kind: str) -> list[str]:
    return [name for name, harness in HARNESSES.items() if kind in harness.kinds]


from tests.drivers.contract.harness_sim import SimHarness  # noqa: E402  (the twin; imports this module)

HARNESSES["sim"] = SimHarness

from tests.drivers.contract.harness_real import REAL_HARNESSES  # noqa: E402  (real drivers against emulators)

HARNESSES.update(REAL_HARNESSES)
