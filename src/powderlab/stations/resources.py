"""Exclusive resources inside a station (the station itself, an arm, a furnace)."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from powderlab.core.errors import StationUnavailableError


class ResourceLocks:
    """Named locks taken all-or-none by an operation id, so two operations never deadlock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: dict[str, str] = {}
        self._descriptions: dict[str, str] = {}

    def describe(self, operation_id: str, description: str) -> None:
        with self._lock:
            self._descriptions[operation_id] = description

    def try_acquire(self, resources: Iterable[str], operation_id: str) -> bool:
        wanted = list(resources)
        with self._lock:
            if any(self._owners.get(r, operation_id) != operation_id for r in wanted):
                return False
            for resource in wanted:
                self._owners[resource] = operation_id
            return True

    def raise_busy(self, resources: Iterable[str], operation_id: str) -> None:
        with self._lock:
            busy = {r: self._owners[r] for r in resources if self._owners.get(r, operation_id) != operation_id}
            text = ", ".join(f"'{r}' is busy with {self._descriptions.get(o, o)}" for r, o in busy.items())
        raise StationUnavailableError(text or "resources are busy")

    def release_some(self, resources: Iterable[str], operation_id: str) -> None:
        """Give back some resources before the operation ends (those it does not own are left alone)."""
        with self._lock:
            for resource in resources:
                if self._owners.get(resource) == operation_id:
                    del self._owners[resource]

    def release(self, operation_id: str) -> None:
        with self._lock:
            for resource in [r for r, o in self._owners.items() if o == operation_id]:
                del self._owners[resource]
            self._descriptions.pop(operation_id, None)

    def owners(self) -> dict[str, str]:
        with self._lock:
            return dict(self._owners)
