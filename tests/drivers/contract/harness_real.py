"""The real backend under the contract suite: real drivers against the protocol emulators.

`opcua`: arm, mill (PLC node map) and diffractometer over an OPC UA server on 127.0.0.1.
`serial`: balance (MT-SICS), dosing unit (PDL/1) and furnace (Eurotherm-style Modbus RTU, door on
the PLC) on pseudo-terminals. The emulated cell (hardware/emulated.yaml) is started once per test
process (an asyncua server takes about two seconds to build its address space) and gets fresh
models on a fresh clock for every harness; drivers connect anew each time. The clock runs 20x
wall time and jumps on advance(), so an hour of furnace program passes at once while replies
still travel in real time.
"""

from __future__ import annotations

import time
from typing import ClassVar

from powderlab.drivers import real
from powderlab.drivers.base import Device
from powderlab.emulators.clock import FastClock
from tests.drivers.contract.harness import DEVICES, Harness
from tests.drivers.real.shared import SETTLE_S, TIME_FACTOR, shared_lab


class _RealHarness(Harness):
    """Real drivers of some device kinds against the shared emulated cell."""

    def __init__(self) -> None:
        self.clock = FastClock(TIME_FACTOR)
        self.lab, variables = shared_lab(self.clock)
        self.site = self.lab.profile
        self._devices: dict[str, Device] = {}
        self._options = {"variables": variables}

    def device(self, kind: str) -> Device:
        if kind not in self._devices:
            station, name = DEVICES[kind]
            device = real.build_device(self.site.station(station).device(name), self.clock, self._options)
            device.connect()
            self._devices[kind] = device
        return self._devices[kind]

    @property
    def models(self):  # type: ignore[no-untyped-def]
        return self.lab.models

    def put_on_balance(self, mass_mg: float) -> None:
        self.models.balances["balance"].add_load(mass_mg)

    def make_balance_unstable(self, unstable: bool) -> None:
        self.models.balances["balance"].set_unstable(unstable)

    def set_stock(self, powder: str, mass_mg: float) -> None:
        self.models.dosing["dispenser"].set_stock(powder, mass_mg)

    def heat_chamber(self, temperature_c: float) -> None:
        self.models.furnaces["furnace_1"].set_temperature(temperature_c)

    def break_thermocouple(self) -> None:
        self.models.furnaces["furnace_1"].fail_thermocouple()

    def jam_door(self) -> None:
        self.models.doors["furnace_1"].jammed = True

    def protective_stop(self) -> None:
        self.models.arms["arm_a"].trigger_protective_stop()

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)
        self.lab.sync()
        time.sleep(SETTLE_S)

    def close(self) -> None:
        for device in self._devices.values():
            device.disconnect()
        self._devices.clear()


class OpcUaHarness(_RealHarness):
    """Arm, mill and diffractometer over OPC UA."""

    name = "opcua"
    kinds: ClassVar[frozenset[str]] = frozenset({"arm", "mill", "diffractometer"})


class SerialHarness(_RealHarness):
    """Balance, dosing unit and furnace controller over serial (the furnace door over the PLC)."""

    name = "serial"
    kinds: ClassVar[frozenset[str]] = frozenset({"balance", "powder_dispenser", "furnace"})


REAL_HARNESSES: dict[str, type[Harness]] = {"opcua": OpcUaHarness, "serial": SerialHarness}
