"""Run a manifest's nodes as child processes, and stop them all, whatever happens to us."""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from powderlab.bringup.manifest import LabManifest, NodeSpec

PR_SET_PDEATHSIG = 1


try:
    _PRCTL = ctypes.CDLL("libc.so.6", use_errno=True).prctl  # loaded before any fork
except OSError:  # not glibc Linux: children are still stopped by LabProcesses.stop()
    _PRCTL = None


def _die_with_parent() -> None:
    """In the child, between fork and exec: get SIGTERM when the parent dies, even by kill -9."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, signal.SIGTERM)


def node_command(node: NodeSpec, params_file: Path, overrides_file: Path, log_level: str) -> list[str]:
    """The command line of one node: python -m <module> --ros-args ..."""
    command = [sys.executable, "-m", node.module, "--ros-args", "-r", f"__node:={node.name}"]
    if node.namespace.strip("/"):
        command += ["-r", f"__ns:=/{node.namespace.strip('/')}"]
    command += ["--params-file", str(params_file), "--params-file", str(overrides_file), "--log-level", log_level]
    return command


class LabProcesses:
    """Every node of a manifest as its own process, with its output in <run_dir>/<node>.log."""

    def __init__(
        self, manifest: LabManifest, run_dir: Path, log_level: str = "info", env: Mapping[str, str] | None = None
    ) -> None:
        self.manifest = manifest
        self.run_dir = Path(run_dir)
        self.log_level = log_level
        self.env = dict(env if env is not None else os.environ)
        self.env.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
        self.env.setdefault("ROS_LOG_DIR", str(self.run_dir / "ros_log"))
        self.processes: dict[str, subprocess.Popen[bytes]] = {}

    def start(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        overrides = self.run_dir / "overrides.yaml"
        overrides.write_text(self.manifest.overrides_yaml())
        for node in self.manifest.nodes:
            log = open(self.run_dir / f"{node.name}.log", "wb")  # noqa: SIM115 - lives as long as the child
            self.processes[node.name] = subprocess.Popen(
                node_command(node, self.manifest.params_file, overrides, self.log_level),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - one C call, no Python locks
            )
            log.close()

    def exited(self) -> dict[str, int]:
        """Nodes that have exited, with their exit codes."""
        return {name: p.returncode for name, p in self.processes.items() if p.poll() is not None}

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes.values()]

    def stop(self, timeout_s: float = 15.0) -> dict[str, int]:
        """SIGINT every node (rclpy shuts down cleanly on it), then SIGKILL what is left."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout_s
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        return {name: p.returncode for name, p in self.processes.items()}

    def tail(self, name: str, lines: int = 20) -> str:
        path = self.run_dir / f"{name}.log"
        if not path.is_file():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
