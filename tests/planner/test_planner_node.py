"""The planner node as a real process: submit targets, the queue topic, propose and report over ROS."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from powderlab.core.errors import ValidationError
from powderlab.nodes.lab_client import LabClient
from powderlab.nodes.planner_node import PlannerClient

TARGETS = """
targets:
  - {formula: LiCoO2, budget: 2}
  - {formula: Q2O3}
  - {formula: BaTiO3, budget: 3}
"""


@pytest.fixture(scope="module")
def planner(tmp_path_factory):
    log_path = Path(tmp_path_factory.mktemp("planner")) / "planner.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "powderlab.nodes.planner_node", "--ros-args", "-r", "__node:=planner"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    client = LabClient()
    try:
        yield PlannerClient(client.node), process, log_path
    finally:
        client.close()
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def wait_for_queue(client: PlannerClient, check, timeout_s: float = 30.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            message = client.queue(timeout_s=1.0)
        except ValidationError:  # not published yet
            continue
        if check(message):
            return message
        time.sleep(0.1)
    raise AssertionError("the target queue never showed the expected state")


def test_the_planner_node_serves_submit_propose_report_and_the_queue(planner) -> None:
    client, process, log_path = planner
    response = client.submit(TARGETS, timeout_s=90.0)
    assert process.poll() is None, log_path.read_text()
    assert list(response.targets) == ["LiCoO2", "BaTiO3"]
    assert (
        not response.success and "entry 2 (Q2O3)" in response.message and "not a chemical formula" in response.message
    )
    queue = wait_for_queue(client, lambda m: len(m.targets) == 2)
    assert {t.formula: t.status for t in queue.targets} == {"LiCoO2": "pending", "BaTiO3": "pending"}

    first = client.propose("LiCoO2")
    assert first.success and first.has_recipe
    assert first.recipe.target == "LiCoO2" and len(first.recipe.precursors) == 2
    assert first.recipe.heating_profile and "driving force" in first.reason
    waiting = client.propose("LiCoO2")
    assert not waiting.success and "report it first" in waiting.message

    bad = client.report("LiCoO2", "no-such-recipe", 0.1, {"LiCoO2": 0.1})
    assert not bad.success and "no-such-recipe" in bad.message
    report = client.report("LiCoO2", first.recipe.recipe_id, 0.0, {"Li2CO3": 0.3, "Co3O4": 0.7})
    assert report.success and report.target_status == "active"
    second = client.propose("LiCoO2")
    assert second.has_recipe and second.recipe.recipe_id != first.recipe.recipe_id
    assert "too cold" in second.reason  # learned from the reported phases
    final = client.report("LiCoO2", second.recipe.recipe_id, 0.0, {"Li2CO3": 0.3, "Co3O4": 0.7})
    assert final.target_status == "exhausted"  # budget 2 spent
    done = client.propose("LiCoO2")
    assert done.success and not done.has_recipe and "budget" in done.reason
    queue = wait_for_queue(client, lambda m: any(t.status == "exhausted" for t in m.targets))
    entry = next(t for t in queue.targets if t.formula == "LiCoO2")
    assert entry.experiments == 2 and entry.budget == 2
