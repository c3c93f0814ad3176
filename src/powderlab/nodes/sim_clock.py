"""Publishes /clock faster than real time, for running the mock lab on sim time.

The twin takes this role when the sim backend runs (it steps physics and publishes /clock).
"""

from __future__ import annotations

import sys
import time
from typing import Any

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock

from powderlab.nodes.conversions import stamp
from powderlab.nodes.qos import WALL_CLOCK
from powderlab.nodes.station_node import spin_node


class SimClock(rclpy.node.Node):
    """Sim time = time_factor x wall time since start."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("sim_clock", **kwargs)
        self.declare_parameter("time_factor", 100.0, ParameterDescriptor(description="sim seconds per wall second"))
        self.declare_parameter("publish_rate_hz", 200.0, ParameterDescriptor(description="wall Hz of /clock"))
        self._factor = float(self.get_parameter("time_factor").value)
        self._start = time.monotonic()
        self._pub = self.create_publisher(
            Clock, "/clock", QoSProfile(depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
        )
        self.create_timer(1.0 / float(self.get_parameter("publish_rate_hz").value), self._tick, clock=WALL_CLOCK)

    def _tick(self) -> None:
        self._pub.publish(Clock(clock=stamp((time.monotonic() - self._start) * self._factor)))


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args if args is not None else sys.argv)
    spin_node(SimClock(), threads=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
