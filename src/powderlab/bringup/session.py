"""A running lab: the node processes of a manifest plus a client, brought up and down in order."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from powderlab.bringup.manifest import LabManifest
from powderlab.bringup.processes import LabProcesses
from powderlab.core.errors import DeviceTimeoutError, PowderLabError, StationUnavailableError
from powderlab.nodes.lab_client import START_UP_PROGRESS_LIMIT, LabClient, srv, start_up_ended_because


class LabSession:
    """Start every node, wait until the lab manager reports all active; stop everything on exit.

    Stopping asks the lab manager to SHUTDOWN (deactivate -> cleanup -> shutdown: devices safe,
    links closed), then ends the processes (SIGINT, then SIGKILL of the lab's process group after
    5 s). Interrupted while starting, it skips the lab manager.
    """

    def __init__(
        self,
        manifest: LabManifest,
        run_dir: Path | None = None,
        log_level: str = "info",
        startup_timeout_s: float = 90.0,
        env: dict[str, str] | None = None,
        respawn: bool = False,
    ) -> None:
        self.manifest = manifest
        self.run_dir = Path(run_dir) if run_dir else Path(tempfile.mkdtemp(prefix="powderlab-run-"))
        self.processes = LabProcesses(manifest, self.run_dir, log_level, env, respawn=respawn)
        self.startup_timeout_s = startup_timeout_s
        self.client: LabClient | None = None

    def start(self) -> LabClient:
        # this process's own client finds the lab's other computers the way the nodes do (ADR 0095)
        os.environ.update(self.manifest.environment)
        self.processes.start()
        self.client = LabClient(self.manifest.namespace)
        try:
            if self.manifest.manages_lab or not self.manifest.host:
                self.client.wait_all_active(self.startup_timeout_s, alive=lambda: not self.processes.exited())
            else:  # a computer without the lab manager: its own stations, activated from the manager's host
                wait_active(
                    self.client,
                    [node.name for node in self.manifest.stations],
                    self.startup_timeout_s,
                    alive=lambda: not self.processes.exited(),
                )
        except PowderLabError as error:
            dead = self.processes.exited()
            details = "".join(
                f"\n--- {name} exited with {code}; last lines of its log:\n{self.processes.tail(name)}"
                for name, code in dead.items()
            )
            self.stop()
            raise StationUnavailableError(f"the lab did not start: {error}{details}") from error
        except BaseException:  # Ctrl-C / SIGTERM / SIGHUP while starting: no orderly shutdown to wait for
            self.stop(manager_timeout_s=0.0)
            raise
        return self.client

    def stop(self, manager_timeout_s: float = 60.0) -> dict[str, int]:
        """Orderly shutdown through the lab manager (at most manager_timeout_s; 0 skips it), then end
        the processes: SIGINT, each node exits within 5 s, then SIGKILL of the lab's process group."""
        interrupted: KeyboardInterrupt | None = None
        if self.client is not None:
            try:
                if self.manifest.host and not self.manifest.manages_lab:
                    # this computer's stations only; the lab manager elsewhere keeps managing the others
                    names = [node.name for node in self.manifest.stations]
                    if manager_timeout_s > 0 and names:
                        self.client.manage(
                            srv.ManageLab.Request.SHUTDOWN, names, timeout_s=min(manager_timeout_s, 20.0), source="up"
                        )
                elif manager_timeout_s > 0 and "lab_manager" not in self.processes.exited():
                    self.client.shutdown_lab(timeout_s=manager_timeout_s)
            except PowderLabError:
                pass  # the processes are ended below regardless
            except KeyboardInterrupt as error:  # a signal while the manager shuts down: stop the nodes now
                interrupted = error
            finally:
                self.client.close()
                self.client = None
        codes = self.processes.stop()
        if interrupted is not None:
            raise interrupted
        return codes

    def __enter__(self) -> LabClient:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def wait_active(client: LabClient, names: list[str], timeout_s: float, alive: Any = None) -> None:
    """Wait until the lab manager (on whichever computer) reports every node of names active.

    Like LabClient.wait_all_active, timeout_s counts from the last change of any node's state.
    """
    deadline = time.monotonic() + timeout_s
    last_chance = time.monotonic() + START_UP_PROGRESS_LIMIT * timeout_s
    health = None
    seen: tuple[tuple[str, str, bool], ...] = ()
    while time.monotonic() < min(deadline, last_chance):
        health = client.health(0.2)
        if health is not None:
            progress = tuple((n.name, n.lifecycle_state, n.alive) for n in health.nodes)
            if progress != seen:
                seen, deadline = progress, time.monotonic() + timeout_s
            states = {n.name: n for n in health.nodes}
            if all(
                name in states and states[name].alive and states[name].lifecycle_state == "active" for name in names
            ):
                return
        if alive is not None and not alive():
            break
        time.sleep(0.1)
    states_text = ", ".join(f"{n.name}={n.lifecycle_state}" for n in health.nodes) if health else "no health report"
    raise DeviceTimeoutError(
        "lab",
        f"{', '.join(names)} not active: {start_up_ended_because(last_chance, timeout_s)} ({states_text}); "
        "is the lab manager's host up?",
    )


def wait_for_exit(processes: LabProcesses, poll_s: float = 0.5) -> dict[str, int]:
    """Block until any node process exits; returns those that did."""
    while True:
        dead = processes.exited()
        if dead:
            return dead
        time.sleep(poll_s)
