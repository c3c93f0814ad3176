"""The twin node: owns the PyBullet world, serves the sim drivers, publishes /clock and a camera.

    python -m powderlab.nodes.twin_node --ros-args -p time_factor:=100.0 -p mode:=physics

Stations on the sim backend connect to it over a local socket (ADR 0020); every node runs with
use_sim_time and follows the /clock published here.
"""

from __future__ import annotations

import sys
from typing import Any

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import Image

from powderlab.core.site import SiteProfile
from powderlab.nodes.conversions import stamp
from powderlab.nodes.qos import WALL_CLOCK
from powderlab.nodes.station_node import spin_node
from powderlab.twin.scene import Scene
from powderlab.twin.server import TwinServer
from powderlab.twin.world import World

PARAMETERS: dict[str, tuple[Any, str]] = {
    "site": ("default", "site profile (name or path)"),
    "scene": ("cell", "scene of sim/scenes (name or path)"),
    "mode": ("kinematic", "kinematic (fast, same checks) or physics (240 Hz PyBullet while things move)"),
    "time_factor": (100.0, "sim seconds per wall second; 0 runs as fast as possible"),
    "seed": (0, "seed of the hidden-truth chemistry and the instrument noise"),
    "faults": ("", "fault scenarios of sim/faults to apply at start, comma-separated"),
    "address": ("", "Unix socket the sim drivers connect to (empty: the default for this ROS domain)"),
    "gui": (False, "open the PyBullet GUI (needs a display)"),
    "clock_rate_hz": (20.0, "wall Hz of /clock (sim time itself does not depend on it)"),
    "hold_until_work": (
        False,
        "sim time stays at 0 until the first lab work (a campaign's first lease): its lab time then starts at the "
        "same moment whatever the start-up took",
    ),
    "camera_rate_hz": (1.0, "wall Hz of camera/image_raw (0: no camera)"),
    "candidates": ("", "candidate library file: predicted new compounds the hidden world holds too (ADR 0109)"),
}


class TwinNode(rclpy.node.Node):
    """The twin process of the lab (not a lifecycle node: it is the world, not a station)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("twin", **kwargs)
        for name, (default, description) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=description))
        value = lambda name: self.get_parameter(name).value  # noqa: E731
        site, scene = SiteProfile.load(value("site")), Scene.load(value("scene"))
        self.world = World(
            site, scene, value("mode"), int(value("seed")), bool(value("gui")), candidates=value("candidates") or None
        )
        for scenario in [s.strip() for s in str(value("faults")).split(",") if s.strip()]:
            self.world.faults.schedule(scenario)
        self.server = TwinServer(
            self.world,
            value("address") or None,
            float(value("time_factor")),
            hold_until_work=bool(value("hold_until_work")),
        ).start()
        self.get_logger().info(
            f"twin up: scene '{self.world.scene.name}', {self.world.mode} mode, time factor {value('time_factor')}, "
            f"socket {self.server.address}"
        )
        best_effort = QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
        self._clock = self.create_publisher(Clock, "/clock", best_effort)
        self.create_timer(1.0 / float(value("clock_rate_hz")), self._tick, clock=WALL_CLOCK)
        self._camera = self.create_publisher(Image, "camera/image_raw", qos_profile_sensor_data)
        if float(value("camera_rate_hz")) > 0:
            self.create_timer(1.0 / float(value("camera_rate_hz")), self._frame, clock=WALL_CLOCK)

    def _tick(self) -> None:
        self._clock.publish(Clock(clock=stamp(self.world.time)))

    def _frame(self) -> None:
        width, height, pixels = self.server.control_render()
        message = Image(height=height, width=width, encoding="rgb8", is_bigendian=0, step=width * 3, data=pixels)
        message.header.stamp = stamp(self.world.time)
        message.header.frame_id = "cell_camera"
        self._camera.publish(message)

    def safe_shutdown(self) -> None:
        self.server.stop()
        self.world.close()


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args if args is not None else sys.argv)
    spin_node(TwinNode(), threads=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
