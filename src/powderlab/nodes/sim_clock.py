"""The mock lab's sim time: a lockstep time server (no world in it) that also publishes /clock.

The twin takes this role when the sim backend runs. Stations of a mock lab on sim time wait
through this server (`time_server` parameter), so their operations hold sim time while they
compute, exactly as on the twin (ADR 0082); /clock follows it at a bounded rate for the stamps
and the ROS tools.
"""

from __future__ import annotations

import sys
from typing import Any

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

from powderlab.nodes.conversions import stamp
from powderlab.nodes.qos import WALL_CLOCK
from powderlab.nodes.station_node import spin_node
from powderlab.twin.server import TwinServer
from powderlab.twin.timeline import Timeline

PARAMETERS: dict[str, tuple[Any, str]] = {
    "time_factor": (100.0, "sim seconds per wall second while the lab waits (0: as fast as possible)"),
    "publish_rate_hz": (20.0, "wall Hz of /clock (sim time itself does not depend on it)"),
    "address": ("", "Unix socket of the time server (empty: the default for this ROS domain)"),
    "hold_until_work": (False, "sim time stays at 0 until the first lab work (a campaign's first lease)"),
}


class SimClock(rclpy.node.Node):
    """Sim time for a lab without a twin: a lockstep time server, published on /clock."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("sim_clock", **kwargs)
        for name, (default, description) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=description))
        value = lambda name: self.get_parameter(name).value  # noqa: E731
        self.timeline = Timeline()
        self.server = TwinServer(
            self.timeline,
            value("address") or None,
            float(value("time_factor")),
            hold_until_work=bool(value("hold_until_work")),
        ).start()
        self._pub = self.create_publisher(
            Clock, "/clock", QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
        )
        self.create_timer(1.0 / float(value("publish_rate_hz")), self._tick, clock=WALL_CLOCK)

    def _tick(self) -> None:
        self._pub.publish(Clock(clock=stamp(self.timeline.time)))

    def safe_shutdown(self) -> None:
        self.server.stop()


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args if args is not None else sys.argv)
    spin_node(SimClock(), threads=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
