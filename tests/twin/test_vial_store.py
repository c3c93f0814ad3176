"""The twin's dispenser has the site's powder store: load_vial through the sim driver's socket (ADR 0106)."""

import shutil
import tempfile
from pathlib import Path

import pytest

from powderlab.core.clock import VirtualClock
from powderlab.core.errors import UnknownResourceError
from powderlab.drivers import sim
from powderlab.drivers.dispenser import DoseSpeed
from powderlab.twin.server import TwinServer
from powderlab.twin.world import World
from tests.store_site import store_site


def test_load_vial_on_the_twin_swaps_the_vials_and_the_powder_lands_as_the_new_one():
    site = store_site()
    world = World(site, mode="kinematic")
    folder = Path(tempfile.mkdtemp(prefix="plt-"))
    server = TwinServer(world, str(folder / "twin.sock"), manual=True).start()
    try:
        clock = VirtualClock()
        devices = sim.build_devices(site.station("dosing"), clock, {"twin_address": server.address})
        dispenser = devices["dispenser"]
        dispenser.connect()
        head = dispenser.head_for("ZnO").index
        returned = dispenser.load_vial("Li3PO4", head)
        assert (returned.slot, returned.powder, returned.stock_mg) == (1, "ZnO", 100000.0)
        assert dispenser.head_for("Li3PO4") == dispenser.heads()[head]
        assert [(v.slot, v.powder) for v in dispenser.store()] == [(1, "ZnO"), (2, "FePO4"), (7, "Mn2O3")]
        world.spawn("crucible_v", "crucible", "dosing/balance", 25_000.0)
        dispenser.dispense("Li3PO4", 100.0, DoseSpeed.FINE)
        assert world.item_at("dosing/balance").truth.precursors_mg["Li3PO4"] > 0
        with pytest.raises(UnknownResourceError, match="FePO4"):
            dispenser.load_vial("Unobtainium", head)
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
