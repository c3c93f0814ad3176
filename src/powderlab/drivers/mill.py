"""Mill / shaker contract (Retsch MM400-like): frequency in Hz, duration in s.

The clamp (lid) must be closed before milling starts (interlock); the mill stops by itself after
the duration. Errors: OutOfRangeError for frequency/duration/balls outside the limits,
InterlockError when the clamp is open, DeviceDisconnectedError.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import ClassVar

from powderlab.core.units import require_int_range, require_range
from powderlab.drivers.base import Device


@dataclass(frozen=True)
class MillState:
    """What the mill is doing."""

    running: bool
    clamp_closed: bool
    frequency_hz: float
    elapsed_s: float
    duration_s: float


class Mill(Device):
    """A ball mill or shaker with a clamp interlock."""

    kind: ClassVar[str] = "mill"

    @property
    def frequency_range_hz(self) -> tuple[float, float]:
        return float(self.config.get("min_frequency_hz", 3.0)), float(self.config.get("max_frequency_hz", 30.0))

    @property
    def max_duration_s(self) -> float:
        return float(self.config.get("max_duration_s", 7200.0))

    @property
    def max_balls(self) -> int:
        return int(self.config.get("max_balls", 20))

    def check_settings(self, frequency_hz: float, duration_s: float, ball_count: int = 0) -> None:
        """Raise OutOfRangeError naming the setting and its allowed range."""
        low, high = self.frequency_range_hz
        require_range("frequency_hz", frequency_hz, low, high, "Hz")
        require_range("duration_s", duration_s, 1.0, self.max_duration_s, "s")
        require_int_range("ball_count", ball_count, 0, self.max_balls)

    @abc.abstractmethod
    def set_clamp(self, closed: bool) -> None:
        """Close or open the clamp. Opening while running raises InterlockError."""

    @abc.abstractmethod
    def start(self, frequency_hz: float, duration_s: float) -> None:
        """Start milling; it stops by itself after duration_s."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop milling. Idempotent."""

    @abc.abstractmethod
    def state(self) -> MillState:
        """Current state."""
