"""A lab on four computers (network namespaces on a bridge, tests/multihost): how long from start to
every station active across the hosts, how long until the lab notices a pulled cable, and how long a
SIGKILLed station takes to be respawned and active again (ADR 0095, 0096). Needs root.

    python -m bench.bench_multihost [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import time

from bench.report import markdown_table, write_section
from tests.multihost.lab import MultiHostLab, events, folder_for_run


def health(lab: MultiHostLab, seconds: float):
    watch = lab.drive("control", "watch", str(seconds))
    return watch, ((event["t"], event["nodes"]) for event in events(watch, seconds + 30) if event["event"] == "health")


def pull_cable(lab: MultiHostLab, host: str, station: str) -> tuple[float, float]:
    """Seconds from pulling host's cable to `alive: false`, and from plugging it in to alive again."""
    watch, states = health(lab, 60)
    next(states)  # the lab as it is
    lab.network.set_link(host, False)
    pulled = time.time()
    noticed = next(t for t, nodes in states if not nodes[station][0]) - pulled
    time.sleep(2.0)
    lab.network.set_link(host, True)
    plugged = time.time()
    back = next(t for t, nodes in states if nodes[station] == [True, "active"]) - plugged
    watch.kill()
    return noticed, back


def kill_station(lab: MultiHostLab, host: str, station: str) -> float:
    """Seconds from SIGKILL of a station's process to the lab manager reporting it active again."""
    watch, states = health(lab, 60)
    next(states)
    os.kill(lab.node_pid(host, station), signal.SIGKILL)
    killed = time.time()
    seen_down = False
    for t, nodes in states:
        seen_down = seen_down or nodes[station] != [True, "active"]
        if seen_down and nodes[station] == [True, "active"]:
            watch.kill()
            return t - killed
    raise RuntimeError(f"{station} did not come back")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    startups, notices, backs, respawns = [], [], [], []
    for _ in range(args.repeats):
        folder = folder_for_run()
        lab = MultiHostLab(folder, int(os.environ.get("ROS_DOMAIN_ID", "66")))
        try:
            startups.append(lab.start())
            time.sleep(3.0)  # let the lab settle (health every second)
            noticed, back = pull_cable(lab, "furnaces", "furnaces")
            notices.append(noticed)
            backs.append(back)
            respawns.append(kill_station(lab, "weighing", "dosing"))
        finally:
            lab.close()
            shutil.rmtree(folder, ignore_errors=True)
        print(f"start {startups[-1]:.1f} s, noticed {notices[-1]:.1f} s, back {backs[-1]:.1f} s, "
              f"respawned {respawns[-1]:.1f} s", flush=True)  # fmt: skip

    def row(what: str, values: list[float]) -> list[str]:
        return [what, f"{statistics.median(values):.1f} s", f"{min(values):.1f} s", f"{max(values):.1f} s"]

    table = markdown_table(
        ["what", "median", "min", "max"],
        [
            row("start to every station active (4 hosts, `powderlab up --host` each)", startups),
            row("cable pulled to station marked not alive (lease 3 s, heartbeat 1 s)", notices),
            row("cable back to station alive and active", backs),
            row("station SIGKILLed to respawned and re-activated", respawns),
        ],
    )
    body = (
        f"Four virtual computers (network namespaces, veth pairs, one bridge, `tests/multihost/lab.py`): "
        f"control (lab manager, autonomy, sim clock, transfer), weighing (dosing, milling), furnaces, records "
        f"(xrd, PostgreSQL); mock backend, time factor 2000, discovery `SUBNET` + static peers, Fast DDS on UDP "
        f"only. {args.repeats} runs; each pulls the furnaces computer's cable for 2 s, then SIGKILLs the dosing "
        f"station. Load average at the end: {os.getloadavg()[0]:.1f}.\n\n{table}\n"
    )
    write_section("multihost", "A lab on several computers: start-up, a pulled cable, a killed station", body)


if __name__ == "__main__":
    main()
