"""Acceptance: `powderlab up --backend mock` as real processes, every station action from a
separate rclpy client, one running goal cancelled, and a clean stop with no process left."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request

import pytest
from powderlab_interfaces import action as actions
from powderlab_interfaces import msg

from powderlab.core.errors import ErrorCode
from powderlab.nodes.lab_client import LabClient
from tests.ros.conftest import LONG_PROFILE, heat_goal, processes_with, sample, transfer_goal

pytestmark = [pytest.mark.ros, pytest.mark.slow]


@pytest.fixture
def up(tmp_path):
    run_dir = tmp_path / "run"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "powderlab",
            "up",
            "--backend",
            "mock",
            "--time-factor",
            "500",
            "--run-dir",
            str(run_dir),
            "--dashboard-port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    yield process, run_dir
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)


def dashboard_sees_the_lab(url_file, timeout_s=30.0):
    """`powderlab up` serves the dashboard, and it shows every station."""
    deadline = time.monotonic() + timeout_s
    stations = {}
    while time.monotonic() < deadline:
        if url_file.is_file() and url_file.read_text().strip():
            url = url_file.read_text().strip()
            with urllib.request.urlopen(url + "api/state", timeout=10) as response:
                stations = json.loads(response.read())["stations"]
            if len(stations) == 5:
                return
        time.sleep(0.2)
    raise AssertionError(f"the dashboard did not show the five stations: {sorted(stations)}")


def test_every_station_action_cancel_and_clean_stop(up):
    process, run_dir = up
    client = LabClient()
    try:
        client.wait_all_active(120.0, alive=lambda: process.poll() is None)
        # 5 stations, sim clock, lab manager, dashboard
        assert len(processes_with(str(run_dir / "overrides.yaml"))) == 8
        dashboard_sees_the_lab(run_dir / "dashboard.url")

        crucible = sample("crucible_01", "S-accept")
        results = {}

        def run(station, action, goal):
            results[f"{station}/{action}"] = result = client.run(station, action, goal, timeout_s=120.0)
            assert result.error_code == ErrorCode.NONE, f"{station}/{action}: {result.error_msg}"
            return result

        run("transfer", "transfer", transfer_goal("crucible_01", "storage/1", "dosing/balance"))
        run(
            "dosing",
            "dose",
            actions.Dose.Goal(sample=crucible, powders=[msg.PowderDose(powder="TiO2", target_mg=250.0)]),
        )
        run("transfer", "transfer", transfer_goal("crucible_01", "dosing/balance", "milling/clamp"))
        run("milling", "mill", actions.Mill.Goal(sample=crucible, duration_s=120.0, frequency_hz=20.0, ball_count=2))
        loaded = run(
            "furnaces", "load_furnace", actions.LoadFurnace.Goal(sample=crucible, source="milling/clamp", slot=-1)
        )
        run("furnaces", "heat", heat_goal(loaded.furnace))
        run("furnaces", "unload_furnace", actions.UnloadFurnace.Goal(sample=crucible, destination="buffer/1"))
        measured = run(
            "xrd", "measure_xrd", actions.MeasureXrd.Goal(sample=crucible, source="buffer/1", destination="done/1")
        )
        assert results["dosing/dose"].doses[0].actual_mg == pytest.approx(250.0, abs=2.5)
        assert len(measured.pattern.two_theta_deg) == 4501

        # cancel a running goal: a ten-hour dwell on another furnace
        feedback = []
        running = client.send("furnaces", "heat", heat_goal("furnace_3", LONG_PROFILE), feedback=feedback.append)
        deadline = time.monotonic() + 30
        while not feedback and time.monotonic() < deadline:
            time.sleep(0.05)
        assert feedback, "no feedback from the running heat goal"
        running.cancel()
        cancelled = running.result(60.0)
        assert cancelled.error_code == ErrorCode.CANCELED
        furnaces = client.status("furnaces")
        assert not next(f for f in furnaces.furnaces if f.name == "furnace_3").program_running
    finally:
        client.close()

    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=90)
    assert process.returncode == 0, output
    assert "stopped" in output
    deadline = time.monotonic() + 10
    while processes_with(str(run_dir / "overrides.yaml")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_with(str(run_dir / "overrides.yaml")) == [], "node processes left behind"
