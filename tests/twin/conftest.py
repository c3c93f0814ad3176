"""A whole lab in one process on the sim backend: a twin in manual time, stations over the socket."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from powderlab.core.site import SiteProfile
from powderlab.stations.lab import LocalLab
from powderlab.twin.server import TwinServer
from powderlab.twin.world import TwinClock, World


class TwinLab:
    """World + server + LocalLab on the sim backend, closed together."""

    def __init__(self, mode: str, manual: bool = True) -> None:
        """manual=False: the twin runs its own time as fast as possible (stations work concurrently)."""
        self.site = SiteProfile.load("default")
        self.world = World(self.site, mode=mode)
        self.folder = Path(tempfile.mkdtemp(prefix="plt-"))
        address = str(self.folder / "twin.sock")
        self.server = TwinServer(self.world, address, time_factor=0.0, manual=manual).start()
        options = {name: {"twin_address": self.server.address} for name in self.site.stations}
        self.lab = LocalLab(self.site, "sim", TwinClock(self.world), backend_options=options)

    def __getitem__(self, name: str):
        return self.lab[name]

    def error_mm(self, labware_id: str, position: str) -> float:
        item = self.world.items[labware_id]
        return self.world.slot_error_m(item, position) * 1000.0

    def close(self) -> None:
        self.lab.close()
        for station in self.lab.stations.values():
            for device in station.devices.values():
                device.link.close()
        self.server.stop()
        self.world.close()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def kinematic_lab() -> Iterator[TwinLab]:
    lab = TwinLab("kinematic")
    yield lab
    lab.close()


@pytest.fixture
def running_kinematic_lab() -> Iterator[TwinLab]:
    lab = TwinLab("kinematic", manual=False)
    yield lab
    lab.close()


@pytest.fixture
def physics_lab() -> Iterator[TwinLab]:
    lab = TwinLab("physics")
    yield lab
    lab.close()
