"""A line-oriented serial link (pyserial): one request, one reply line, with timeouts and retries.

The link clears what is waiting on the line before each request (stale or garbage bytes), reads
one reply terminated by `eol` within `timeout_s`, and repeats the request up to `retries` times
when nothing (or something the caller rejects) comes back. A port that fails (cable pulled,
device gone) is closed and reported disconnected; it is reopened on the next request after a
backoff, so a returning device is picked up without a restart.
"""

from __future__ import annotations

import logging
import termios
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import serial

from powderlab.core.errors import DeviceDisconnectedError, DeviceTimeoutError, ValidationError

T = TypeVar("T")
log = logging.getLogger(__name__)


class BadReply(Exception):  # noqa: N818 - a signal between parser and link, never leaves the driver
    """A reply that failed its framing or checksum; the link retries the request."""


@dataclass(frozen=True)
class SerialSettings:
    """Port and line settings of one serial device."""

    port: str
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1
    timeout_s: float = 1.0
    retries: int = 2
    reopen_backoff_s: float = 0.5

    @staticmethod
    def from_connection(device: str, connection: Mapping[str, Any], **defaults: Any) -> SerialSettings:
        port = connection.get("port")
        if not port:
            raise ValidationError(f"{device}: connection.port", "a serial port path is required (e.g. /dev/ttyUSB0)")
        values = {
            **defaults,
            **{k: connection[k] for k in ("baudrate", "bytesize", "parity", "stopbits") if k in connection},
        }
        return SerialSettings(
            port=str(port),
            timeout_s=float(connection.get("timeout_s", defaults.get("timeout_s", 1.0))),
            retries=int(connection.get("retries", 2)),
            **{k: v for k, v in values.items() if k != "timeout_s"},
        )


class SerialLine:
    """One serial port, used by one driver (thread-safe)."""

    def __init__(self, device: str, settings: SerialSettings, eol: bytes = b"\r\n") -> None:
        self.device, self.settings, self.eol = device, settings, eol
        self._port: serial.Serial | None = None
        self._lock = threading.RLock()
        self._wanted = False
        self._next_open = 0.0
        self.last_error = ""
        self.retried = 0

    # --- lifecycle ---
    def open(self) -> None:
        """Open the port (DeviceDisconnectedError naming the port if it cannot)."""
        with self._lock:
            self._wanted = True
            if self._port is not None:
                return
            s = self.settings
            try:
                self._port = serial.Serial(
                    s.port,
                    s.baudrate,
                    bytesize=s.bytesize,
                    parity=s.parity,
                    stopbits=s.stopbits,
                    timeout=s.timeout_s,
                    write_timeout=s.timeout_s,
                    exclusive=True,
                )
            except (serial.SerialException, OSError, ValueError) as error:
                log.warning("%s: cannot open serial port %s: %s", self.device, s.port, error)
                self.last_error = str(error)
                self._next_open = time.monotonic() + s.reopen_backoff_s
                raise DeviceDisconnectedError(self.device, f"cannot open serial port {s.port}: {error}") from None
            self.last_error = ""

    def close(self) -> None:
        with self._lock:
            self._wanted = False
            self._drop()

    def _drop(self) -> None:
        if self._port is not None:
            try:
                self._port.close()
            except (serial.SerialException, OSError):
                pass
            self._port = None

    @property
    def is_open(self) -> bool:
        """True while the port is open; a wanted but failed port is retried here after the backoff."""
        with self._lock:
            if self._port is None and self._wanted and time.monotonic() >= self._next_open:
                try:
                    self.open()
                except DeviceDisconnectedError:
                    pass
            return self._port is not None

    # --- I/O ---
    def _fail(self, error: Exception) -> DeviceDisconnectedError:
        log.warning(
            "%s: serial port %s failed: %r; closed, reopening after %.1f s",
            self.device,
            self.settings.port,
            error,
            self.settings.reopen_backoff_s,
        )
        self._drop()
        self.last_error = str(error)
        self._next_open = time.monotonic() + self.settings.reopen_backoff_s
        return DeviceDisconnectedError(
            self.device, f"serial port {self.settings.port} failed ({error}); the last command's outcome is unknown"
        )

    def _read_line(self, port: serial.Serial) -> bytes | None:
        """One reply line without its terminator, or None after the timeout."""
        deadline = time.monotonic() + self.settings.timeout_s
        buffer = b""
        while time.monotonic() < deadline:
            chunk = port.read_until(self.eol, 4096)
            buffer += chunk
            if buffer.endswith(self.eol):
                return buffer[: -len(self.eol)]
            if not chunk:
                break
        return None

    def transact(self, request: bytes, parse: Callable[[bytes], T], what: str = "") -> T:
        """Send request + eol, parse the reply line; retry on silence or BadReply."""
        with self._lock:
            if not self.is_open:
                raise DeviceDisconnectedError(
                    self.device, f"serial port {self.settings.port} is not open ({self.last_error or 'not connected'})"
                )
            assert self._port is not None
            attempts = self.settings.retries + 1
            problem = "no reply"
            for attempt in range(attempts):
                try:
                    self._port.reset_input_buffer()
                    self._port.write(request + self.eol)
                    line = self._read_line(self._port)
                except (serial.SerialException, OSError, termios.error) as error:
                    raise self._fail(error) from None
                if attempt:
                    self.retried += 1
                if line is None:
                    problem = f"no reply within {self.settings.timeout_s:g} s"
                    continue
                try:
                    return parse(line)
                except BadReply as error:
                    problem = f"bad reply ({error})"
                    continue
            raise DeviceTimeoutError(
                self.device, f"{what or request.decode(errors='replace')}: {problem} after {attempts} attempts"
            )
