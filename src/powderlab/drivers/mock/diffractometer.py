"""Mock diffractometer: a deterministic pattern after the scan time has passed on the clock."""

from __future__ import annotations

import zlib

import numpy as np

from powderlab.core.errors import DeviceError
from powderlab.core.recipes import ScanSettings
from powderlab.core.xrd import XrdPattern
from powderlab.drivers.base import DeviceStatus
from powderlab.drivers.diffractometer import Diffractometer, PreparedHolder, ScanState
from powderlab.drivers.mock.connection import MockConnection


class MockDiffractometer(MockConnection, Diffractometer):
    """Holders holder_01..N; every scan gives a few peaks seeded by the holder's sample."""

    STATE_KEYS = {"sample_mg": "set_sample_mg"}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        count = int(self.config.get("holders", 8))
        self._clean = [f"holder_{i:02d}" for i in range(1, count + 1)]
        self._prepared: dict[str, str] = {}  # holder -> crucible
        self._loaded = ""
        self._scan: tuple[ScanSettings, float, str, str] | None = None  # settings, start, holder, crucible
        self.sample_mg = float(self.config.get("mock_sample_mg", 80.0))

    def set_sample_mg(self, mass_mg: float) -> None:
        self.sample_mg = float(mass_mg)

    def safe_stop(self) -> None:
        self._scan = None

    def prepare(self, crucible_id: str, grind_s: float) -> PreparedHolder:
        self.require_connected()
        if not self._clean:
            raise DeviceError(self.name, "no clean XRD holder left in the magazine; unload and clean holders")
        self.clock.sleep(grind_s)
        holder = self._clean.pop(0)
        self._prepared[holder] = crucible_id
        return PreparedHolder(holder, self.sample_mg)

    def load(self, holder_id: str) -> None:
        self.require_connected()
        if self._loaded == holder_id:
            return
        if holder_id not in self._prepared:
            raise DeviceError(self.name, f"holder '{holder_id}' is not prepared; prepared: {sorted(self._prepared)}")
        if self._loaded:
            raise DeviceError(self.name, f"holder '{self._loaded}' is still loaded; unload it first")
        self._loaded = holder_id

    def unload(self) -> None:
        self.require_connected()
        if self._scanning():
            raise DeviceError(self.name, "a scan is running; abort it before unloading")
        if self._loaded:
            self._prepared.pop(self._loaded, None)
            self._clean.append(self._loaded)  # cleaned and back in the magazine
            self._loaded = ""

    def _scanning(self) -> bool:
        return self._scan is not None and self.clock.now() - self._scan[1] < self._scan[0].scan_time_s

    def start_scan(self, settings: ScanSettings) -> None:
        self.require_connected()
        self.check_scan(settings)
        if not self._loaded:
            raise DeviceError(self.name, "no holder loaded; load a prepared holder first")
        self._scan = (settings, self.clock.now(), self._loaded, self._prepared.get(self._loaded, ""))

    def scan_state(self) -> ScanState:
        self.require_connected()
        if self._scan is None:
            return ScanState(False, 0.0, self._loaded)
        settings, started = self._scan[0], self._scan[1]
        progress = min(1.0, (self.clock.now() - started) / settings.scan_time_s)
        return ScanState(progress < 1.0, progress, self._loaded)

    def result(self) -> XrdPattern:
        self.require_connected()
        if self._scan is None or self.scan_state().scanning:
            raise DeviceError(self.name, "no finished scan; start a scan and wait for it to finish")
        settings, _, holder, crucible = self._scan
        rng = np.random.default_rng(zlib.crc32(crucible.encode()))
        two_theta = np.linspace(settings.two_theta_start_deg, settings.two_theta_end_deg, settings.point_count)
        intensity = 50.0 + 0.2 * (two_theta.max() - two_theta)
        for center in rng.uniform(settings.two_theta_start_deg + 2, settings.two_theta_end_deg - 2, 6):
            intensity += rng.uniform(200, 1000) * np.exp(-0.5 * ((two_theta - center) / 0.08) ** 2)
        return XrdPattern(
            two_theta, intensity, self.wavelength_angstrom, settings, holder_id=holder, instrument=f"mock:{self.name}"
        )

    def abort_scan(self) -> None:
        self.require_connected()
        self._scan = None

    def status(self) -> DeviceStatus:
        if not self._connected:
            return DeviceStatus(self.name, self.kind, False, "disconnected")
        state = self.scan_state()
        values: dict[str, float | str | bool] = {
            "progress": state.progress,
            "loaded_holder": state.loaded_holder,
            "clean_holders": len(self._clean),
        }
        return DeviceStatus(self.name, self.kind, True, "scanning" if state.scanning else "idle", values=values)
