"""`powderlab run-sample RECIPE --backend mock` from the command line: real processes, one sample
through every station by ROS actions, each step named in the output, and nothing left running."""

from __future__ import annotations

import subprocess
import sys

import pytest

from powderlab.core.resources import data_path
from tests.ros.conftest import processes_with

pytestmark = [pytest.mark.ros, pytest.mark.slow]

STEPS = ("dose", "mill", "load_furnace", "heat", "unload_furnace", "measure_xrd")


def test_run_sample_names_every_step_and_exits_zero(tmp_path):
    run_dir = tmp_path / "run"
    recipe = data_path("sim", "recipes", "licoo2.yaml")
    completed = subprocess.run(
        [sys.executable, "-m", "powderlab", "run-sample", str(recipe), "--backend", "mock", "--sample-id", "S-cli",
         "--run-dir", str(run_dir), "--time-factor", "20000"],  # the 10.6 h heat in ~2 s of wall time
        check=False, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    for step in STEPS:
        assert step in output, f"step {step} is not named in the output:\n{output}"
    assert "sample S-cli: done; XRD pattern of 4501 points (10-100 deg)" in output
    assert processes_with(str(run_dir)) == [], "node processes left behind"


def test_run_sample_with_a_missing_recipe_names_the_file(tmp_path):
    missing = tmp_path / "nope.yaml"
    completed = subprocess.run(
        [sys.executable, "-m", "powderlab", "run-sample", str(missing), "--backend", "mock"],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert completed.returncode == 2
    assert f"no such file: {missing}" in completed.stderr
