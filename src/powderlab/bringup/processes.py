"""Run a manifest's nodes as child processes, and stop them all, whatever happens to us.

Every child of a lab is started in one process group of its own (so a stop, or a second signal,
can end the lab and anything its nodes started with one killpg) and with a parent-death signal (so
a supervisor killed with SIGKILL still stops its nodes). A node stops itself within 5 s of the
signal (powderlab.nodes.station_node.spin_node); the supervisor waits that long and then kills the
group.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import yaml

from powderlab.bringup.manifest import LabManifest, NodeSpec

PR_SET_PDEATHSIG = 1
# A node makes its devices safe and exits within this many seconds of SIGINT (its own watchdog ends
# it otherwise); the supervisor kills what is left after it.
NODE_STOP_BOUND_S = 5.0
# The nodes the stations' devices and clocks live in: stopped after the stations.
STOPPED_LAST = ("powderlab.nodes.twin_node", "powderlab.nodes.sim_clock")
# Respawned when they die (ADR 0096): stations, which the lab manager re-activates, and the lab manager
# (ADR 0115), which keeps the e-stop state in ESTOP_FILE of the run directory so that a new one
# publishes an engaged e-stop as engaged.
LAB_MANAGER = "powderlab.nodes.lab_manager"
RESPAWNED = ("powderlab.nodes.station_node", LAB_MANAGER)
ESTOP_FILE = "lab_manager-estop.json"
RESPAWN_DELAY_S = 0.5
RESPAWN_LIMIT = 5  # deaths of one node within RESPAWN_WINDOW_S: then it stays dead and is reported
RESPAWN_WINDOW_S = 60.0


try:
    _PRCTL = ctypes.CDLL("libc.so.6", use_errno=True).prctl  # loaded before any fork
except OSError:  # not glibc Linux: children are still stopped by LabProcesses.stop()
    _PRCTL = None


def _die_with(parent_pid: int, from_main_thread: bool) -> Callable[[], None]:
    """For the child, between fork and exec: get SIGTERM when the parent dies, even by kill -9.

    The signal follows the parent *thread* that forked: from any other thread than the main one it
    would stop the child when that thread ends, so there the child relies on the process group and
    LabProcesses.stop() alone. (A parent killed outright sends one SIGTERM per thread that exits.)
    A parent that died before the prctl took effect would never send it: then the child ends at once
    instead of running as an orphan.
    """

    def setup() -> None:
        if _PRCTL is not None and from_main_thread:
            _PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent_pid:
            os._exit(1)

    return setup


def spawn(
    command: Sequence[str], log: IO[Any], env: Mapping[str, str] | None, process_group: int = 0
) -> subprocess.Popen[bytes]:
    """One child of a lab: output to log, no stdin, in process_group (0: a new group led by the child)."""
    return subprocess.Popen(
        list(command),
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=dict(env) if env is not None else None,
        process_group=process_group,
        preexec_fn=_die_with(os.getpid(), threading.current_thread() is threading.main_thread()),  # noqa: PLW1509 - two C calls, no Python locks
    )


def kill_group(pgid: int, signum: int = signal.SIGKILL) -> None:
    """Signal a whole process group; a group that is gone already is fine."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


# Every lab of this process that has not been stopped: killed at interpreter exit, and by
# kill_all_labs() (a second Ctrl-C / SIGTERM while a lab is stopping).
_LIVE: weakref.WeakSet[LabProcesses] = weakref.WeakSet()


def kill_all_labs() -> None:
    """SIGKILL every lab process group this process started and has not stopped."""
    for lab in list(_LIVE):
        lab.kill()


atexit.register(kill_all_labs)


def node_command(node: NodeSpec, params_file: Path, overrides_file: Path, log_level: str) -> list[str]:
    """The command line of one node: python -m <module> --ros-args ..."""
    command = [sys.executable, "-m", node.module, "--ros-args", "-r", f"__node:={node.name}"]
    if node.namespace.strip("/"):
        command += ["-r", f"__ns:=/{node.namespace.strip('/')}"]
    command += ["--params-file", str(params_file), "--params-file", str(overrides_file), "--log-level", log_level]
    return command


class LabProcesses:
    """Every node of a manifest as its own process, with its output in <run_dir>/<node>.log.

    All nodes share one process group (pgids); stop() SIGINTs them (stations first, then the twin or
    sim clock), waits NODE_STOP_BOUND_S for each and SIGKILLs the group; stop_times holds how long
    each node took to exit after its SIGINT. With respawn, a station or the lab manager that dies is
    started again after RESPAWN_DELAY_S (like launch's respawn=True; the lab manager re-activates a
    station, and a new lab manager keeps the e-stop as it was, ADR 0115), at most
    RESPAWN_LIMIT times a minute; `respawns` counts them.
    """

    def __init__(
        self,
        manifest: LabManifest,
        run_dir: Path,
        log_level: str = "info",
        env: Mapping[str, str] | None = None,
        respawn: bool = False,
    ) -> None:
        self.manifest = manifest
        self.run_dir = Path(run_dir)
        self.log_level = log_level
        self.env = dict(env if env is not None else os.environ)
        # a host's share of a multi-computer site discovers its peers as the site profile says (ADR 0095)
        self.env.update(manifest.environment)
        self.env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        self.env.setdefault("ROS_LOG_DIR", str(self.run_dir / "ros_log"))
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.pgids: set[int] = set()
        self.stop_times: dict[str, float] = {}
        self.respawn = respawn
        self.respawns: dict[str, list[float]] = {}  # node -> monotonic times it was started again
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._group = 0

    def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        overrides = self.run_dir / "overrides.yaml"
        document = yaml.safe_load(self.manifest.overrides_yaml()) or {}
        # A new lab starts with the e-stop released; a respawned manager of this lab reads what the one
        # before it kept here (ADR 0115).
        (self.run_dir / ESTOP_FILE).unlink(missing_ok=True)
        for node in self.manifest.nodes:
            if node.module == LAB_MANAGER:
                section = document.setdefault(node.full_name, {}).setdefault("ros__parameters", {})
                section.setdefault("estop_file", str(self.run_dir / ESTOP_FILE))
        overrides.write_text(yaml.safe_dump(document, sort_keys=False))
        _LIVE.add(self)
        self._group = 0  # the first node leads the lab's process group; the others join it
        for node in self.manifest.nodes:
            self._start_node(node, "wb")
        if self.respawn:
            threading.Thread(target=self._watch, name="respawn", daemon=True).start()

    def _start_node(self, node: NodeSpec, mode: str) -> None:
        command = node_command(node, self.manifest.params_file, self.run_dir / "overrides.yaml", self.log_level)
        with open(self.run_dir / f"{node.name}.log", mode) as log:  # the child keeps its own copy
            try:
                process = spawn(command, log, self.env, self._group)
            except (subprocess.SubprocessError, PermissionError):
                # every node of the group has exited already: this one leads a new group
                process = spawn(command, log, self.env, 0)
                self._group = 0
        self.processes[node.name] = process
        self._group = self._group or process.pid
        self.pgids.add(self._group)

    def _respawnable(self, name: str) -> bool:
        if not self.respawn or self.manifest.node(name).module not in RESPAWNED:
            return False
        recent = [t for t in self.respawns.get(name, []) if time.monotonic() - t < RESPAWN_WINDOW_S]
        return len(recent) < RESPAWN_LIMIT

    def _watch(self) -> None:
        """Start again every respawnable node that died, until stop()."""
        died: dict[str, float] = {}
        while not self._stopping.wait(0.1):
            with self._lock:
                for name, process in list(self.processes.items()):
                    if process.poll() is None or not self._respawnable(name):
                        continue
                    died.setdefault(name, time.monotonic())
                    if time.monotonic() - died[name] < RESPAWN_DELAY_S:
                        continue
                    del died[name]
                    with open(self.run_dir / f"{name}.log", "ab") as log:
                        log.write(f"\n--- exited with {process.returncode}; respawned\n".encode())
                    self._start_node(self.manifest.node(name), "ab")
                    self.respawns.setdefault(name, []).append(time.monotonic())

    def exited(self) -> dict[str, int]:
        """Nodes that have exited for good (not those about to be respawned), with their exit codes."""
        with self._lock:
            return {
                name: p.returncode
                for name, p in self.processes.items()
                if p.poll() is not None and (self._stopping.is_set() or not self._respawnable(name))
            }

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes.values()]

    def stop(self, timeout_s: float = NODE_STOP_BOUND_S) -> dict[str, int]:
        """SIGINT every node (each makes its devices safe and exits), then SIGKILL the group.

        The stations go first and the time servers (twin, sim clock) after them, so a station's safe
        stop still finds the devices and the clock it talks to. Each wave gets timeout_s.
        """
        self._stopping.set()  # no respawns from here on
        with self._lock:  # a respawn in progress finishes first
            pass
        servers = {n.name for n in self.manifest.nodes if n.module in STOPPED_LAST}
        try:
            for wave in ([n for n in self.processes if n not in servers], [n for n in self.processes if n in servers]):
                self._interrupt_and_wait(wave, timeout_s)
        finally:
            self.kill()  # the stragglers, and anything the nodes started in their group (also if interrupted)
        return {name: p.returncode for name, p in self.processes.items()}

    def _interrupt_and_wait(self, names: list[str], timeout_s: float) -> None:
        sent = time.monotonic()
        running = {name: self.processes[name] for name in names if self.processes[name].poll() is None}
        for process in running.values():
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGINT)
        while running and time.monotonic() < sent + timeout_s:
            for name, process in list(running.items()):
                if process.poll() is not None:
                    self.stop_times[name] = time.monotonic() - sent
                    del running[name]
            time.sleep(0.02)
        for name, process in running.items():
            process.kill()  # past the bound: a node that does not stop is ended
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
            self.stop_times[name] = time.monotonic() - sent

    def kill(self) -> None:
        """SIGKILL the lab's process groups now (no safe stop): the last resort."""
        self._stopping.set()
        for pgid in self.pgids:
            kill_group(pgid)
        for process in self.processes.values():
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        for process in self.processes.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        _LIVE.discard(self)

    def tail(self, name: str, lines: int = 20) -> str:
        path = self.run_dir / f"{name}.log"
        if not path.is_file():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
