"""Recording a campaign: the recorder's CPU and the bytes per simulated day (ADR 0093).

Runs the main job (`powderlab sim`: the ROS lab on the twin, sim/campaigns/twin.yaml, time factor
2000), whose autonomy node records the lab into the bag <report>/recording/, then reads its MCAP file back:
messages and bytes per topic, the file's size per simulated day, and the recorder's CPU time (it
prints it when it stops) as a share of one core over the campaign. Topics paced by wall time
(status, diagnostics, health, joint states, camera) grow with wall time, not lab time: the table
also gives what a day of a real-time lab (time factor 1) would write.

    python -m bench.bench_recording
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from fnmatch import fnmatchcase
from pathlib import Path

from mcap.reader import make_reader

from bench.report import markdown_table, write_section

# published on wall-time timers (their rate does not follow the time factor)
WALL_PACED = ("*/status", "/diagnostics", "/lab/health", "*/joint_states", "*/image_raw")
CPU_LINE = re.compile(r"recorder: (\d+) messages on (\d+) topics in .* \(cpu ([\d.]+) s over ([\d.]+) s\)")


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="plbench-recording-"))
    env = {
        **os.environ,
        "ROS_DOMAIN_ID": str(230 - os.getpid() % 20),
        "ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST",
    }
    load = os.getloadavg()[0]
    started = time.monotonic()
    command = [sys.executable, "-m", "powderlab.cli.main", "sim", "--report", str(folder)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.monotonic() - started
    if done.returncode != 0:
        sys.exit(f"powderlab sim failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    summary = json.loads((folder / "campaign.json").read_text())["summary"]
    sim_days = float(summary["sim_duration_s"]) / 86400.0
    recording = folder / "recording" / "recording_0.mcap"  # the bag folder <report>/recording (ADR 0108)
    match = CPU_LINE.search((folder / "recording.log").read_text())
    if match is None:
        sys.exit(f"no recorder stop line in {folder / 'recording.log'}")
    cpu_s, recorded_wall_s = float(match[3]), float(match[4])
    counts: Counter[str] = Counter()
    raw: Counter[str] = Counter()
    with recording.open("rb") as stream:
        reader = make_reader(stream)
        for _schema, channel, message in reader.iter_messages():
            counts[channel.topic] += 1
            raw[channel.topic] += len(message.data)
    size = recording.stat().st_size
    ratio = size / max(1, sum(raw.values()))  # zstd chunks: file bytes per raw CDR byte
    rows, real_day = [], 0.0
    for topic in sorted(raw, key=lambda t: -raw[t]):
        paced = any(fnmatchcase(topic, p) for p in WALL_PACED)
        per_real_day = raw[topic] / recorded_wall_s * 86400.0 if paced else raw[topic] / sim_days
        real_day += per_real_day * ratio
        rows.append(
            [
                f"`{topic}`",
                "wall" if paced else "lab",
                counts[topic],
                f"{raw[topic] / 1e3:.1f}",
                f"{raw[topic] / sim_days / 1e6:.2f}",
                f"{per_real_day / 1e6:.1f}",
            ]
        )
    share = 100.0 * cpu_s / recorded_wall_s
    body = (
        f"The main job (`powderlab sim`: the ROS lab on the twin, 3 targets of sim/campaigns/twin.yaml, time factor "
        f"2000) with its recording (ADR 0093): {summary['sim_days']} simulated days in {wall:.0f} s of wall time "
        f"(load average {load:.1f} at the start). The recorder process (its own CPU time, printed when it stops): "
        f"**{cpu_s:.2f} s of CPU over {recorded_wall_s:.0f} s = {share:.1f} % of one core**. The file: "
        f"**{size / 1e6:.2f} MB, {size / sim_days / 1e6:.2f} MB per simulated day** (zstd chunks: "
        f"{100 * ratio:.0f} % of the raw CDR bytes). Topics paced by wall time (`wall`) write per wall second "
        f"whatever the time factor; at real time (a real lab, time factor 1) a day of this lab would write about "
        f"**{real_day / 1e9:.2f} GB** (compressed, the camera at one frame in 10 s).\n\n"
        + markdown_table(
            ["topic", "paced by", "messages", "raw kB", "raw MB / sim day (x2000)", "raw MB / real-time day"], rows
        )
    )
    print(body)
    write_section("recording", "Recording a campaign: recorder CPU and bytes per simulated day", body)


if __name__ == "__main__":
    main()
