"""The twin's technician: what people at the lab do by hand between the robots' work.

A long campaign uses more crucibles than the storage rack holds: at the A-Lab technicians take
the measured crucibles away and put clean ones back. `recycle` does that to one crucible in the
twin: the crucible at a done-rack slot is emptied (washed) and stands, under a new labware id, at
a free storage slot; `take_away` and `bring` take a crucible out of the cell and stand a clean
one in it. The lab's position table is told separately (transfer/set_position), as a
technician confirms what they did at the dashboard. No arm may hold or be about to touch either
slot (the caller picks done slots of finished samples and empty storage slots).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from powderlab.core.errors import ValidationError
from powderlab.twin.items import SampleTruth

if TYPE_CHECKING:
    from powderlab.twin.world import World

TECHNICIAN = "technician"  # the device name requests use


class TwinTechnician:
    """Hands at the cell: move a finished crucible back to storage, clean, under a new id."""

    kind = "technician"

    def __init__(self, world: World) -> None:
        self.world = world

    def recycle(self, source: str, destination: str, new_id: str) -> str:
        """Empty the crucible at `source` and stand it at the free `destination` as `new_id`."""
        world = self.world
        with world.lock:
            item = world.item_at(source)
            if item is None or item.kind != "crucible":
                raise ValidationError("technician", f"no crucible at {source} to take away")
            if destination not in world.positions:
                raise ValidationError("technician", f"unknown position {destination}")
            if world.item_at(destination) is not None:
                raise ValidationError("technician", f"{destination} is not free")
            if new_id in world.items:
                raise ValidationError("technician", f"labware id {new_id} is in use")
            if any(arm.held is item for arm in world.arms.values()):
                raise ValidationError("technician", f"the crucible at {source} is in a gripper")
            del world.items[item.labware_id]
            item.labware_id, item.truth, item.position, item.dropped = new_id, SampleTruth(), destination, False
            point = world.positions[destination] + np.array([0.0, 0.0, 0.0005])
            world.client.resetBasePositionAndOrientation(item.body, point.tolist(), (0.0, 0.0, 0.0, 1.0))
            world.items[new_id] = item
            world.changed.notify_all()
            return new_id

    def take_away(self, source: str) -> str:
        """Take the crucible at `source` out of the cell; returns its labware id."""
        world = self.world
        with world.lock:
            item = world.item_at(source)
            if item is None or item.kind != "crucible":
                raise ValidationError("technician", f"no crucible at {source} to take away")
            if any(arm.held is item for arm in world.arms.values()):
                raise ValidationError("technician", f"the crucible at {source} is in a gripper")
            del world.items[item.labware_id]
            world.client.removeBody(item.body)
            world.changed.notify_all()
            return item.labware_id

    def bring(self, destination: str, new_id: str) -> str:
        """Stand a clean crucible `new_id` at the free `destination`."""
        world = self.world
        with world.lock:
            if destination not in world.positions:
                raise ValidationError("technician", f"unknown position {destination}")
            if world.item_at(destination) is not None:
                raise ValidationError("technician", f"{destination} is not free")
            if new_id in world.items:
                raise ValidationError("technician", f"labware id {new_id} is in use")
            mass_mg = float(world.scene.raw.get("labware", {}).get("crucible", {}).get("mass_mg", 25_000.0))
            world.spawn(new_id, "crucible", destination, mass_mg)
            world.changed.notify_all()
            return new_id
