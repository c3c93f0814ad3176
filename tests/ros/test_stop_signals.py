"""Nothing left running (issue 15, item 5): `powderlab up`, `run-sample`, `campaign --lab ros`, `sim`
and `emulate` stopped with SIGINT, SIGTERM or SIGHUP, or killed with SIGKILL, leave no lab process
behind, and every node stops within 5 s of its SIGINT (also under two busy loops).

Every command runs as a real process with a mark in its environment that all its descendants
inherit (nodes, emulators, anything they start), so a leftover is found whatever its parent, process
group or command line.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from powderlab.bringup.processes import NODE_STOP_BOUND_S
from powderlab.core.resources import data_path

pytestmark = [pytest.mark.ros, pytest.mark.slow]

MARK = "POWDERLAB_STOP_TEST"
# the nodes of `powderlab up --backend mock` that run spin_node (the dashboard serves aiohttp instead)
MOCK_SPIN_NODES = ("transfer", "dosing", "furnaces", "milling", "xrd", "sim_clock", "lab_manager")
STOPPED = re.compile(r"(\w+)=(-?\d+) in ([\d.]+) s")


def marked_processes(mark: str) -> dict[int, str]:
    """Live processes (not zombies) whose environment carries mark: pid -> command line."""
    found = {}
    needle = f"{MARK}={mark}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            state = (entry / "stat").read_text().rsplit(")", 1)[-1].split()[0]
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if state != "Z":
            found[int(entry.name)] = cmdline.strip()
    return found


class Command:
    """One `powderlab ...` process with its output in a file and a mark for its descendants."""

    def __init__(self, args: list[str], tmp_path: Path, env: dict[str, str] | None = None) -> None:
        self.mark = uuid.uuid4().hex
        self.output = tmp_path / "output.txt"
        env = {**os.environ, **(env or {}), MARK: self.mark, "PYTHONUNBUFFERED": "1"}
        with open(self.output, "w") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "powderlab", *args], stdout=out, stderr=subprocess.STDOUT, env=env
            )

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout_s: float = 180.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if re.search(pattern, self.text(), re.MULTILINE):
                return
            assert self.process.poll() is None, f"exited with {self.process.returncode}:\n{self.text()}"
            time.sleep(0.2)
        raise AssertionError(f"no /{pattern}/ in {timeout_s:g} s:\n{self.text()}")

    def stop(self, signum: int, timeout_s: float = 60.0) -> int:
        self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running {timeout_s:g} s after {signal.Signals(signum).name}") from None

    def leftovers(self, timeout_s: float) -> dict[int, str]:
        """The marked processes still alive after timeout_s (the command itself has exited)."""
        deadline = time.monotonic() + timeout_s
        while (left := marked_processes(self.mark)) and time.monotonic() < deadline:
            time.sleep(0.1)
        return left

    def kill_all(self) -> None:
        for pid in [self.process.pid, *marked_processes(self.mark)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.process.wait(timeout=10)


@pytest.fixture
def command(tmp_path):
    started: list[Command] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Command:
        started.append(Command(list(args), tmp_path, env))
        return started[-1]

    yield start
    for each in started:  # a failed test still leaves nothing behind
        each.kill_all()


@pytest.fixture
def busy_loops():
    """Two `yes > /dev/null` loops (the issue's load), killed at the end of the test."""
    loops = [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(2)]
    yield
    for loop in loops:
        loop.kill()
        loop.wait(timeout=10)


def assert_nothing_left(cmd: Command, timeout_s: float = 2.0) -> None:
    left = cmd.leftovers(timeout_s)
    assert not left, f"lab processes left behind: {left}\n{cmd.text()}"


@pytest.mark.parametrize(
    ("signum", "load"),
    [(signal.SIGINT, True), (signal.SIGTERM, False), (signal.SIGHUP, False), (signal.SIGKILL, False)],
    ids=["SIGINT-under-two-busy-loops", "SIGTERM", "SIGHUP", "SIGKILL"],
)
def test_up_leaves_nothing_running(command, tmp_path, request, signum, load):
    if load:
        request.getfixturevalue("busy_loops")
    run_dir = tmp_path / "run"
    up = command("up", "--backend", "mock", "--time-factor", "500", "--run-dir", str(run_dir), "--dashboard-port", "0")
    up.wait_for("lab is active", timeout_s=240.0)
    nodes = marked_processes(up.mark)
    # the command, 5 stations, the sim clock, the lab manager, the dashboard: the mark finds them all
    assert len(nodes) == 9, nodes
    node_groups = {os.getpgid(pid) for pid in nodes if pid != up.process.pid}
    assert len(node_groups) == 1 and os.getpgid(up.process.pid) not in node_groups, "one process group per lab"

    code = up.stop(signum)
    if signum == signal.SIGKILL:
        assert code == -signal.SIGKILL
        # nobody stops the nodes but their parent-death signal: each stops itself within the bound
        assert_nothing_left(up, timeout_s=NODE_STOP_BOUND_S + 2.0)
    else:
        assert code == 0, up.text()
        assert_nothing_left(up)
        stopped = {name: (int(c), float(s)) for name, c, s in STOPPED.findall(up.text())}
        assert set(stopped) == {*MOCK_SPIN_NODES, "dashboard"}, up.text()
        for name, (exit_code, seconds) in stopped.items():
            assert exit_code == 0, f"{name} exited with {exit_code}:\n{up.text()}"
            assert seconds < NODE_STOP_BOUND_S, f"{name} stopped {seconds} s after SIGINT:\n{up.text()}"
    for name in MOCK_SPIN_NODES:
        # each node ended itself (safe stop, then exit; bounded), none died of a signal's default action:
        # after a SIGKILL of `up` all nodes get SIGTERM at once (one per thread of the dead parent), so a
        # station's safe stop may find the sim clock gone and be cut short at the bound
        log = (run_dir / f"{name}.log").read_text(errors="replace")
        ended = f"{name}: stopped (" in log or (signum == signal.SIGKILL and f"{name}: shutdown not finished" in log)
        assert ended, f"{name} did not end by itself:\n{log[-2000:]}"


def test_run_sample_on_the_twin_stopped_mid_run_with_sigterm(command, tmp_path):
    """The issue's `timeout 600 powderlab run-sample ... --backend sim`: SIGTERM while a sample runs."""
    recipe = data_path("sim", "recipes", "licoo2.yaml")
    run = command("run-sample", str(recipe), "--backend", "sim", "--time-factor", "200", "--run-dir", str(tmp_path))
    run.wait_for(r"^\[3/8\]", timeout_s=240.0)
    assert len(marked_processes(run.mark)) == 8  # the command, the twin, 5 stations, the lab manager
    assert run.stop(signal.SIGTERM) == 128 + signal.SIGTERM, run.text()
    assert "stopped by SIGTERM" in run.text()
    assert_nothing_left(run)


def test_run_sample_on_emulated_hardware_killed_with_sigkill(command, tmp_path):
    """The real drivers against `powderlab emulate` (a child of run-sample, its own process group):
    run-sample killed outright mid-sample; the nodes and the emulators go with it."""
    recipe = Path(__file__).resolve().parents[1] / "drivers" / "real" / "data" / "short_licoo2.yaml"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    env = {"POWDERLAB_EMULATOR_DIR": str(tmp_path / "emulated"), "POWDERLAB_OPCUA_PORT": port}
    run = command(
        "run-sample", str(recipe), "--backend", "real", "--site", "emulated", "--time-factor", "20",
        "--run-dir", str(tmp_path / "run"), "--state-dir", str(tmp_path / "state"), env=env,
    )  # fmt: skip
    run.wait_for(r"^\[2/8\]", timeout_s=240.0)
    running = marked_processes(run.mark)
    assert any(" emulate " in cmdline for cmdline in running.values()), running
    assert len(running) == 9  # the command, the emulators, 5 stations, the sim clock, the lab manager
    assert run.stop(signal.SIGKILL) == -signal.SIGKILL
    assert_nothing_left(run, timeout_s=NODE_STOP_BOUND_S + 2.0)


def test_campaign_on_the_ros_lab_stopped_with_sigterm(command, tmp_path):
    """The issue's campaign on the twin, SIGTERM while samples are in flight."""
    targets = data_path("sim", "campaigns", "small.yaml")
    campaign = command(
        "campaign", "--targets", str(targets), "--lab", "ros", "--backend", "sim", "--seed", "7",
        "--time-factor", "2000", "--no-plots", "--report", str(tmp_path / "report"), "--planner", "fixed",
        "--analyzer", "standin",
    )  # fmt: skip
    campaign.wait_for(r"\] targets \d+ made", timeout_s=240.0)
    # the command, the twin, 5 stations, the lab manager, autonomy and its recorder (ADR 0093)
    assert len(marked_processes(campaign.mark)) == 10
    assert campaign.stop(signal.SIGTERM) == 128 + signal.SIGTERM, campaign.text()
    assert_nothing_left(campaign)


def test_sim_stopped_with_sighup(command, tmp_path):
    """`powderlab sim --backend mock` (one sample through the whole lab), its terminal hung up."""
    sim = command("sim", "--backend", "mock", "--time-factor", "50")
    sim.wait_for(r"^\[2/8\]", timeout_s=240.0)
    assert len(marked_processes(sim.mark)) == 8  # the command, 5 stations, sim clock, lab manager
    assert sim.stop(signal.SIGHUP) == 128 + signal.SIGHUP, sim.text()
    assert_nothing_left(sim)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL], ids=lambda s: s.name)
def test_emulate_stops_on_every_signal(command, tmp_path, signum):
    ports = tmp_path / "ports"
    with socket.socket() as probe:  # a free loopback port for the OPC UA server
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    emulate = command("emulate", "--site", "emulated", "--dir", str(ports), "--opcua-port", port)
    emulate.wait_for("powderlab emulate: ready", timeout_s=120.0)
    links = list(ports.iterdir())
    assert links, "the emulators serve no serial port"
    expected = -signal.SIGKILL if signum == signal.SIGKILL else 0
    assert emulate.stop(signum, timeout_s=10.0) == expected, emulate.text()
    assert_nothing_left(emulate)
    if signum != signal.SIGKILL:
        assert "powderlab emulate: stopped" in emulate.text()
