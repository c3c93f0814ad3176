"""Waiting on rclpy futures from worker threads (never spin inside a callback)."""

from __future__ import annotations

import threading
from typing import Any

from rclpy.task import Future

from powderlab.core.errors import DeviceTimeoutError


def wait_future(future: Future, timeout_s: float, what: str, stop: threading.Event | None = None) -> Any:
    """Block this thread until the future is done (the executor completes it in another thread)."""
    done = threading.Event()
    future.add_done_callback(lambda _: done.set())
    waited = 0.0
    while not done.wait(0.05):
        waited += 0.05
        if stop is not None and stop.is_set():
            return None
        if waited >= timeout_s:
            raise DeviceTimeoutError(what, f"no answer within {timeout_s:g} s")
    return future.result()
