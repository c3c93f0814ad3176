"""The sim drivers' link to the twin process: multiprocessing.connection on a Unix socket.

Requests are (device, method, args, kwargs); answers are ("ok", value) or ("error", encoded).
Errors cross as (class path, message, code, attributes) and are rebuilt as the same
powderlab error class, so a driver raises exactly what the twin's device model raised. The
socket is private to the user (0600 key file next to it, HMAC authentication by authkey).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import secrets
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from multiprocessing.connection import Client, Connection
from pathlib import Path
from typing import Any

from powderlab.core.errors import DeviceDisconnectedError, DeviceError, ErrorCode

CONTROL = "__twin__"
RECONNECT_TIMEOUT_S = 1.0

# The lease (twin.lockstep) the calling thread works for: every request it sends names it, so the
# twin knows whose work a command or a wait is. Set by the station node around an operation.
_lease = threading.local()


def current_lease() -> str:
    """The lease of the calling thread ("" outside any)."""
    return getattr(_lease, "key", "")


def lease_time() -> float | None:
    """Sim time as of the last answer this thread got, while it works under a lease (else None).

    A lease that computes holds the twin's clock, so that time is still the twin's time now.
    """
    if not current_lease():
        return None
    return getattr(_lease, "sim_time", None)


@contextlib.contextmanager
def lease_scope(key: str) -> Iterator[None]:
    """Requests sent from this thread inside the block work for lease `key`."""
    previous = current_lease()
    _lease.key, _lease.sim_time = key, None
    try:
        yield
    finally:
        _lease.key, _lease.sim_time = previous, None


def default_address() -> str:
    """The twin's socket for this user and ROS domain (POWDERLAB_TWIN_ADDRESS overrides)."""
    explicit = os.environ.get("POWDERLAB_TWIN_ADDRESS")
    if explicit:
        return explicit
    domain = os.environ.get("ROS_DOMAIN_ID", "0") or "0"
    return str(Path(tempfile.gettempdir()) / f"powderlab-twin-{os.getuid()}-{domain}.sock")


def key_path(address: str) -> Path:
    return Path(address + ".key")


def write_authkey(address: str) -> bytes:
    """A fresh key, readable by this user only."""
    key = secrets.token_bytes(32)
    path = key_path(address)
    path.unlink(missing_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
    return key


def encode_error(error: BaseException) -> dict[str, Any]:
    attributes = {k: v for k, v in vars(error).items() if isinstance(v, str | int | float | bool)}
    return {
        "module": type(error).__module__,
        "name": type(error).__qualname__,
        "message": str(error),
        "code": int(getattr(error, "code", ErrorCode.UNKNOWN)),
        "attributes": attributes,
    }


def decode_error(data: Mapping[str, Any]) -> Exception:
    cls: type = DeviceError
    if str(data.get("module", "")).startswith("powderlab."):
        try:
            found = getattr(importlib.import_module(data["module"]), data["name"])
            if isinstance(found, type) and issubclass(found, Exception):
                cls = found
        except (ImportError, AttributeError):
            pass
    error = cls.__new__(cls)
    Exception.__init__(error, data.get("message", ""))
    error.__dict__.update(data.get("attributes") or {})
    try:
        error.code = ErrorCode(int(data.get("code", ErrorCode.UNKNOWN)))
    except ValueError:
        error.code = ErrorCode.UNKNOWN
    return error


class TwinLink:
    """Calls into the twin; one connection per calling thread (a long move never blocks a status read)."""

    def __init__(self, address: str | None = None, connect_timeout_s: float = 30.0) -> None:
        self.address = address or default_address()
        self.connect_timeout_s = connect_timeout_s
        self._local = threading.local()
        self._all: list[Connection] = []
        self._lock = threading.Lock()
        self._ever_connected = False

    def _connection(self, name: str) -> Connection:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            return connection
        # The first connection waits for the twin to come up; once it was there, a missing twin is
        # reported at once (a stopped lab must not hang its status timers for connect_timeout_s).
        wait_s = self.connect_timeout_s if not self._ever_connected else RECONNECT_TIMEOUT_S
        deadline = time.monotonic() + wait_s
        while True:
            try:
                key = key_path(self.address).read_bytes()
                connection = Client(self.address, family="AF_UNIX", authkey=key)
                break
            except (OSError, EOFError) as error:
                gone = self._ever_connected and not Path(self.address).exists()  # the twin stopped: say so now
                if gone or time.monotonic() > deadline:
                    raise DeviceDisconnectedError(
                        name, f"no twin at {self.address} ({error}); start it (powderlab up --backend sim)"
                    ) from None
                time.sleep(0.1)
        self._local.connection = connection
        self._ever_connected = True
        with self._lock:
            self._all.append(connection)
        return connection

    def call(self, device: str, method: str, *args: Any, **kwargs: Any) -> Any:
        connection = self._connection(device)
        try:
            connection.send((device, method, args, kwargs, current_lease()))
            status, value, *rest = connection.recv()
            _lease.sim_time = float(rest[0]) if rest else None
        except (OSError, EOFError) as error:
            self._local.connection = None
            raise DeviceDisconnectedError(device, f"link to the twin lost ({error})") from None
        if status == "ok":
            return value
        raise decode_error(value)

    def close(self) -> None:
        with self._lock:
            for connection in self._all:
                try:
                    connection.close()
                except OSError:
                    pass
            self._all.clear()
        self._local = threading.local()
