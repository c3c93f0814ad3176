"""A real lab (node processes, mock backend, sim time) with its dashboard node, shared by the
dashboard tests; an HTTP client with a cookie jar; a helper rclpy node for fake publishers."""

from __future__ import annotations

import http.cookiejar
import json
import os
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from powderlab.bringup.manifest import build_manifest
from powderlab.bringup.session import LabSession
from powderlab.dashboard.auth import add_user
from powderlab.nodes.lab_client import LabClient

TIME_FACTOR = 200.0
# The lab behind the dashboard tests: the digital twin, so the browser test jogs a joint and sees
# it change in the twin (POWDERLAB_DASHBOARD_BACKEND=mock runs the same tests on mock devices).
DASHBOARD_BACKEND = os.environ.get("POWDERLAB_DASHBOARD_BACKEND", "sim")
USER, PASSWORD = "alice", "alice-password"
CAMERA_TOPIC = "test/camera"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Api:
    """The dashboard's HTTP API as a browser uses it (cookies, the X-PowderLab header)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> Any:
        with self.opener.open(self.url + path, timeout=20) as response:
            body = response.read()
        return json.loads(body) if path.startswith("api/") and not path.endswith(".jpg") else body

    def post(self, path: str, body: dict[str, Any], csrf: bool = True) -> tuple[int, dict[str, Any]]:
        headers = {"Content-Type": "application/json"}
        if csrf:
            headers["X-PowderLab"] = "1"
        request = urllib.request.Request(self.url + path, json.dumps(body).encode(), headers, method="POST")
        try:
            with self.opener.open(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            text = error.read().decode()
            try:
                return error.code, json.loads(text)
            except json.JSONDecodeError:
                return error.code, {"ok": False, "message": text}

    def login(self, user: str = USER, password: str = PASSWORD) -> tuple[int, dict[str, Any]]:
        return self.post("api/login", {"user": user, "password": password})

    def command(self, **body: Any) -> dict[str, Any]:
        status, result = self.post("api/command", body)
        assert status == 200, result
        return result

    def state(self) -> dict[str, Any]:
        return self.get("api/state")

    def wait(self, condition, timeout_s: float = 20.0, what: str = "condition") -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        state = self.state()
        while not condition(state):
            if time.monotonic() > deadline:
                raise AssertionError(f"dashboard state never met: {what}")
            time.sleep(0.1)
            state = self.state()
        return state


@dataclass
class DashboardLab:
    """The running lab, its dashboard URL, its run folder and a lab client."""

    session: LabSession
    url: str
    run_dir: Path
    client: LabClient
    command_log: Path

    def log_of(self, node: str) -> str:
        return (self.run_dir / f"{node}.log").read_text(errors="replace")


# Package scope, not session: the lab must be gone before other packages' tests start labs of their
# own in the same ROS domain (two nodes named /transfer make every goal a coin toss).
@pytest.fixture(scope="package")
def dashboard_lab(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("dashboard-lab")
    users = run_dir / "users.yaml"
    add_user(users, USER, PASSWORD)
    port = free_port()
    command_log = run_dir / "commands.jsonl"
    manifest = build_manifest(
        DASHBOARD_BACKEND,
        time_factor=TIME_FACTOR,  # the twin paced like the mock clock: a scan takes seconds, not 8 min
        state_dir=run_dir,
        dashboard={
            "port": port,
            "users_file": str(users),
            "command_log": str(command_log),
            "camera_topic": CAMERA_TOPIC,
            "push_period_s": 0.1,
        },
    )
    session = LabSession(manifest, run_dir, startup_timeout_s=120.0)
    client = session.start()
    url = f"http://127.0.0.1:{port}/"
    api = Api(url)
    deadline = time.monotonic() + 60
    while True:
        try:
            if len(api.state()["stations"]) == 5:
                break
        except (urllib.error.URLError, ConnectionError):
            pass
        if time.monotonic() > deadline:
            session.stop()
            raise AssertionError(f"the dashboard did not come up:\n{session.processes.tail('dashboard')}")
        time.sleep(0.2)
    yield DashboardLab(session, url, run_dir, client, command_log)
    session.stop()


@pytest.fixture
def api(dashboard_lab):
    return Api(dashboard_lab.url)


@pytest.fixture(scope="package")
def helper():
    """An rclpy node of the test's own (fake autonomy node, camera, joystick)."""
    client = LabClient(node_name="test_helper")
    yield client
    client.close()


def joints(client: LabClient, arm: str) -> list[float]:
    status = client.status("transfer", 5.0)
    device = next(d for d in status.devices if d.name == arm)
    values = {kv.key: kv.value for kv in device.values}
    return [float(values[f"joint_{i}"]) for i in range(1, 7)]
