"""Diffractometer contract, with its sample preparation and holder magazine.

Angles in degrees 2-theta, time in s, mass in mg. Limits (site profile): min/max_two_theta_deg,
min/max_step_deg, holders. Preparation recovers the powder of the crucible at the station's
recovery position, grinds it and spreads it on a clean holder; the holder is then loaded, scanned
and unloaded. Errors: OutOfRangeError (scan settings), DeviceError (no clean holder, nothing
loaded), DeviceDisconnectedError, DeviceTimeoutError.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import ClassVar

from powderlab.core.errors import OutOfRangeError
from powderlab.core.recipes import ScanSettings
from powderlab.core.units import require_range
from powderlab.core.xrd import XrdPattern
from powderlab.drivers.base import Device


@dataclass(frozen=True)
class PreparedHolder:
    """A holder with powder on it."""

    holder_id: str
    sample_mg: float


@dataclass(frozen=True)
class ScanState:
    """Progress of the current scan."""

    scanning: bool
    progress: float  # 0..1
    loaded_holder: str  # empty when nothing is loaded


class Diffractometer(Device):
    """A powder diffractometer with a sample changer and a preparation unit."""

    kind: ClassVar[str] = "diffractometer"

    @property
    def wavelength_angstrom(self) -> float:
        return float(self.config.get("wavelength_angstrom", 1.5406))

    def check_scan(self, settings: ScanSettings) -> None:
        """Raise OutOfRangeError for settings outside the instrument's limits."""
        low = float(self.config.get("min_two_theta_deg", 5.0))
        high = float(self.config.get("max_two_theta_deg", 120.0))
        require_range("two_theta_start_deg", settings.two_theta_start_deg, low, high, "deg")
        require_range("two_theta_end_deg", settings.two_theta_end_deg, low, high, "deg")
        step_low = float(self.config.get("min_step_deg", 0.005))
        step_high = float(self.config.get("max_step_deg", 0.5))
        if not step_low <= settings.step_deg <= step_high:
            raise OutOfRangeError("step_deg", settings.step_deg, step_low, step_high, "deg")

    @abc.abstractmethod
    def prepare(self, crucible_id: str, grind_s: float) -> PreparedHolder:
        """Recover the crucible's powder, grind it for grind_s, spread it on a clean holder."""

    @abc.abstractmethod
    def load(self, holder_id: str) -> None:
        """Put a prepared holder into the beam position. Idempotent for the same holder."""

    @abc.abstractmethod
    def unload(self) -> None:
        """Take the holder out and send it to cleaning. Idempotent."""

    @abc.abstractmethod
    def start_scan(self, settings: ScanSettings) -> None:
        """Start a scan of the loaded holder."""

    @abc.abstractmethod
    def scan_state(self) -> ScanState:
        """Progress of the scan."""

    @abc.abstractmethod
    def result(self) -> XrdPattern:
        """The pattern of the last finished scan."""

    @abc.abstractmethod
    def abort_scan(self) -> None:
        """Stop the scan, close the shutter. Idempotent."""
