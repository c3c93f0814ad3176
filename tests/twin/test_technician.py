"""The twin's technician: a finished crucible goes back to storage, washed, under a new id."""

from __future__ import annotations

import numpy as np
import pytest

from powderlab.core.errors import ValidationError
from powderlab.core.site import SiteProfile
from powderlab.twin.devices.technician import TECHNICIAN
from powderlab.twin.world import World


@pytest.fixture
def world():
    world = World(SiteProfile.load("default"), mode="kinematic")
    yield world
    world.close()


def test_recycle_moves_the_crucible_to_storage_clean_under_a_new_id(world) -> None:
    technician = world.devices[TECHNICIAN]
    crucible = world.item_at("storage/1")
    old_id = crucible.labware_id
    world.items[old_id].truth.precursors_mg["TiO2"] = 500.0
    # as if measured: it stands in the done rack
    world.client.resetBasePositionAndOrientation(crucible.body, world.positions["done/3"].tolist(), (0, 0, 0, 1))
    crucible.position = "done/3"
    assert technician.recycle("done/3", "storage/1", "crucible_r0001") == "crucible_r0001"
    assert old_id not in world.items and world.items["crucible_r0001"] is crucible
    assert world.item_at("storage/1") is crucible and world.item_at("done/3") is None
    assert crucible.truth.precursors_mg == {}
    assert np.linalg.norm(world.item_pose(crucible)[0][:2] - world.positions["storage/1"][:2]) < 1e-6


def test_recycle_refuses_what_a_technician_could_not_do(world) -> None:
    technician = world.devices[TECHNICIAN]
    with pytest.raises(ValidationError, match="no crucible at done/1"):
        technician.recycle("done/1", "storage/1", "crucible_r0001")
    crucible = world.item_at("storage/2")
    crucible.position = "done/2"
    with pytest.raises(ValidationError, match="storage/1 is not free"):
        technician.recycle("done/2", "storage/1", "crucible_r0001")
    with pytest.raises(ValidationError, match="in use"):
        technician.recycle("done/2", "storage/2", world.item_at("storage/3").labware_id)


def test_take_away_and_bring_a_clean_crucible(world) -> None:
    technician = world.devices[TECHNICIAN]
    crucible = world.item_at("storage/5")
    assert technician.take_away("storage/5") == crucible.labware_id
    assert world.item_at("storage/5") is None and crucible.labware_id not in world.items
    assert technician.bring("storage/5", "crucible_n0001") == "crucible_n0001"
    brought = world.item_at("storage/5")
    assert brought.labware_id == "crucible_n0001" and brought.truth.precursors_mg == {}
    with pytest.raises(ValidationError, match="not free"):
        technician.bring("storage/5", "crucible_n0002")
    with pytest.raises(ValidationError, match="no crucible at done/1"):
        technician.take_away("done/1")
