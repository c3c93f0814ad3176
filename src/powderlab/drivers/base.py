"""What every device driver has in common: connection lifecycle, status and a safe stop.

Contracts (one module per device kind) subclass Device and declare units, ranges, commands and
the errors they raise. Backends (mock, sim, opcua, serial) implement them. Commands are
idempotent: they name the state to reach ("door open"), never toggle.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import ClassVar

from powderlab.core.clock import Clock, WallClock
from powderlab.core.errors import DeviceDisconnectedError, ErrorCode
from powderlab.core.site import DeviceConfig


@dataclass(frozen=True)
class DeviceStatus:
    """A device's state as its driver sees it."""

    name: str
    kind: str
    connected: bool
    state: str
    fault_code: ErrorCode = ErrorCode.NONE
    fault: str = ""
    values: dict[str, float | str | bool] = field(default_factory=dict)


class Device(abc.ABC):
    """Base of every device contract."""

    kind: ClassVar[str] = "device"

    def __init__(self, config: DeviceConfig, clock: Clock | None = None) -> None:
        self.config = config
        self.name = config.name
        self.clock: Clock = clock or WallClock()

    @abc.abstractmethod
    def connect(self) -> None:
        """Open the link and read the device's state. Idempotent."""

    @abc.abstractmethod
    def disconnect(self) -> None:
        """Close the link, leaving the device as it is. Idempotent."""

    @property
    @abc.abstractmethod
    def connected(self) -> bool:
        """True while the link is up."""

    @abc.abstractmethod
    def safe_stop(self) -> None:
        """Bring the device to its safe state (stop motion, stop dosing, heaters off). Idempotent."""

    @abc.abstractmethod
    def status(self) -> DeviceStatus:
        """The current state; never raises for a disconnected device (it says so instead)."""

    def require_connected(self) -> None:
        """Raise DeviceDisconnectedError unless connected."""
        if not self.connected:
            raise DeviceDisconnectedError(self.name, "is not connected; connect it first (station configure)")
