"""The twin's process side: serves the device models over the link and runs sim time.

Time runs in one of three ways: `time_factor > 0` paces sim time to wall time times the factor;
`time_factor == 0` runs as fast as possible; `manual=True` runs nothing by itself (time moves
only when a caller advances it or waits in sim time), which the contract suite uses.

An accelerated twin holds sim time for a moment after each device command (ADR 0074): the
wall-clock gap before the station's next command (its bookkeeping, a ROS round trip) would
otherwise pass at the time factor, and a 30 s transfer took 1000 s of lab time at 2000x.
"""

from __future__ import annotations

import socket
import threading
import time
from multiprocessing import AuthenticationError
from multiprocessing.connection import Connection, Listener
from pathlib import Path
from typing import Any

from powderlab.core.errors import DeviceTimeoutError, PowderLabError, UnknownResourceError, ValidationError
from powderlab.drivers.sim.link import CONTROL, default_address, encode_error, key_path, write_authkey
from powderlab.twin.world import World

COMM_TIMEOUT_S = 2.0
PHYSICS_CHUNK_S = 0.1  # sim seconds of physics per loop iteration before letting requests in
IDLE_CHUNK_S = 10.0  # sim seconds per iteration when nothing moves (as fast as possible)
CONTROL_METHODS = ("time", "advance", "schedule", "clear_fault", "ping", "render")
COMMAND_HOLD_S = 0.25  # wall seconds sim time waits for the next command (a new command ends the wait)
LOCK_WAIT_S = 0.002  # a longer wait for the world lock is a command computing, not lab time passing
HOLD_MIN_TIME_FACTOR = 10.0  # slower twins (real time, GUI demos) never hold
# Device commands (state-changing calls, the steps of an operation); queries never hold time.
HOLDING_COMMANDS = frozenset(
    {
        "move_joints", "move_to", "move_home", "move_tool", "set_gripper", "stop", "reset",
        "tare", "zero", "read_stable", "dispense", "abort", "set_clamp", "start",
        "set_door", "start_program", "stop_program", "prepare", "load", "unload", "start_scan", "abort_scan",
    }
)  # fmt: skip


class TwinServer:
    """Owns the world; one thread per client connection, one for time."""

    def __init__(
        self,
        world: World,
        address: str | None = None,
        time_factor: float = 1.0,
        manual: bool = False,
        command_hold_s: float | None = None,
    ) -> None:
        """command_hold_s: wall seconds sim time waits after a device command (None: COMMAND_HOLD_S when the
        twin runs as fast as possible or at HOLD_MIN_TIME_FACTOR or more, else 0)."""
        if time_factor < 0:
            raise ValidationError("time_factor", f"{time_factor} must be 0 (as fast as possible) or positive")
        self.world = world
        self.address = address or default_address()
        self.time_factor = float(time_factor)
        accelerated = self.time_factor == 0 or self.time_factor >= HOLD_MIN_TIME_FACTOR
        self.command_hold_s = (COMMAND_HOLD_S if accelerated else 0.0) if command_hold_s is None else command_hold_s
        # Per connection (one per driver): time.monotonic() until which sim time waits for its next command.
        self._holds: dict[int, float] = {}
        self._holds_lock = threading.Lock()
        self.manual = manual
        world.manual = manual
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

    # --- time --------------------------------------------------------------------------------
    def _run_time(self) -> None:
        world = self.world
        wall0, sim0 = time.monotonic(), world.time
        while not self._stop.is_set():
            if self._held():
                wall0, sim0 = time.monotonic(), world.time  # the held wall time is not caught up later
                time.sleep(0.001)
                continue
            asked = time.monotonic()
            with world.lock:
                blocked = time.monotonic() - asked
                if blocked > LOCK_WAIT_S:  # a command computed under the lock (path planning): not lab time
                    wall0 += blocked
                caught_up = False
                if self.time_factor > 0:
                    target = sim0 + (time.monotonic() - wall0) * self.time_factor
                    behind = target - world.time
                    caught_up = behind <= 0
                    if not caught_up:
                        world.advance(min(behind, PHYSICS_CHUNK_S if world.moving() else behind))
                    if target - world.time > 1.0:  # physics cannot keep up: run slower, not in bursts
                        wall0, sim0 = time.monotonic(), world.time
                else:
                    world.advance(PHYSICS_CHUNK_S if world.moving() else IDLE_CHUNK_S)
            time.sleep(0.002 if caught_up else 0.0005)

    def _hold(self, connection: Connection, seconds: float) -> None:
        with self._holds_lock:
            if seconds > 0:
                self._holds[id(connection)] = time.monotonic() + seconds
            else:
                self._holds.pop(id(connection), None)

    def _held(self) -> bool:
        """Some driver finished a command moments ago and has not sent its next one yet."""
        with self._holds_lock:
            return bool(self._holds) and time.monotonic() < max(self._holds.values())

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
            self._hold(connection, 0.0)

    def _serve_requests(self, connection: Connection) -> None:
        while not self._stop.is_set():
            try:
                device, method, args, kwargs = connection.recv()
            except (OSError, EOFError, TypeError, ValueError):
                return
            command = method in HOLDING_COMMANDS and device != CONTROL
            if command:
                self._hold(connection, 0.0)  # its next command came: the gap is over
            try:
                answer: tuple[str, Any] = ("ok", self.dispatch(device, method, args, kwargs))
            except PowderLabError as error:
                answer = ("error", encode_error(error))
            except Exception as error:  # a bug in a model must not kill the twin
                answer = ("error", encode_error(DeviceTimeoutError(str(device), f"twin internal error: {error!r}")))
            if command:
                self._hold(connection, self.command_hold_s)
            try:
                connection.send(answer)
            except (OSError, EOFError):
                return

    def dispatch(self, device: str, method: str, args: tuple, kwargs: dict) -> Any:
        """Run one request against the world (also used in-process by tests)."""
        if device == CONTROL:
            if method not in CONTROL_METHODS:
                raise UnknownResourceError("twin control method", method, CONTROL_METHODS)
            return getattr(self, f"control_{method}")(*args, **kwargs)
        model = self.world.devices.get(device)
        if model is None:
            raise UnknownResourceError("device in the twin", device, sorted(self.world.devices))
        if method.startswith("_") or not callable(getattr(model, method, None)):
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
