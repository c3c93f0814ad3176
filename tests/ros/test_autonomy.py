"""The autonomy node over real processes: a campaign end to end (mock devices and the twin), and
kill -9 at random moments (mock: BACKEND below).
"""

from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from powderlab.autonomy import store as tables
from powderlab.autonomy.store import Store
from powderlab.autonomy.summary import campaign_summary
from powderlab.bringup.manifest import build_manifest
from powderlab.bringup.session import LabSession
from powderlab.core.errors import ValidationError
from powderlab.core.resources import data_path
from powderlab.nodes.autonomy_client import AutonomyClient
from tests.autonomy.records import check_records

BACKEND = "mock"
TIME_FACTOR = 2000.0
TARGETS = data_path("sim", "campaigns", "default.yaml")
GOAL_LINE = re.compile(r"\]: (?P<station>\w+)\.(?P<action>\w+)\.(?P<goal>[0-9a-f]{8}): (?P<code>[A-Z_]+):")


def lab_table(client) -> dict[str, str]:
    return {name: p.labware_id for name, p in client.positions().items() if p.labware_id}


QUICK_TARGETS = """
targets:
  - target: BaTiO3
    budget: 1
    recipes:
      - precursors: {BaCO3: 394.7, TiO2: 159.7}
        heating: [{kind: ramp, target_c: 600, rate_c_per_min: 20}, {kind: cool, target_c: 190}]
  - target: ZnFe2O4
    budget: 1
    recipes:
      - precursors: {ZnO: 162.8, Fe2O3: 319.4}
        heating: [{kind: ramp, target_c: 600, rate_c_per_min: 20}, {kind: cool, target_c: 190}]
"""


# On the twin: both targets at once (two samples in flight, both arms busy), the AI planner and
# the real XRD analysis of the twin's patterns.
CAMPAIGNS = {
    "mock": (QUICK_TARGETS, ["BaTiO3", "ZnFe2O4"], {"planner": "fixed", "analyzer": "standin"}, "{}"),
    "sim": (
        QUICK_TARGETS,
        ["BaTiO3", "ZnFe2O4"],
        {"planner": "arrows", "analyzer": "chemistry"},
        "{twin_time_factor: 10000}",
    ),
}


@pytest.mark.parametrize("backend", ["mock", "sim"])
def test_campaign_through_the_autonomy_node(tmp_path: Path, backend: str) -> None:
    targets, names, choices, options = CAMPAIGNS[backend]
    database = tmp_path / "campaign.sqlite"
    manifest = build_manifest(
        backend,
        time_factor=TIME_FACTOR,
        backend_options=options,
        autonomy={"database": str(database), "campaign_id": "ros", "seed": 3, **choices},
    )
    session = LabSession(manifest, tmp_path / "run", startup_timeout_s=120.0)
    client = session.start()
    try:
        autonomy = AutonomyClient(client.node)
        with pytest.raises(ValidationError, match="unknown keys"):
            autonomy.submit_yaml("targets: [{target: BaTiO3, colour: blue}]")
        with pytest.raises(ValidationError, match="target 2: 'Xx9Q' is not a chemical formula: unknown elements"):
            autonomy.submit_yaml("targets: [BaTiO3, Xx9Q]")
        # a target the node's planner cannot make: fixed needs recipes, arrows a library phase
        fixed = choices["planner"] == "fixed"
        unplannable, why = ("BaTiO3", "the fixed planner only tries") if fixed else ("NaCl2", "no precursor set")
        with pytest.raises(ValidationError, match=f"target 1: '{unplannable}': {why}"):
            autonomy.submit_yaml(f"targets: [{unplannable}]")
        assert autonomy.submit_yaml(targets) == names
        assert "pausing" in autonomy.pause("test pause")
        deadline = time.monotonic() + 20
        while (progress := autonomy.progress(1.0)) is None or progress.state != "paused":
            assert time.monotonic() < deadline, progress
        assert "test pause" in progress.reasons
        autonomy.resume()
        seen = []
        final = autonomy.wait_finished(on_progress=seen.append, timeout_s=240)
        assert final.targets_total == len(names) and final.targets_made + final.targets_failed == len(names)
        assert any(p.state == "running" and p.samples_in_flight for p in seen)
        if backend == "sim":  # the twin carried two samples through the cell at the same time
            assert max(p.samples_in_flight for p in seen) >= 2, [p.samples_in_flight for p in seen]
        store = Store(database)
        try:
            check_records(store, "ros", lab_table(client))
        finally:
            store.close()
    finally:
        session.stop()
    if backend == "mock":
        check_recording(database, "ros")


def check_recording(database: Path, campaign: str) -> None:
    """The autonomy node recorded the lab into a bag folder in recordings/ beside its database (recording:=auto)
    and named it in the campaign's events; it reads back with the XRD patterns and progress of the campaign."""
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    store = Store(database)
    try:
        named = [Path(e["message"]) for e in store.rows(tables.events, campaign) if e["kind"] == "recording"]
    finally:
        store.close()
    assert len(named) == 1 and named[0].parent == database.parent / "recordings", named
    assert (named[0] / "metadata.yaml").is_file()  # the autonomy node stopped its recorder cleanly (SIGINT)
    with (named[0] / f"{named[0].name}_0.mcap").open("rb") as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        topics = {channel.topic for channel in reader.get_summary().channels.values()}
        assert {"/autonomy/progress", "/xrd/pattern", "/diagnostics", "/furnaces/status", "/rosout"} <= topics
        patterns = [m for _, _, _, m in reader.iter_decoded_messages(topics=["/xrd/pattern"])]
    assert patterns and all(len(p.two_theta_deg) == len(p.intensity) > 100 for p in patterns)


def autonomy_command(database: Path, campaign: str) -> list[str]:
    return [
        sys.executable, "-m", "powderlab.nodes.autonomy_node", "--ros-args", "-r", "__node:=autonomy",
        "-p", f"database:={database}", "-p", f"campaign_id:={campaign}", "-p", "use_sim_time:=true",
        "-p", f"targets_file:={TARGETS}", "-p", "seed:=3", "-p", "planner:=fixed", "-p", "analyzer:=standin",
    ]  # fmt: skip


def wait_until_open(log: Path, count: int, process: subprocess.Popen, timeout_s: float = 60.0) -> None:
    """Until the autonomy node has opened its campaign for the count-th time (new or resumed)."""
    deadline = time.monotonic() + timeout_s
    while log.read_text(errors="replace").count("open (") < count:
        assert process.poll() is None and time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
        time.sleep(0.05)


def station_goals(run_dir: Path) -> list[tuple[str, str, str, str]]:
    """(station, action, goal id prefix, code) of every goal the station nodes ran, from their logs."""
    found = []
    for log in run_dir.glob("*.log"):
        for line in log.read_text(errors="replace").splitlines():
            match = GOAL_LINE.search(line)
            if match:
                found.append((match["station"], match["action"], match["goal"], match["code"]))
    return found


KILLS = 20  # SIGKILLs of the autonomy node at random moments of one campaign


@pytest.mark.timeout(900)
def test_kill_9_at_random_moments_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    seed = int(os.environ.get("POWDERLAB_KILL_SEED", random.SystemRandom().randrange(10**6)))
    rng = random.Random(seed)
    database = tmp_path / "campaign.sqlite"
    run_dir = tmp_path / "run"
    manifest = build_manifest(BACKEND, time_factor=TIME_FACTOR)
    session = LabSession(manifest, run_dir, startup_timeout_s=120.0)
    client = session.start()
    env = dict(os.environ)
    node_log = open(tmp_path / "autonomy.log", "ab")  # noqa: SIM115 - closed in finally
    process = None
    kills = []
    try:
        autonomy = AutonomyClient(client.node)
        for round_ in range(1, KILLS + 1):
            process = subprocess.Popen(autonomy_command(database, "kill"), stdout=node_log, stderr=node_log, env=env)
            wait_until_open(tmp_path / "autonomy.log", round_, process)
            wait = rng.uniform(0.0, 3.0)  # wall seconds of campaign (x TIME_FACTOR of lab time)
            time.sleep(wait)
            assert process.poll() is None, (tmp_path / "autonomy.log").read_text()[-3000:]
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            kills.append(round(wait, 2))
        process = subprocess.Popen(autonomy_command(database, "kill"), stdout=node_log, stderr=node_log, env=env)
        # this node's own progress, not the latched one the client kept from the last killed node (which may
        # have finished the campaign): else the SIGINT below reached the new node while it was importing
        wait_until_open(tmp_path / "autonomy.log", KILLS + 1, process)
        final = autonomy.wait_finished(timeout_s=300, alive=lambda: process.poll() is None)
        assert final.targets_total == 3, f"seed {seed}, kills after {kills} s"
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)
        store = Store(database)
        try:
            stats = check_records(store, "kill", lab_table(client))
            events = store.rows(tables.events, "kill")
            summary = campaign_summary(store, "kill")
        finally:
            store.close()
    finally:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        node_log.close()
        session.stop()
    # every node that resumed the campaign reconciled it first (the last one may find it finished already)
    resumed = (tmp_path / "autonomy.log").read_text(errors="replace").count("campaign kill open (resumed)")
    assert resumed >= KILLS - 1
    assert sum(e["kind"] == "recovery" and "restarted" in e["message"] for e in events) == resumed
    ran = station_goals(run_dir)
    recorded = {op["id"][:8]: op for op in stats["operations"]}
    # every goal a station ran is in the records (nothing lost) and ran once (nothing duplicated) ...
    ids = [goal for _, _, goal, _ in ran]
    assert len(ids) == len(set(ids)), f"seed {seed}: a goal ran twice"
    nested = 0  # transfers the furnace station sends itself while loading / unloading
    for station, action, goal, code in ran:
        op = recorded.get(goal)
        if op is None and action == "transfer":
            nested += 1
            continue
        assert op is not None, f"seed {seed}: {station}/{action} goal {goal} ran but is not recorded"
        assert op["action"] == action and op["station"] == station
        assert (code == "NONE") == (op["state"] == "succeeded"), (op, code)
    assert nested <= sum(action in ("load_furnace", "unload_furnace") for _, action, _, _ in ran)
    # ... and every goal recorded as done was run by a station
    done = {g for g, op in recorded.items() if op["state"] in ("succeeded", "failed")}
    assert done <= set(ids), f"seed {seed}: recorded results no station produced: {done - set(ids)}"
    # ... and the outcome is an uninterrupted run's: the same experiments with one crucible each (a
    # goal lost in a kill never reached a station, so even a dose is simply sent again)
    doses = [op for op in stats["operations"] if op["action"] == "dose" and op["state"] == "succeeded"]
    assert len(doses) == stats["samples"] == stats["experiments"], f"seed {seed}, kills after {kills} s"
    assert_same_outcome(summary, uninterrupted_summary(tmp_path), f"seed {seed}, kills after {kills} s")


def uninterrupted_summary(tmp_path: Path) -> dict:
    """The same campaign run without a kill (in process: the engine and stations are the same code)."""
    from powderlab.autonomy.runner import local_campaign
    from powderlab.autonomy.targets import load_targets

    campaign = local_campaign(load_targets(TARGETS).targets, tmp_path / "whole.sqlite", "kill", seed=3)
    try:
        campaign.run(max_sim_s=10 * 86400)
        return campaign_summary(campaign.store, "kill")
    finally:
        campaign.close()


def assert_same_outcome(summary: dict, reference: dict, where: str) -> None:
    """Same targets, experiments (recipe, status), samples and failures; yields alike.

    A yield may differ by the stand-in's measurement noise (+-0.025, drawn per XRD holder): the
    ROS lab may measure samples in another order than the in-process one, so one holder each.
    """

    def attempts(s: dict) -> list:
        return [(t["formula"], [(a["recipe_id"], a["status"]) for a in t["attempts"]]) for t in s["targets"]]

    assert summary["status"] == reference["status"] == "finished", where
    assert attempts(summary) == attempts(reference), where
    for key in ("experiments", "samples", "samples_failed", "samples_measured"):
        assert summary[key] == reference[key], (where, key, summary[key], reference[key])
    for mine, theirs in zip(summary["targets"], reference["targets"], strict=True):
        for a, b in zip(mine["attempts"], theirs["attempts"], strict=True):
            assert abs((a["yield"] or 0.0) - (b["yield"] or 0.0)) <= 0.05, (where, a, b)


@pytest.fixture(autouse=True)
def _no_leftover_nodes():
    yield
    from tests.ros.conftest import processes_with

    # this test's domain only: other labs on the machine (other test runs) are not ours to judge
    domain = f"ROS_DOMAIN_ID={os.environ.get('ROS_DOMAIN_ID', '')}".encode()
    ours = [pid for pid in processes_with("powderlab.nodes.autonomy_node") if domain in _environment(pid)]
    assert not ours, "an autonomy node was left running"


def _environment(pid: int) -> list[bytes]:
    try:
        return Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return []
