"""A PowderLab spread over virtual computers: each host's `powderlab up --host NAME` in its namespace.

The site is the default cell with a `hosts:` section naming the virtual hosts' addresses; one host
serves the campaign database from a real PostgreSQL server that listens on its lab address (and on a
Unix socket the test reads the records through). Everything is stopped and removed by close().
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from powderlab.core.resources import data_path
from tests.autonomy.postgres import server_bin
from tests.multihost.netns import Host, VirtualNetwork

TIME_FACTOR = 2000.0
# Which virtual computer runs what: the lab manager's computer is not the stations' (ADR 0095).
PLACEMENT = {
    "control": ["lab_manager", "autonomy", "planner", "twin", "transfer"],
    "weighing": ["dosing", "milling"],
    "furnaces": ["furnaces"],
    "records": ["xrd", "database"],
}
GOAL_LINE = re.compile(r"\]: (?P<station>\w+)\.(?P<action>\w+)\.(?P<goal>[0-9a-f]{8}): (?P<code>[A-Z_]+):")


def site_file(network: VirtualNetwork, folder: Path, database_url: str) -> Path:
    """The default cell, placed on the network's hosts, discovering each other by multicast + static peers."""
    data = yaml.safe_load(data_path("hardware", "default.yaml").read_text())
    data["name"] = "multihost"
    data["hosts"] = {name: {"address": network.hosts[name].address, "runs": runs} for name, runs in PLACEMENT.items()}
    data["hosts"]["records"]["database_url"] = database_url
    data["network"] = {"discovery": "subnet", "static_peers": "hosts"}
    path = folder / "multihost.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@contextlib.contextmanager
def postgres_on(host: Host, folder: Path) -> Iterator[tuple[str, str]]:
    """A PostgreSQL server in host's namespace on its lab address: (URL over the lab network, URL by socket)."""
    bin_dir = server_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries not found; run tools/system_deps.sh (Debian: postgresql)")
    root = folder / "pg"
    data, sockets = root / "data", root / "sock"
    sockets.mkdir(parents=True)
    for path in (root, sockets):
        shutil.chown(path, "postgres")
    os.chmod(root, 0o755)
    os.chmod(folder, 0o755)
    as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_postgres, str(bin_dir / "initdb"), "-D", str(data), "-U", "powderlab", "--auth=trust", "-E", "UTF8"],
        check=True,
        capture_output=True,
    )
    # the lab's subnet only (the namespaces' private /24): the other hosts' autonomy node connects from there
    subnet = host.address.rsplit(".", 1)[0] + ".0/24"
    with open(data / "pg_hba.conf", "a") as hba:
        hba.write(f"host all all {subnet} trust\n")
    port = 5432
    options = f"-c listen_addresses={host.address} -p {port} -k {sockets} -c fsync=off"
    subprocess.run(
        host.command([*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"),
                      "-w", "-t", "60", "start"]),
        check=True,
        capture_output=True,
    )  # fmt: skip
    try:
        subprocess.run(
            [str(bin_dir / "createdb"), "-h", str(sockets), "-p", str(port), "-U", "powderlab", "campaigns"],
            check=True,
            capture_output=True,
        )
        yield (
            f"postgresql+psycopg://powderlab@{host.address}:{port}/campaigns",
            f"postgresql+psycopg://powderlab@/campaigns?host={sockets}&port={port}",
        )
    finally:
        subprocess.run(
            [*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            check=False,
        )


class MultiHostLab:
    """The network, the database and each host's `powderlab up --host` process; close() removes all."""

    def __init__(self, folder: Path, domain_id: int) -> None:
        self.folder = folder
        self.env = dict(os.environ)
        self.env.update(
            ROS_DOMAIN_ID=str(domain_id),
            # DDS data must cross the veth: no shared-memory shortcut between namespaces of one kernel
            FASTDDS_BUILTIN_TRANSPORTS="UDPv4",
            ROS_LOG_DIR=str(folder / "ros_log"),
            # the drive script is tests.multihost.drive: the repository root on the path (and what was there)
            PYTHONPATH=os.pathsep.join(
                filter(None, [str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH")])
            ),
        )
        self.env.pop("ROS_AUTOMATIC_DISCOVERY_RANGE", None)  # the site profile's network: says
        self.up: dict[str, subprocess.Popen[bytes]] = {}
        self.drives: list[subprocess.Popen[str]] = []
        self._stack = contextlib.ExitStack()
        self.network = self._stack.enter_context(VirtualNetwork(list(PLACEMENT)))
        try:
            self.database_url, self.local_database_url = self._stack.enter_context(
                postgres_on(self.network.hosts["records"], folder)
            )
            self.site = site_file(self.network, folder, self.database_url)
        except BaseException:
            self._stack.close()
            raise

    def run_dir(self, host: str) -> Path:
        return self.folder / f"run-{host}"

    def start(self, timeout_s: float = 120.0) -> float:
        """Start every host's share (the lab manager's last, like a lab whose stations boot first);
        the wall seconds until every share reported its stations active."""
        started = time.monotonic()
        for host in PLACEMENT:
            command = [
                sys.executable, "-m", "powderlab", "up", "--backend", "mock", "--site", str(self.site),
                "--host", host, "--time-factor", str(TIME_FACTOR), "--no-dashboard", "--autonomy",
                "--planner", "fixed", "--analyzer", "standin",
                "--run-dir", str(self.run_dir(host)), "--startup-timeout", str(timeout_s),
            ]  # fmt: skip
            log = open(self.folder / f"up-{host}.log", "wb")  # noqa: SIM115 - the child keeps its copy
            with log:
                self.up[host] = subprocess.Popen(
                    self.network.hosts[host].command(command),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=self.env,
                    start_new_session=True,
                )
        for host in PLACEMENT:
            self.wait_log(host, "lab is active", timeout_s)
        return time.monotonic() - started

    def up_log(self, host: str) -> str:
        return (self.folder / f"up-{host}.log").read_text(errors="replace")

    def wait_log(self, host: str, text: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while text not in self.up_log(host):
            if self.up[host].poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{host}: no '{text}' within {timeout_s:g} s:\n{self.describe()}")
            time.sleep(0.2)

    def node_log(self, host: str, node: str) -> str:
        path = self.run_dir(host) / f"{node}.log"
        return path.read_text(errors="replace") if path.is_file() else ""

    def describe(self) -> str:
        parts = []
        for host in self.up:
            parts.append(f"=== up --host {host}:\n{self.up_log(host)[-2500:]}")
            for log in sorted(self.run_dir(host).glob("*.log")):
                parts.append(f"--- {host}/{log.name}:\n{log.read_text(errors='replace')[-2000:]}")
        return "\n".join(parts)

    def drive(self, host: str, *args: str) -> subprocess.Popen[str]:
        """tests.multihost.drive in a host's namespace; its JSON lines on stdout."""
        command = [sys.executable, "-m", "tests.multihost.drive", *args]
        with open(self.folder / f"drive-{args[0]}.err", "ab") as errors:  # the child keeps its own copy
            process = subprocess.Popen(
                self.network.hosts[host].command(command),
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                env=self.env,
                start_new_session=True,
            )
        self.drives.append(process)
        return process

    def node_pid(self, host: str, node: str) -> int:
        """The pid of a node process running in host's namespace (not another lab's on this machine)."""
        netns = os.stat(f"/run/netns/{self.network.hosts[host].netns}").st_ino
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
                if f"__node:={node}".encode() in cmdline and os.stat(entry / "ns" / "net").st_ino == netns:
                    return int(entry.name)
            except OSError:
                continue
        raise AssertionError(f"no {node} process on {host}")

    def goals(self, host: str, station: str) -> list[tuple[str, str, str]]:
        """(action, goal id prefix, code) of every goal the station ran, from its log."""
        return [
            (m["action"], m["goal"], m["code"])
            for m in map(GOAL_LINE.search, self.node_log(host, station).splitlines())
            if m and m["station"] == station
        ]

    def close(self) -> None:
        for process in self.drives:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
            if process.stdout is not None:
                process.stdout.close()
        # the stations' computers first (each shuts its stations down through the lab manager), then the manager's
        for host in reversed(list(self.up)):
            process = self.up[host]
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGINT)
        for process in self.up.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self._stack.close()


def events(process: subprocess.Popen[str], timeout_s: float) -> Iterator[dict[str, Any]]:
    """The JSON lines of a drive process, until it ends or timeout_s passes."""
    import selectors

    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not selector.select(timeout=max(0.0, min(0.5, deadline - time.monotonic()))):
            if process.poll() is not None:
                return
            continue
        line = process.stdout.readline()
        if not line:
            return
        with contextlib.suppress(json.JSONDecodeError):
            yield json.loads(line)
    raise AssertionError(f"drive process gave no end within {timeout_s:g} s")


def folder_for_run() -> Path:
    return Path(tempfile.mkdtemp(prefix="powderlab-multihost-"))
