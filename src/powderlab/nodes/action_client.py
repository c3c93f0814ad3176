"""An rclpy ActionClient that is safe to use from threads other than the executor's.

rclpy 7.1 (Jazzy) stores a request's future only after sending the request, without a lock
(ros2/rclpy#1123, fixed upstream after the release these wheels carry). When the server answers
before the future is stored (a fast local server, a busy machine), the executor drops the answer
("Ignoring unexpected goal response. There may be more than one action server ...") and the
caller waits forever while the goal runs unobserved. Every PowderLab action client uses this one.
"""

from __future__ import annotations

import threading
from typing import Any

from rclpy.action import ActionClient


class LockedActionClient(ActionClient):
    """An ActionClient whose sending of a request and handling of answers take one lock."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._request_lock = threading.RLock()

    def send_goal_async(self, *args: Any, **kwargs: Any) -> Any:
        with self._request_lock:
            return super().send_goal_async(*args, **kwargs)

    def _cancel_goal_async(self, goal_handle: Any) -> Any:
        with self._request_lock:
            return super()._cancel_goal_async(goal_handle)

    def _get_result_async(self, goal_handle: Any) -> Any:
        with self._request_lock:
            return super()._get_result_async(goal_handle)

    async def execute(self, taken_data: Any) -> None:
        # An answer is handled only once the request it answers has been stored.
        with self._request_lock:
            await super().execute(taken_data)
