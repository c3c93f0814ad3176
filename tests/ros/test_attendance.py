"""The dashboard's heartbeat of open browsers tells the autonomy node whether anybody is at the lab."""

from __future__ import annotations

import threading
import time
import uuid

import rclpy
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.signals import SignalHandlerOptions

from powderlab.nodes import attendance
from powderlab.nodes.attendance import Attendance, publish_watchers


def wait_for(condition, timeout_s: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_browser_on_the_dashboard_means_somebody_is_at_the_lab(monkeypatch) -> None:
    monkeypatch.setattr(attendance, "CLIENTS_PERIOD_S", 0.1)
    monkeypatch.setattr(attendance, "STALE_S", 1.0)
    context = Context()
    rclpy.init(context=context, signal_handler_options=SignalHandlerOptions.NO)
    suffix = uuid.uuid4().hex[:8]
    dashboard = rclpy.create_node(f"dashboard_{suffix}", context=context)
    autonomy = rclpy.create_node(f"autonomy_{suffix}", context=context)
    executor = MultiThreadedExecutor(num_threads=2, context=context)
    executor.add_node(dashboard)
    executor.add_node(autonomy)
    thread = threading.Thread(target=executor.spin, daemon=True)
    thread.start()
    try:
        browsers = [0]
        topic = f"test_{suffix}/clients"
        watched = Attendance(autonomy, topic)
        assert not watched.attended()  # nothing heard yet: nobody
        publish_watchers(dashboard, lambda: browsers[0], topic)
        time.sleep(0.5)
        assert not watched.attended()  # a dashboard with no browser open: nobody
        browsers[0] = 1
        assert wait_for(watched.attended)
        browsers[0] = 0
        assert wait_for(lambda: not watched.attended())
        browsers[0] = 2
        assert wait_for(watched.attended)
        executor.remove_node(dashboard)  # the dashboard dies: its silence means nobody after STALE_S
        dashboard.destroy_node()
        assert wait_for(lambda: not watched.attended())
    finally:
        executor.shutdown(timeout_sec=2.0)
        autonomy.destroy_node()
        rclpy.try_shutdown(context=context)
        thread.join(timeout=5.0)
