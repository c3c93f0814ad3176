"""A whole lab on the sim backend, each node its own process: the twin node serves the stations,
publishes /clock and the camera, and the arms carry crucibles (or refuse) through the ROS actions."""

from __future__ import annotations

import time

from powderlab.bringup.manifest import build_manifest
from powderlab.bringup.session import LabSession
from powderlab.core.errors import ErrorCode
from tests.ros.conftest import transfer_goal


def test_powderlab_lab_on_the_twin(tmp_path):
    from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import Image

    manifest = build_manifest("sim", time_factor=200.0)
    assert manifest.nodes[0].name == "twin" and "sim_clock" not in [n.name for n in manifest.nodes]
    session = LabSession(manifest, tmp_path, startup_timeout_s=120.0)
    client = session.start()
    try:
        clocks, images = [], []
        best_effort = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT)
        client.node.create_subscription(Clock, "/clock", clocks.append, best_effort)
        client.node.create_subscription(Image, "camera/image_raw", images.append, qos_profile_sensor_data)

        goal = transfer_goal("crucible_01", "storage/1", "dosing/balance")
        result = client.run("transfer", "transfer", goal, timeout_s=120)
        assert result.error_code == ErrorCode.NONE, result.error_msg
        client.wait_positions(lambda p: p["dosing/balance"].labware_id == "crucible_01", timeout_s=10.0)
        goal = transfer_goal("crucible_02", "storage/2", "furnace_1/slot_1")
        refused = client.run("transfer", "transfer", goal, timeout_s=120)
        assert refused.error_code == ErrorCode.DEVICE_FAULT and "furnace_1" in refused.error_msg  # door closed

        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline and not (images and len(clocks) > 10):
            time.sleep(0.1)
        assert (images[-1].width, images[-1].height, images[-1].encoding) == (320, 240, "rgb8")
        assert len(set(bytes(images[-1].data))) > 20  # a scene, not a blank frame
        first, last = clocks[0].clock, clocks[-1].clock
        assert last.sec + last.nanosec * 1e-9 > first.sec + first.nanosec * 1e-9  # sim time runs
    finally:
        codes = session.stop()
    assert all(code is not None for code in codes.values())
