"""The sim backend under the contract suite: a twin in manual time, drivers over the real socket."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from powderlab.core.clock import VirtualClock
from powderlab.core.site import SiteProfile
from powderlab.drivers import sim
from powderlab.drivers.base import Device
from powderlab.twin.faults import Fault
from powderlab.twin.server import TwinServer
from powderlab.twin.world import World
from tests.drivers.contract.harness import DEVICES, Harness


class SimHarness(Harness):
    """A kinematic-mode twin whose time moves only when the test advances it or a driver waits."""

    name = "sim"

    def __init__(self) -> None:
        self.clock = VirtualClock()
        self.site = SiteProfile.load("default")
        self.world = World(self.site, mode="kinematic")
        self._folder = Path(tempfile.mkdtemp(prefix="plt-"))
        self.server = TwinServer(self.world, str(self._folder / "twin.sock"), manual=True).start()
        # A sample for the diffractometer to prepare: a crucible of TiO2 at the recovery position.
        self.world.spawn("crucible_xrd", "crucible", "xrd/recovery", 25_000.0).truth.add_powder("TiO2", 150.0)
        self._devices: dict[str, Device] = {}
        built: dict[str, dict[str, Device]] = {}
        options = {"twin_address": self.server.address}
        for kind, (station, device) in DEVICES.items():
            if station not in built:
                built[station] = sim.build_devices(self.site.station(station), self.clock, options)
            self._devices[kind] = built[station][device]
            self._devices[kind].connect()

    def device(self, kind: str) -> Device:
        return self._devices[kind]

    def _model(self, kind: str):  # the twin's side of a device
        return self.world.devices[DEVICES[kind][1]]

    def put_on_balance(self, mass_mg: float) -> None:
        self._model("balance").loose_mg += mass_mg

    def make_balance_unstable(self, unstable: bool) -> None:
        self._model("balance").vibration = unstable

    def set_stock(self, powder: str, mass_mg: float) -> None:
        self._model("powder_dispenser").set_stock(powder, mass_mg)

    def heat_chamber(self, temperature_c: float) -> None:
        self._model("furnace").temperature = temperature_c

    def break_thermocouple(self) -> None:
        self.world.faults.apply(Fault("thermocouple_failure", DEVICES["furnace"][1]))

    def jam_door(self) -> None:
        self.world.faults.apply(Fault("stuck_door", DEVICES["furnace"][1]))

    def protective_stop(self) -> None:
        self.world.arms[DEVICES["arm"][1]].protective_stop = True

    def advance(self, seconds: float) -> None:
        self.world.advance(seconds)

    def close(self) -> None:
        for device in self._devices.values():
            device.disconnect()
        for device in self._devices.values():
            device.link.close()  # type: ignore[attr-defined]
        self.server.stop()
        self.world.close()
        shutil.rmtree(self._folder, ignore_errors=True)
