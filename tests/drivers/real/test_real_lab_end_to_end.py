"""The whole lab through the real drivers against the emulators, over ROS (issue 5, ADR 0030).

`powderlab run-sample --backend real --site emulated` as real processes: run-sample starts
`powderlab emulate` (OPC UA on loopback, serial devices on ptys) and one process per node, takes one
sample through every station by ROS actions only, then stops the nodes and the emulators. The
recipe is short (tests/drivers/real/data/short_licoo2.yaml) and device time runs x20, the rate the
driver tests use.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.drivers.real.shared import free_port
from tests.ros.conftest import processes_with

pytestmark = [pytest.mark.ros, pytest.mark.slow]

RECIPE = Path(__file__).resolve().parent / "data" / "short_licoo2.yaml"
TIME_FACTOR = "20"
STEPS = ("dose", "mill", "load_furnace", "heat", "unload_furnace", "measure_xrd")


def test_one_sample_through_every_station_on_the_real_backend(tmp_path):
    run_dir = tmp_path / "run"
    emulator_dir = tmp_path / "emulated"
    # an OPC UA port and pty folder of this test's own, so parallel runs (and the in-process
    # emulators of the other driver tests) never meet; the lab's drivers and the emulators both read them
    env = dict(os.environ, POWDERLAB_EMULATOR_DIR=str(emulator_dir), POWDERLAB_OPCUA_PORT=str(free_port()))
    # the timeout bounds a hang; it is not a timing claim
    completed = subprocess.run(
        [sys.executable, "-m", "powderlab", "run-sample", str(RECIPE), "--backend", "real", "--site", "emulated",
         "--time-factor", TIME_FACTOR, "--sample-id", "S-real", "--run-dir", str(run_dir),
         "--state-dir", str(tmp_path / "state")],
        check=False, capture_output=True, text=True, timeout=240, env=env,
    )  # fmt: skip
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "powderlab run-sample: emulators for site 'emulated' serve" in output
    steps = re.findall(r"^\[(\d)/8\] (\w+)/(\w+): .* -> (\w+): ", output, re.MULTILINE)
    assert len(steps) == 8, output
    assert all(code == "NONE" for *_, code in steps), output
    for step in STEPS:
        assert any(action == step for _, _, action, _ in steps), f"step {step} is not named in the output:\n{output}"
    assert "sample S-real: done; XRD pattern of 4501 points (10-100 deg)" in output
    assert processes_with(str(run_dir)) == [], "node processes left behind"
    assert processes_with(str(emulator_dir)) == [], "emulator process left behind"
