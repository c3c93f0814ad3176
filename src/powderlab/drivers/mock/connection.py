"""The connection state every mock device shares."""

from __future__ import annotations


class MockConnection:
    """connect / disconnect / connected for a device with no link to open."""

    _connected = False

    def connect(self) -> None:
        self._connected = True

    def disconnect(self) -> None:
        self._connected = False

    @property
    def connected(self) -> bool:
        return self._connected
