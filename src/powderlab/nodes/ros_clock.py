"""A powderlab Clock backed by a node's ROS clock (sim time when use_sim_time is set)."""

from __future__ import annotations

import threading
import time

from rclpy.clock import ClockType
from rclpy.node import Node

# How often a sleeping operation looks at the clock again (wall seconds). Sim time advances in
# the steps /clock is published with, so this only bounds the added latency.
POLL_S = 0.002


class RosClock:
    """now() and sleep() on the node's clock: wall time normally, /clock under use_sim_time."""

    def __init__(self, node: Node) -> None:
        self._node = node

    def now(self) -> float:
        return self._node.get_clock().now().nanoseconds * 1e-9

    @property
    def is_sim_time(self) -> bool:
        return (
            self._node.get_clock().clock_type == ClockType.ROS_TIME and self._node.get_parameter("use_sim_time").value
        )

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        if not self.is_sim_time:
            if stop is None:
                time.sleep(max(0.0, seconds))
                return True
            return not stop.wait(max(0.0, seconds))
        end = self.now() + seconds
        while self.now() < end:
            if stop is not None and stop.wait(POLL_S):
                return False
            if stop is None:
                time.sleep(POLL_S)
        return not (stop and stop.is_set())
