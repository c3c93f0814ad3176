"""The diffractometer in the twin: preparation, sample changer and patterns of what is on the holder.

The pattern is simulated (powderlab.chemistry.xrd.simulate) from the holder's true phases, which
come from the crucible that physically stood at the recovery position when it was prepared; the
instrument adds broadening, background and counting noise. Nothing else reaches the pattern.
"""

from __future__ import annotations

import zlib

import numpy as np

from powderlab.core.errors import DeviceError
from powderlab.core.recipes import ScanSettings
from powderlab.core.xrd import XrdPattern
from powderlab.drivers.base import DeviceStatus
from powderlab.drivers.diffractometer import Diffractometer, PreparedHolder, ScanState
from powderlab.twin.devices.base import TwinDevice
from powderlab.twin.items import Item, SampleTruth

RECOVERY = "xrd/recovery"
HOLDER_CAPACITY_MG = 80.0


class TwinDiffractometer(TwinDevice, Diffractometer):
    """Holders are bodies of the scene (holder_01..N in the magazine)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._prepared: set[str] = set()
        self._loaded = ""
        self._scan: tuple[ScanSettings, float, str] | None = None
        self._scans = 0
        xrd = self.world.scene.body("xrd")
        self.beam = xrd.placement.apply(xrd.extra.get("beam", (0.0, 0.22, 0.2)))

    def _holders(self) -> list[Item]:
        return sorted((i for i in self.world.items.values() if i.kind == "xrd_holder"), key=lambda i: i.labware_id)

    def _move_holder(self, holder: Item, point: np.ndarray) -> None:
        self.world.client.resetBasePositionAndOrientation(holder.body, point.tolist(), [0, 0, 0, 1])

    def prepare(self, crucible_id: str, grind_s: float) -> PreparedHolder:
        with self.world.lock:
            crucible = self.world.item_at(RECOVERY)
            if crucible is None:
                raise DeviceError(
                    self.name, f"no crucible at the recovery position ({RECOVERY}); bring the sample first"
                )
            clean = [h for h in self._holders() if h.labware_id not in self._prepared and h.labware_id != self._loaded]
            if not clean:
                raise DeviceError(self.name, "no clean XRD holder left in the magazine; unload and clean holders")
        self.clock.sleep(grind_s)
        with self.world.lock:
            holder = clean[0]
            phases, amorphous = self.world.chemistry.phases_of(crucible)
            total = sum(phases.values()) + amorphous
            share = min(1.0, HOLDER_CAPACITY_MG / total) if total > 0 else 0.0
            holder.truth = SampleTruth(
                phases_mg={p: m * share for p, m in phases.items()}, amorphous_mg=amorphous * share
            )
            self._prepared.add(holder.labware_id)
            return PreparedHolder(holder.labware_id, round(total * share, 3))

    def load(self, holder_id: str) -> None:
        with self.world.lock:
            if self._loaded == holder_id:
                return
            if holder_id not in self._prepared:
                raise DeviceError(
                    self.name, f"holder '{holder_id}' is not prepared; prepared: {sorted(self._prepared)}"
                )
            if self._loaded:
                raise DeviceError(self.name, f"holder '{self._loaded}' is still loaded; unload it first")
            self._move_holder(self.world.items[holder_id], self.beam)
            self._loaded = holder_id

    def unload(self) -> None:
        with self.world.lock:
            if self._scanning():
                raise DeviceError(self.name, "a scan is running; abort it before unloading")
            if self._loaded:
                holder = self.world.items[self._loaded]
                holder.truth = SampleTruth()  # cleaned and back in the magazine
                self._move_holder(holder, self.world.holder_slots[holder.labware_id])
                self._prepared.discard(self._loaded)
                self._loaded = ""

    def _scanning(self) -> bool:
        return self._scan is not None and self.world.time - self._scan[1] < self._scan[0].scan_time_s

    def start_scan(self, settings: ScanSettings) -> None:
        self.check_scan(settings)
        with self.world.lock:
            if not self._loaded:
                raise DeviceError(self.name, "no holder loaded; load a prepared holder first")
            self._scan = (settings, self.world.time, self._loaded)
            self._scans += 1

    def scan_state(self) -> ScanState:
        if self._scan is None:
            return ScanState(False, 0.0, self._loaded)
        settings, started, _ = self._scan
        progress = min(1.0, (self.world.time - started) / settings.scan_time_s)
        return ScanState(progress < 1.0, progress, self._loaded)

    def result(self) -> XrdPattern:
        if self._scan is None or self.scan_state().scanning:
            raise DeviceError(self.name, "no finished scan; start a scan and wait for it to finish")
        settings, _, holder_id = self._scan
        truth = self.world.items[holder_id].truth
        seed = (self.world.seed * 1_000_003 + zlib.crc32(holder_id.encode()) + self._scans) % (2**32)
        pattern = self.world.chemistry.pattern(truth, settings, seed)
        return XrdPattern(
            pattern.two_theta_deg,
            pattern.intensity,
            self.wavelength_angstrom,
            settings,
            holder_id=holder_id,
            instrument=f"twin:{self.name}",
        )

    def abort_scan(self) -> None:
        self._scan = None

    def safe_stop(self) -> None:
        self._scan = None

    def status(self) -> DeviceStatus:
        state = self.scan_state()
        values: dict[str, float | str | bool] = {"progress": state.progress, "loaded_holder": state.loaded_holder}
        return DeviceStatus(self.name, self.kind, True, "scanning" if state.scanning else "idle", values=values)
