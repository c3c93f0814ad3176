"""Diffractometer over its OPC UA instrument server (see emulators.xrd_server for the layout)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from asyncua import ua

from powderlab.core.clock import Clock
from powderlab.core.recipes import ScanSettings
from powderlab.core.site import DeviceConfig
from powderlab.core.xrd import XrdPattern
from powderlab.drivers.base import DeviceStatus
from powderlab.drivers.diffractometer import Diffractometer, PreparedHolder, ScanState
from powderlab.drivers.real.commands import DONE, FAILED, error_from_code
from powderlab.drivers.real.opcua_link import OpcUaLink
from powderlab.drivers.real.opcua_settings import opcua_settings


class OpcUaDiffractometer(Diffractometer):
    """Prepare / load / scan / unload as OPC UA methods; scan progress through the subscription."""

    def __init__(self, config: DeviceConfig, clock: Clock | None = None, base_dir: Path | None = None) -> None:
        super().__init__(config, clock)
        self.node = str(config.connection.get("node", self.name))
        n = self.node
        self.k = {
            key: f"{n}.{key}"
            for key in (
                "Scanning",
                "Progress",
                "LoadedHolder",
                "CleanHolders",
                "PreparedHolder",
                "PreparedMassMg",
                "CommandStatus",
                "CommandMessage",
            )
        }
        self.link = OpcUaLink(self.name, opcua_settings(self.name, config.connection, base_dir), list(self.k.values()))
        self.prepare_timeout_s = float(config.connection.get("prepare_timeout_s", 600.0))
        self._settings: ScanSettings | None = None

    def connect(self) -> None:
        self.link.connect()

    def disconnect(self) -> None:
        self.link.disconnect()

    @property
    def connected(self) -> bool:
        return self.link.connected

    def _call(self, method: str, *args: ua.Variant) -> None:
        self.require_connected()
        code, message = self.link.call(self.node, f"{self.node}.{method}", *args)
        if int(code):
            raise error_from_code(self.name, int(code), str(message))

    def prepare(self, crucible_id: str, grind_s: float) -> PreparedHolder:
        self.require_connected()
        (command_id,) = self.link.call(
            self.node,
            f"{self.node}.Prepare",
            ua.Variant(crucible_id, ua.VariantType.String),
            ua.Variant(float(grind_s), ua.VariantType.Double),
        )

        def ended() -> bool:
            status = self.link.cached(self.k["CommandStatus"]) or [0, 0, 0]
            return int(status[0]) == int(command_id) and int(status[1]) in (DONE, FAILED)

        self.link.wait_for(ended, grind_s + self.prepare_timeout_s, self.clock, f"preparing {crucible_id}")
        _, state, code = self.link.cached(self.k["CommandStatus"])
        holder, mass, message = self.link.read(
            [self.k["PreparedHolder"], self.k["PreparedMassMg"], self.k["CommandMessage"]]
        )
        if int(state) == FAILED:
            raise error_from_code(self.name, int(code), str(message))
        return PreparedHolder(str(holder), float(mass))

    def _wait_scan(self, scanning: bool, loaded: str | None = None) -> None:
        def reached() -> bool:
            ok = bool(self.link.cached(self.k["Scanning"])) == scanning
            return ok and (loaded is None or self.link.cached(self.k["LoadedHolder"]) == loaded)

        self.link.wait_for(reached, 10.0, self.clock, "the instrument's state")

    def load(self, holder_id: str) -> None:
        self._call("Load", ua.Variant(holder_id, ua.VariantType.String))
        self._wait_scan(False, holder_id)

    def unload(self) -> None:
        self._call("Unload")
        self._wait_scan(False, "")

    def start_scan(self, settings: ScanSettings) -> None:
        self.check_scan(settings)
        values = (settings.two_theta_start_deg, settings.two_theta_end_deg, settings.step_deg, settings.scan_time_s)
        self._call("StartScan", *[ua.Variant(float(v), ua.VariantType.Double) for v in values])
        self._settings = settings
        self._wait_scan(True)

    def scan_state(self) -> ScanState:
        self.require_connected()
        return ScanState(
            bool(self.link.value(self.k["Scanning"])),
            float(self.link.value(self.k["Progress"])),
            str(self.link.value(self.k["LoadedHolder"])),
        )

    def result(self) -> XrdPattern:
        self.require_connected()
        code, message, two_theta, intensity, holder = self.link.call(self.node, f"{self.node}.GetResult")
        if int(code):
            raise error_from_code(self.name, int(code), str(message))
        angles = np.asarray(two_theta, dtype=float)
        settings = self._settings
        return XrdPattern(
            angles,
            np.asarray(intensity, dtype=float),
            self.wavelength_angstrom,
            settings,
            holder_id=str(holder),
            instrument=f"opcua:{self.name}",
        )

    def abort_scan(self) -> None:
        self._call("AbortScan")
        self._wait_scan(False)

    def safe_stop(self) -> None:
        if self.connected:
            self.abort_scan()

    def status(self) -> DeviceStatus:
        if not self.connected:
            return DeviceStatus(self.name, self.kind, False, "disconnected", fault=self.link.last_error)
        values: dict[str, float | str | bool] = {
            "progress": float(self.link.cached(self.k["Progress"], 0.0)),
            "loaded_holder": str(self.link.cached(self.k["LoadedHolder"], "")),
            "clean_holders": float(self.link.cached(self.k["CleanHolders"], 0)),
        }
        state = "scanning" if self.link.cached(self.k["Scanning"]) else "idle"
        return DeviceStatus(self.name, self.kind, True, state, values=values)
