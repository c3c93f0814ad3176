"""LockedActionClient: an answer that arrives before rclpy stored the request is still delivered.

rclpy 7.1 stores a goal request's future only after sending it (ros2/rclpy#1123). A delay put
into that window makes the race certain: the local server answers while the client is still
inside send_goal_async, so the plain ActionClient drops the answer and the locked one does not.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import rclpy
from powderlab_interfaces import action as actions
from rclpy.action import ActionClient, ActionServer
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.signals import SignalHandlerOptions

from powderlab.core.errors import DeviceTimeoutError
from powderlab.nodes.action_client import LockedActionClient
from powderlab.nodes.futures import wait_future

pytestmark = pytest.mark.ros

SEND_DELAY_S = 0.5  # far longer than a local server takes to answer


class SlowToStoreHandle:
    """The client's rcl handle, pausing after a request went out (before rclpy stores its future)."""

    def __init__(self, handle: Any) -> None:
        self._handle = handle

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)

    def _sent(self, sequence_number: int) -> int:
        time.sleep(SEND_DELAY_S)  # the server's answer arrives meanwhile
        return sequence_number

    def send_goal_request(self, request: Any) -> int:
        return self._sent(self._handle.send_goal_request(request))

    def send_result_request(self, request: Any) -> int:
        return self._sent(self._handle.send_result_request(request))


class Ros:
    """One context with a Mill action server that succeeds at once, spun by four threads."""

    def __init__(self) -> None:
        self.context = Context()
        rclpy.init(context=self.context, signal_handler_options=SignalHandlerOptions.NO)
        self.node = rclpy.create_node(f"action_race_{uuid.uuid4().hex[:8]}", context=self.context)
        self.action = f"race_{uuid.uuid4().hex[:8]}/mill"
        self.group = ReentrantCallbackGroup()
        self.server = ActionServer(self.node, actions.Mill, self.action, self._execute, callback_group=self.group)
        self.executor = MultiThreadedExecutor(num_threads=4, context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    @staticmethod
    def _execute(goal_handle: Any) -> Any:
        goal_handle.succeed()
        return actions.Mill.Result(error_msg="milled", milled_s=1.0)

    def client(self, kind: type[ActionClient]) -> ActionClient:
        client = kind(self.node, actions.Mill, self.action, callback_group=self.group)
        assert client.wait_for_server(timeout_sec=10.0)
        client._client_handle = SlowToStoreHandle(client._client_handle)
        return client

    def close(self) -> None:
        self.executor.shutdown(timeout_sec=2.0)
        self.thread.join(timeout=5.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


@pytest.fixture
def ros() -> Iterator[Ros]:
    session = Ros()
    yield session
    session.close()


def test_the_locked_client_gets_an_answer_that_came_before_the_request_was_stored(ros):
    client = ros.client(LockedActionClient)
    handle = wait_future(client.send_goal_async(actions.Mill.Goal(duration_s=1.0)), 10.0, "goal response")
    assert handle.accepted
    result = wait_future(handle.get_result_async(), 10.0, "result").result
    assert result.error_msg == "milled" and result.milled_s == 1.0


def test_the_plain_rclpy_client_drops_that_answer(ros):
    """Why the lock is there: if this starts failing, rclpy has fixed #1123 and the lock can go."""
    client = ros.client(ActionClient)
    with pytest.raises(DeviceTimeoutError):
        wait_future(client.send_goal_async(actions.Mill.Goal(duration_s=1.0)), 3.0, "goal response")
