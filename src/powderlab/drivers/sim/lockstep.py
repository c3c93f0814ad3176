"""The clients' side of the twin's lockstep protocol (twin.lockstep, ADR 0082).

Whoever hands lab work from one process to another opens a lease before the hand-over and ends
it once the result is taken over, so sim time cannot run on while a goal or a result travels:
the campaign engine around each goal it sends, a station around a transfer it asks of the
transfer station (a child lease: the asking operation waits on it), the station around the
operation it executes when nobody opened a lease for it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from powderlab.core.errors import DeviceError
from powderlab.drivers.sim.link import CONTROL, TwinLink, current_lease, lease_scope

log = logging.getLogger(__name__)


class LockstepLink:
    """Lease calls to the twin over its own link."""

    def __init__(self, address: str | None = None, connect_timeout_s: float = 30.0) -> None:
        self.link = TwinLink(address or None, connect_timeout_s)

    def now(self) -> float:
        """The twin's sim time."""
        return float(self.link.call(CONTROL, "time"))

    def begin(self, key: str, parent: str = "") -> bool:
        """Open lease `key` (a child of `parent`, which then waits on it); False if it was open."""
        return bool(self.link.call(CONTROL, "lease_begin", key, parent))

    def end(self, key: str, wake: str = "") -> None:
        """End lease `key` and wake lease `wake` at the same moment. Never raises (a stopping lab)."""
        try:
            self.link.call(CONTROL, "lease_end", key, wake)
        except DeviceError as error:
            log.warning("could not end lease %s: %s", key, error)

    @contextlib.contextmanager
    def operation(self, key: str) -> Iterator[None]:
        """Run the calling thread's requests under lease `key`, opening (and then ending) it if nobody had."""
        opened = self.begin(key)
        try:
            with lease_scope(key):
                yield
        finally:
            if opened:
                self.end(key)

    @contextlib.contextmanager
    def child(self, key: str) -> Iterator[None]:
        """A lease for work handed to another process; the calling thread's lease waits on it."""
        self.begin(key, current_lease())
        try:
            yield
        finally:
            self.end(key)

    def close(self) -> None:
        self.link.close()
