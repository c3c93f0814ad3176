"""The URDF arms agree with the shared UR5e kinematics; the committed URDF is what the generator writes."""

import importlib.util

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from powderlab.core.resources import data_path
from powderlab.drivers.kinematics import forward
from powderlab.twin.arm import FLANGE_LINK
from powderlab.twin.world import World


@pytest.fixture(scope="module")
def world():
    world = World()
    yield world
    world.close()


def test_the_urdf_arm_is_the_ur5e_dh_chain(world):
    arm = world.arms["arm_b"]  # rotated 180 degrees and shifted: compare in its base frame
    rng = np.random.default_rng(7)
    for _ in range(20):
        q = rng.uniform(-np.pi, np.pi, 6)
        arm._set_joints(q)
        position, orientation = world.client.getLinkState(arm.body, FLANGE_LINK, computeForwardKinematics=True)[4:6]
        expected = forward(q)
        assert arm.to_base(np.array(position)) == pytest.approx(expected[:3, 3], abs=1e-5)
        base_rotation = Rotation.from_euler("z", arm.placement.yaw)
        rotation = (base_rotation.inv() * Rotation.from_quat(orientation)).as_matrix()
        assert rotation == pytest.approx(expected[:3, :3], abs=1e-5)


def test_committed_urdf_matches_the_generator():
    spec = importlib.util.spec_from_file_location("make_urdf", data_path("tools", "make_urdf.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, build in module.FILES.items():
        assert data_path("urdf", name).read_text() == build(), f"urdf/{name} is stale: run tools/make_urdf.py"


def test_every_site_position_is_in_the_scene_and_reachable(world):
    from powderlab.drivers.arm import Height

    for spec in world.site.positions():
        assert spec.name in world.positions, spec.name
    for name in world.site.arm_reach:
        arm, device = world.arms[name], world.devices[name]
        for position in world.positions:
            if device.reaches(position):
                for height in Height:
                    arm.solve(arm.tcp_point(position, height))  # raises NOT_REACHABLE otherwise
