"""The sim backend: every device contract, driven by the digital twin in its own process.

Drivers import no simulator and no ROS: they talk to the twin (powderlab.twin.server, run by the
twin node of `powderlab up --backend sim`) over a local Unix socket (ADR 0020). options:
{"twin_address": "/path/to.sock"} (default: powderlab.drivers.sim.link.default_address()).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from powderlab.core.clock import Clock
from powderlab.core.site import StationConfig
from powderlab.drivers.base import Device
from powderlab.drivers.sim.devices import SIM_CLASSES
from powderlab.drivers.sim.link import TwinLink, default_address

__all__ = ["SIM_CLASSES", "TwinLink", "build_devices", "default_address"]


def build_devices(station: StationConfig, clock: Clock, options: Mapping[str, Any] | None = None) -> dict[str, Device]:
    """Sim drivers for a station's devices (not yet connected); one link per station."""
    options = options or {}
    link = TwinLink(options.get("twin_address") or None, float(options.get("twin_connect_timeout_s", 30.0)))
    return {name: SIM_CLASSES[cfg.kind](cfg, clock, link) for name, cfg in station.devices.items()}  # type: ignore[call-arg]
