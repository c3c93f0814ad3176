"""Is anybody at the lab? The dashboard's heartbeat of how many browsers watch it.

The dashboard publishes, every CLIENTS_PERIOD_S of wall time, the number of browsers with its live
view open (std_msgs/UInt32 on `dashboard/clients`). The autonomy node listens: while somebody
watches, a suspended campaign waits for them; with nobody there (no message for STALE_S, or a
count of 0) a suspension that outlasts its limit aborts the campaign.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from std_msgs.msg import UInt32

from powderlab.nodes.qos import WALL_CLOCK

CLIENTS_TOPIC = "dashboard/clients"
CLIENTS_PERIOD_S = 2.0
STALE_S = 10.0  # older news than this means nobody


def publish_watchers(node: Any, count: Callable[[], int], topic: str = CLIENTS_TOPIC) -> None:
    """Publish count() every CLIENTS_PERIOD_S wall seconds (a heartbeat: silence means nobody)."""
    publisher = node.create_publisher(UInt32, topic, 1)
    node.create_timer(CLIENTS_PERIOD_S, lambda: publisher.publish(UInt32(data=int(count()))), clock=WALL_CLOCK)


class Attendance:
    """Follows the dashboard's heartbeat; attended() is True while somebody watches the lab."""

    def __init__(self, node: Any, topic: str = CLIENTS_TOPIC, callback_group: Any = None) -> None:
        self._last: tuple[int, float] = (0, 0.0)
        node.create_subscription(UInt32, topic, self._heard, 10, callback_group=callback_group)

    def _heard(self, message: UInt32) -> None:
        self._last = (int(message.data), time.monotonic())

    def attended(self) -> bool:
        count, at = self._last
        return count > 0 and time.monotonic() - at < STALE_S
