"""The same campaign and seed on the twin give the same samples and lab time, idle or under load.

Sim time moves in lockstep with the lab's work (ADR 0082), so two busy loops on this two-core
machine may slow the campaign in wall time but must not change what the lab did or how long it
took in lab time; nor may the pacing (as fast as possible, or 2000 lab seconds per wall second).
Both runs go through the whole ROS lab (`powderlab campaign --lab ros --backend
sim`: twin, station nodes, lab manager, autonomy node) as a user runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = [pytest.mark.ros, pytest.mark.slow, pytest.mark.timeout(1800)]

# Two targets at once: both arms, the handover rack and two furnaces take part.
TARGETS = {
    "campaign": "lockstep",
    "defaults": {"budget": 1},
    "targets": [
        {
            "target": "BaTiO3",
            "recipes": [
                {
                    "precursors": {"BaCO3": 394.7, "TiO2": 159.7},
                    "heating": [
                        {"kind": "ramp", "target_c": 900, "rate_c_per_min": 20},
                        {"kind": "dwell", "duration_min": 30},
                        {"kind": "cool", "target_c": 190},
                    ],
                }
            ],
        },
        {
            "target": "ZnFe2O4",
            "recipes": [
                {
                    "precursors": {"ZnO": 162.8, "Fe2O3": 319.4},
                    "heating": [
                        {"kind": "ramp", "target_c": 700, "rate_c_per_min": 20},
                        {"kind": "dwell", "duration_min": 30},
                        {"kind": "cool", "target_c": 190},
                    ],
                }
            ],
        },
    ],
}


def run_campaign(folder: Path, domain: int, busy_loops: int, time_factor: float) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    targets = folder / "targets.yaml"
    targets.write_text(yaml.safe_dump(TARGETS, sort_keys=False))
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    command = [
        sys.executable, "-m", "powderlab.cli.main", "campaign", "--targets", str(targets), "--backend", "sim",
        "--lab", "ros", "--seed", "3", "--time-factor", f"{time_factor:g}", "--report", str(folder / "report"),
        "--no-plots", "--json", "--planner", "fixed", "--analyzer", "standin",
    ]  # fmt: skip
    loops = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(busy_loops)]
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads((folder / "report" / "campaign.json").read_text())


def outcome(report: dict) -> dict:
    """What the lab did: the targets made, each attempt's recipe and yield, each sample's doses and place."""
    summary = report["summary"]
    return {
        "made": summary["targets_made"],
        "attempts": sorted(
            (a["experiment"], a["recipe_id"], a["status"], round(a["yield"] or 0.0, 3))
            for t in summary["targets"]
            for a in t["attempts"]
        ),
        "samples": sorted(
            (s["sample"], s["crucible"], s["status"], s["location"], tuple(sorted(s["dosed_mg"])))
            for samples in report["samples"].values()
            for s in samples
        ),
    }


def doses(report: dict) -> dict[tuple[str, str], float]:
    """(sample, powder) -> mg dosed."""
    return {
        (s["sample"], powder): mg
        for samples in report["samples"].values()
        for s in samples
        for powder, mg in s["dosed_mg"].items()
    }


def test_a_campaign_gives_the_same_outcome_and_lab_time_idle_and_under_two_busy_loops(tmp_path):
    domain = 150 + os.getpid() % 40
    # idle as fast as the twin can go (time factor 0), busy paced like `powderlab sim` (2000): lab time
    # depends neither on the machine's load nor on the pacing
    idle = run_campaign(tmp_path / "idle", domain, busy_loops=0, time_factor=0.0)
    busy = run_campaign(tmp_path / "busy", domain, busy_loops=2, time_factor=2000.0)
    assert outcome(idle) == outcome(busy)
    # the same doses to the balance's readability (float summation of the process models may differ in the
    # last bits where the time loop split a step differently)
    assert doses(busy) == pytest.approx(doses(idle), abs=0.015)
    assert len(outcome(idle)["samples"]) == 2
    assert all(status == "analysed" for _, _, status, _ in outcome(idle)["attempts"]), outcome(idle)
    lab_time = (idle["summary"]["sim_duration_s"], busy["summary"]["sim_duration_s"])
    wall = (idle["summary"]["wall_s"], busy["summary"]["wall_s"])
    assert lab_time[1] == pytest.approx(lab_time[0], rel=0.01), f"lab time {lab_time} s, wall {wall} s"
    # each run recorded its lab beside its report (ADR 0093) as a bag folder (ADR 0108), which the report links
    for run, report in (("idle", idle), ("busy", busy)):
        recording = report["recordings"]
        assert [r["link"] for r in recording] == ["recording/"], recording
        bag = tmp_path / run / "report" / "recording"
        assert (bag / "metadata.yaml").is_file()
        assert recording[0]["bytes"] > (bag / "recording_0.mcap").stat().st_size > 10_000
