"""The twin's side of every device: contract implementations that live in the world."""

from __future__ import annotations

from typing import TYPE_CHECKING

from powderlab.twin.devices.arm import TwinArm
from powderlab.twin.devices.balance import TwinBalance
from powderlab.twin.devices.diffractometer import TwinDiffractometer
from powderlab.twin.devices.dispenser import TwinPowderDispenser
from powderlab.twin.devices.furnace import TwinFurnace
from powderlab.twin.devices.mill import TwinMill
from powderlab.twin.devices.technician import TECHNICIAN, TwinTechnician

if TYPE_CHECKING:
    from powderlab.twin.world import World

TWIN_CLASSES = {
    "balance": TwinBalance,
    "powder_dispenser": TwinPowderDispenser,
    "mill": TwinMill,
    "furnace": TwinFurnace,
    "diffractometer": TwinDiffractometer,
    "arm": TwinArm,
}


def build_twin_devices(world: World) -> None:
    """One model per device of the site profile, by device name (names are unique in a cell)."""
    for station in world.site.stations.values():
        for name, config in station.devices.items():
            world.devices[name] = TWIN_CLASSES[config.kind](world, config)
    world.devices[TECHNICIAN] = TwinTechnician(world)  # people at the lab (crucible recycling)
