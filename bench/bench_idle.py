"""CPU of an idle lab: `powderlab up` with nothing to do, at time factors 0, 100 and 2000.

Starts the whole lab (every node its own process, no dashboard) on the mock devices and on the
twin, waits until it has settled, then reads the CPU time of the lab's whole process tree from
/proc over a measuring window and reports it as a share of one core. The goal (ADR 0082) is at
most 25 % of one core for the whole lab at time factor 2000.

    python -m bench.bench_idle [--window 20] [--settle 25]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.report import markdown_table, write_section

TICKS = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def process_tree(root: int) -> list[int]:
    """root and every descendant."""
    found, queue = [], [root]
    while queue:
        pid = queue.pop()
        found.append(pid)
        queue.extend(_children(pid))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes so far."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def idle_cpu(backend: str, time_factor: float, settle_s: float, window_s: float, domain: int) -> tuple[float, int]:
    """% of one core the idle lab takes (all its processes), and how many processes it has."""
    env = {**os.environ, "ROS_DOMAIN_ID": str(domain), "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}
    run_dir = tempfile.mkdtemp(prefix="plbench-idle-")
    command = [
        sys.executable, "-m", "powderlab.cli.main", "up", "--backend", backend, "--time-factor", str(time_factor),
        "--no-dashboard", "--run-dir", run_dir,
    ]  # fmt: skip
    lab = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(settle_s)
        pids = process_tree(lab.pid)
        before, started = cpu_seconds(pids), time.monotonic()
        time.sleep(window_s)
        used = cpu_seconds(pids) - before
        return 100.0 * used / (time.monotonic() - started), len(pids)
    finally:
        lab.send_signal(signal.SIGINT)
        try:
            lab.wait(timeout=30)
        except subprocess.TimeoutExpired:
            lab.kill()
            lab.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--window", type=float, default=20.0, help="wall seconds of measuring")
    parser.add_argument("--settle", type=float, default=25.0, help="wall seconds after start before measuring")
    args = parser.parse_args()
    rows = []
    load = os.getloadavg()[0]
    domain = 200 + os.getpid() % 30
    for backend in ("mock", "sim"):
        for factor in (0.0, 100.0, 2000.0):
            share, count = idle_cpu(backend, factor, args.settle, args.window, domain)
            print(f"{backend} x{factor:g}: {share:.1f} % of one core ({count} processes)", flush=True)
            rows.append([backend, f"{factor:g}", count, f"{share:.1f} %"])
    body = (
        "An idle lab (`powderlab up --backend B --time-factor F --no-dashboard`, nothing submitted): CPU time "
        f"of all its processes over {args.window:g} s after {args.settle:g} s of settling, as a share of one "
        "core. Goal: at most 25 % at time factor 2000. Time factor 0 is wall time (no sim clock; the twin "
        f"then runs in real time). Load average at the start: {load:.1f} (CPU time is the lab's own; a busy "
        "machine adds little to it).\n\n" + markdown_table(["backend", "time factor", "processes", "CPU"], rows)
    )
    write_section("idle", "Idle lab: CPU at time factors 0, 100 and 2000", body)


if __name__ == "__main__":
    main()
