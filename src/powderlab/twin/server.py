"""The twin's process side: serves the device models over the link and runs sim time.

Time runs in one of three ways: `time_factor > 0` paces sim time to wall time times the factor;
`time_factor == 0` runs as fast as possible; `manual=True` runs nothing by itself (time moves
only when a caller advances it or waits in sim time), which the contract suite uses.

Paced or not, time moves in lockstep with the lab's work (twin.lockstep, ADR 0082): only while
no lease is computing, and never past the earliest moment a waiting lease wants to go on. Each
request names the lease it works for; the control methods `lease_begin`, `lease_end` and
`sleep_until` are the stations' and the campaign engine's side of the protocol.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
import time
from multiprocessing import AuthenticationError
from multiprocessing.connection import Connection, Listener
from pathlib import Path
from typing import Any

from powderlab.core.errors import DeviceTimeoutError, PowderLabError, UnknownResourceError, ValidationError
from powderlab.drivers.sim.link import CONTROL, default_address, encode_error, key_path, write_authkey
from powderlab.twin.devices.base import FaultTarget
from powderlab.twin.timeline import Timeline

log = logging.getLogger(__name__)

COMM_TIMEOUT_S = 2.0
PHYSICS_CHUNK_S = 0.1  # sim seconds of physics per loop iteration before letting requests in
IDLE_CHUNK_S = 10.0  # sim seconds per iteration when nothing moves (as fast as possible)
PACE_PERIOD_S = 0.005  # wall seconds between two steps of a paced clock that has caught up
MIN_PACE_PERIOD_S = 0.0002  # ... when a waiting lease is due sooner than that
FREE_RUN_PAUSE_S = 0.0005  # wall seconds between two chunks when running as fast as possible
FROZEN_POLL_S = 0.05  # wall seconds the time loop sleeps while a lease computes (it is woken on changes)
CONTROL_METHODS = (
    "time", "advance", "schedule", "clear_fault", "ping", "render",
    "lease_begin", "lease_end", "sleep_until",
)  # fmt: skip


# The devices' fault interface (and its helpers): reachable through scenarios only.
FAULT_API = frozenset(name for name in vars(FaultTarget) if not name.startswith("_"))


class TwinServer:
    """Owns the world; one thread per client connection, one for time."""

    def __init__(
        self,
        world: Timeline,
        address: str | None = None,
        time_factor: float = 1.0,
        manual: bool = False,
        hold_until_work: bool = False,
    ) -> None:
        """hold_until_work: sim time stays where it is until the first lease opens (a campaign's lab time
        then starts at the same moment however long the lab took to come up)."""
        if time_factor < 0:
            raise ValidationError("time_factor", f"{time_factor} must be 0 (as fast as possible) or positive")
        self.world = world
        self.address = address or default_address()
        self.time_factor = float(time_factor)
        self.manual = manual
        world.manual = manual
        self._held_for_work = hold_until_work
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._connections: list[Connection] = []
        self._listener: Listener | None = None
        self.camera = None

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> TwinServer:
        Path(self.address).unlink(missing_ok=True)
        key = write_authkey(self.address)
        self._listener = Listener(self.address, family="AF_UNIX", authkey=key)
        Path(self.address).chmod(0o600)
        self._spawn(self._accept, "twin-accept")
        if not self.manual:
            self._spawn(self._run_time, "twin-time")
        return self

    def _spawn(self, target: Any, name: str, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        with self.world.lock:
            self.world.changed.notify_all()
        if self._listener is not None:
            # Wake the accept() so its thread sees the stop: a bare connection that closes at once
            # (a multiprocessing Client would wait forever for a challenge if the thread had left).
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as wake:
                    wake.settimeout(1.0)
                    wake.connect(self.address)
            except OSError:
                pass
            try:
                self._listener.close()
            except OSError:
                pass
        for thread in self._threads:  # accept and time; client threads are daemons blocked in recv
            if thread.name != "twin-client":
                thread.join(timeout=2.0)
        for connection in list(self._connections):
            try:
                connection.close()
            except OSError:
                pass
        Path(self.address).unlink(missing_ok=True)
        key_path(self.address).unlink(missing_ok=True)

    # --- time ---
    def _run_time(self) -> None:
        world, lockstep = self.world, self.world.lockstep
        wall0, sim0 = time.monotonic(), world.time
        while not self._stop.is_set():
            with world.lock:
                lockstep.wake_due(world.time)  # a predicate another request made true
                self._held_for_work = self._held_for_work and not lockstep.leases
                if self._held_for_work or lockstep.runnable():
                    # Lab work is computing: time stands still, and the wall time it takes is not caught up.
                    world.changed.wait(FROZEN_POLL_S)
                    wall0, sim0 = time.monotonic(), world.time
                    continue
                limit = lockstep.next_deadline()
                if self.time_factor > 0:
                    target = sim0 + (time.monotonic() - wall0) * self.time_factor
                    if target - world.time > 1.0:  # physics cannot keep up: run slower, not in bursts
                        wall0, sim0 = time.monotonic(), world.time
                else:
                    target = world.time + (PHYSICS_CHUNK_S if world.moving() else IDLE_CHUNK_S)
                if world.moving():
                    target = min(target, world.time + PHYSICS_CHUNK_S)
                # the pace says how far; the grid says where steps end (the same steps under any load)
                grid = world.step_grid_s()
                target = math.floor(target / grid + 1e-9) * grid
                step = min(target, limit) - world.time
                if step > 1e-9:
                    world.advance(step, until=lambda: lockstep.wake_due(world.time))
                caught_up = step <= 1e-9 or world.time >= target - 1e-9
                # the wall time until the earliest waiting lease is due, at the pace (no need to look before)
                due_in = (limit - world.time) / self.time_factor if self.time_factor > 0 else 0.0
            if self.time_factor > 0:
                if caught_up:
                    time.sleep(min(max(due_in, MIN_PACE_PERIOD_S), PACE_PERIOD_S))
            else:
                time.sleep(FREE_RUN_PAUSE_S)  # let requests take the world lock between chunks

    # --- requests ----------------------------------------------------------------------------
    def _accept(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                connection = self._listener.accept()
            except (OSError, EOFError, AuthenticationError):
                if self._stop.is_set():
                    return
                continue
            if self._stop.is_set():
                connection.close()
                return
            self._connections.append(connection)
            self._spawn(self._serve, "twin-client", connection)

    def _serve(self, connection: Connection) -> None:
        try:
            self._serve_requests(connection)
        finally:
            with self.world.lock:
                gone = self.world.lockstep.end_owned_by(id(connection))
                self.world.changed.notify_all()
            if gone:
                log.warning("a client left with open leases %s; they are ended", ", ".join(gone))

    def _serve_requests(self, connection: Connection) -> None:
        lockstep = self.world.lockstep
        while not self._stop.is_set():
            try:
                request = connection.recv()
                device, method, args, kwargs = request[:4]
            except (OSError, EOFError, TypeError, ValueError):
                return
            lease = request[4] if len(request) > 4 else ""
            lockstep.current = lease
            if lease:
                with self.world.lock:
                    lockstep.resume(lease)
            try:
                answer: tuple[str, Any] = ("ok", self.dispatch(device, method, args, kwargs, id(connection)))
            except PowderLabError as error:
                answer = ("error", encode_error(error))
            except Exception as error:  # a bug in a model must not kill the twin
                answer = ("error", encode_error(DeviceTimeoutError(str(device), f"twin internal error: {error!r}")))
            try:
                # Sim time rides along: under a lease it cannot move until the lease waits again (ADR 0082).
                connection.send((*answer, self.world.time))
            except (OSError, EOFError):
                return

    def dispatch(self, device: str, method: str, args: tuple, kwargs: dict, client: int = 0) -> Any:
        """Run one request against the world (also used in-process by tests); client: who asks (leases)."""
        if device == CONTROL:
            if method not in CONTROL_METHODS:
                raise UnknownResourceError("twin control method", method, CONTROL_METHODS)
            if method.startswith("lease_"):
                kwargs = {**kwargs, "client": client}
            return getattr(self, f"control_{method}")(*args, **kwargs)
        model = self.world.devices.get(device)
        if model is None:
            raise UnknownResourceError("device in the twin", device, sorted(self.world.devices))
        if method.startswith("_") or method in FAULT_API or not callable(getattr(model, method, None)):
            # faults come from scenarios (control "schedule"), never from a driver
            raise UnknownResourceError(f"command of {device}", method, [])
        if getattr(model, "comm_lost_until", 0.0) > self.world.time:
            self.world.sleep(COMM_TIMEOUT_S)
            raise DeviceTimeoutError(device, f"no answer within {COMM_TIMEOUT_S:g} s (communication lost)")
        return getattr(model, method)(*args, **kwargs)

    # --- control -----------------------------------------------------------------------------
    def control_ping(self) -> str:
        return "pong"

    def control_time(self) -> float:
        return self.world.time

    def control_lease_begin(self, key: str, parent: str = "", client: int = 0) -> bool:
        """Open a lease for lab work (runnable until it waits); False if it was open already."""
        with self.world.lock:
            return self.world.lockstep.begin(key, parent, client)

    def control_lease_end(self, key: str, wake: str = "", client: int = 0) -> float:
        """End a lease, and at the same moment wake the lease `wake` (whoever takes the result over)."""
        with self.world.lock:
            if wake:
                self.world.lockstep.wake(wake)
            self.world.lockstep.end(key)
            self.world.changed.notify_all()
            return self.world.time

    def control_sleep_until(self, deadline: float, wall_timeout_s: float = 0.25) -> float:
        """Wait until sim time `deadline` under the request's lease, at most wall_timeout_s; sim time now."""
        world = self.world
        world.wait_until(lambda: world.time >= deadline - 1e-9, max(0.0, deadline - world.time), None, wall_timeout_s)
        return world.time

    def control_advance(self, seconds: float) -> float:
        self.world.advance(seconds)
        return self.world.time

    def control_schedule(self, scenario: str) -> list[str]:
        self.world.faults.schedule(scenario)
        return [f.kind for f in self.world.faults.applied]

    def control_clear_fault(self, device: str) -> None:
        self.world.faults.clear(device)

    def control_render(self) -> tuple[int, int, bytes]:
        from powderlab.twin.camera import Camera

        if self.camera is None:
            self.camera = Camera(self.world)
        return self.camera.render()
