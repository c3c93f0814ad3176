"""`powderlab sim` (the main job, `make sim`): wall time idle and under two busy loops.

Runs the main job as a user does (the whole ROS lab on the twin, the campaign of
sim/campaigns/twin.yaml at time factor 2000), once on the machine as it is and once with two
`yes > /dev/null` loops taking both cores, and reports wall time, targets made and the lab time
the campaign took. With lockstep sim time (ADR 0082) the lab time and the outcome must not
depend on the load; only the wall time may.

    python -m bench.bench_sim [--runs 1]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.report import markdown_table, write_section


def run_sim(busy_loops: int, domain: int) -> dict:
    """One `powderlab sim`; its summary plus the command's wall time and exit code."""
    report = Path(tempfile.mkdtemp(prefix="plbench-sim-"))
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    loops = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(busy_loops)]
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-m", "powderlab.cli.main", "sim", "--report", str(report)],
            env=env,
            capture_output=True,
            text=True,
            timeout=3600,
            check=False,
        )
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()
    wall = time.monotonic() - started
    summary = json.loads((report / "campaign.json").read_text())["summary"] if done.returncode == 0 else {}
    return {"code": done.returncode, "wall_s": wall, "load": load_before, **summary}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1, help="runs per condition")
    args = parser.parse_args()
    rows = []
    domain = 170 + os.getpid() % 20
    for busy in (0, 2):
        for _ in range(args.runs):
            result = run_sim(busy, domain)
            print(json.dumps({k: v for k, v in result.items() if k != "targets"}), flush=True)
            rows.append(
                [
                    "two busy loops" if busy else "as it is",
                    f"{result['load']:.1f}",
                    result["code"],
                    f"{result['wall_s']:.0f} s",
                    f"{len(result.get('targets_made', []))}/{result.get('targets_total', '?')}",
                    result.get("sim_duration_s", "-"),
                ]
            )
    body = (
        "The main job (`powderlab sim`: the ROS lab on the twin, 3 targets of sim/campaigns/twin.yaml at once, "
        "literature planner then active learning, chemistry analysis, time factor 2000) as a user runs it, "
        "on the machine as it is and with two `yes > /dev/null` loops on its two cores. "
        "Lab time (the campaign's simulated duration) must be "
        "the same in both (lockstep sim time, ADR 0082); only the wall time may grow.\n\n"
        + markdown_table(["machine", "load average at start", "exit", "wall time", "targets made", "lab time s"], rows)
    )
    write_section("sim", "Main job (`powderlab sim`): idle and under two busy loops", body)


if __name__ == "__main__":
    main()
