"""A serial device on a pseudo-terminal: the emulator holds the master (device) end in raw mode.

The driver opens the slave path (`/dev/pts/N`, or a stable symlink given as `link`) with pyserial
exactly as it would open /dev/ttyUSB0. A reader thread hands incoming bytes to a protocol
object (`feed(bytes) -> bytes` to write back) and runs its `tick()` between reads. Test hooks
inject garbage, corrupt or swallow the next reply.
"""

from __future__ import annotations

import os
import select
import threading
import tty
from pathlib import Path
from typing import Protocol


class SerialProtocol(Protocol):
    """The device side of a serial protocol."""

    def feed(self, data: bytes) -> bytes:
        """Bytes received from the host; returns the bytes to send back (possibly empty)."""
        ...

    def tick(self) -> None:
        """Advance the device's physics to its clock's now."""
        ...


class PtyDevice:
    """One emulated serial device on a pty pair."""

    def __init__(self, name: str, protocol: SerialProtocol, link: Path | None = None) -> None:
        self.name, self.protocol, self.link = name, protocol, link
        self._master = -1
        self._slave = -1
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.port = ""
        self.corrupt_next = False
        self.swallow_next = 0
        self.prefix_garbage = b""

    def start(self) -> str:
        """Open the pty and serve; returns the port path the driver opens."""
        if self._thread is not None:
            return self.path
        self._master, self._slave = os.openpty()
        tty.setraw(self._master)
        tty.setraw(self._slave)
        self.port = os.ttyname(self._slave)
        if self.link is not None:
            self.link.parent.mkdir(parents=True, exist_ok=True)
            if self.link.is_symlink() or self.link.exists():
                self.link.unlink()
            self.link.symlink_to(self.port)
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, name=f"pty-{self.name}", daemon=True)
        self._thread.start()
        return self.path

    @property
    def path(self) -> str:
        return str(self.link) if self.link is not None else self.port

    def stop(self) -> None:
        """Stop serving and close both ends (to the driver: the cable is pulled). Idempotent."""
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(5.0)
        self._thread = None
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
        self._master = self._slave = -1
        if self.link is not None and self.link.is_symlink() and os.readlink(self.link) == self.port:
            self.link.unlink()

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.01)
            self.protocol.tick()
            if not ready:
                continue
            try:
                data = os.read(self._master, 4096)
            except OSError:
                continue
            reply = self.protocol.feed(data)
            if reply:
                self._send(reply)

    def _send(self, reply: bytes) -> None:
        if self.swallow_next > 0:
            self.swallow_next -= 1
            return
        if self.corrupt_next:
            self.corrupt_next = False
            reply = bytes([reply[0] ^ 0x20]) + reply[1:-3] + bytes([reply[-3] ^ 0x01]) + reply[-2:]
        if self.prefix_garbage:
            reply, self.prefix_garbage = self.prefix_garbage + reply, b""
        try:
            os.write(self._master, reply)
        except OSError:
            pass
