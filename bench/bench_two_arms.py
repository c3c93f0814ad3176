"""Two arms, one coordinator: samples in flight on the twin, idle and under busy loops; faults and wall time.

Run: python -m bench.bench_two_arms [--samples N] [--busy-loops K]
Runs the stress scenario of tests/twin/stress.py (every sample storage -> furnace -> done ->
storage, all at once, both arms busy) on an idle machine and again with K busy loops (`yes`
processes this script starts and stops), and writes the section "two_arms" of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess

from bench.report import markdown_table, write_section
from tests.twin.conftest import TwinLab
from tests.twin.stress import StressResult, run_stress


def stress(samples: int, busy_loops: int) -> tuple[StressResult, float]:
    """One run of the scenario with busy_loops `yes` processes beside it; and the 1-minute load average after it."""
    loops = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(busy_loops)]
    try:
        lab = TwinLab("kinematic", manual=False)
        try:
            return run_stress(lab, samples, limit_s=3600.0), os.getloadavg()[0]
        finally:
            lab.close()
    finally:
        for loop in loops:  # only the processes started here
            loop.kill()
            loop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--busy-loops", type=int, default=2)
    args = parser.parse_args()
    headers = [
        "machine load",
        "samples",
        "transfers",
        "wall s",
        "sim s",
        "motion faults",
        "collision refusals",
        "arm contacts (steps)",
        "min clearance mm",
        "both arms moving, sim s",
        "motions that waited",
        "waited, sim s",
        "failures",
    ]
    rows = []
    for loops in (0, args.busy_loops):
        result, load = stress(args.samples, loops)
        label = "no busy loop" if loops == 0 else f"{loops} busy loops (`yes`)"
        label += f", load average {load:.1f} on {os.cpu_count()} cores"
        rows.append(
            [
                label,
                result.samples,
                result.transfers,
                f"{result.wall_s:.0f}",
                f"{result.sim_s:.0f}",
                result.motion_faults,
                result.collision_refusals,
                result.contact_steps,
                f"{result.min_clearance_m * 1000:.0f}" + (" (none closer)" if result.min_clearance_m >= 0.1 else ""),
                f"{result.both_moving_s:.0f}",
                result.waits,
                f"{result.waited_s:.0f}",
                len(result.failures) + len(result.misplaced),
            ]
        )
        print(label, result, flush=True)
    body = (
        "Every sample goes storage -> furnace -> done -> storage through the transfer station over the "
        "in-process twin (kinematic mode, the twin's time as fast as it runs), all samples at once, one "
        "thread each; the machine was shared with other work (see the load average). Every arm motion "
        "is granted by the arm coordinator (ADR 0080). Contacts and "
        "clearance are measured between the two arms and what they hold on every world step; the "
        "clearance is watched below 100 mm. Sim seconds include the retries of transfers that found "
        "their arm busy (2 s each), which is why they are much longer than the motions. Before ADR 0080 "
        "(commit e119631) the same run ended after 7 s of wall time: arm_a's way down into done/18 was "
        "refused as a collision with arm_b, the station's fault handling stopped arm_b on its way to done/1 "
        "(`stop command`), and the transfer station refused all other journeys (2 motion faults, 20 failures).\n\n"
        + markdown_table(headers, rows)
    )
    path = write_section("two_arms", "Two arms, one coordinator: samples in flight on the twin", body)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
