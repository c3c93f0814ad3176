"""Build a station of any kind from the site profile, on any backend."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from powderlab.core.clock import Clock
from powderlab.core.site import SiteProfile
from powderlab.drivers.registry import build_devices
from powderlab.stations.base import Cell, Station
from powderlab.stations.dosing import DosingStation
from powderlab.stations.furnace import FurnaceStation
from powderlab.stations.milling import MillingStation
from powderlab.stations.transfer import TransferStation
from powderlab.stations.xrd import XrdStation

STATION_CLASSES: dict[str, type[Station]] = {
    "dosing": DosingStation,
    "milling": MillingStation,
    "furnace": FurnaceStation,
    "xrd": XrdStation,
    "transfer": TransferStation,
}


def build_station(
    site: SiteProfile,
    name: str,
    backend: str,
    clock: Clock,
    parameters: Mapping[str, Any] | None = None,
    cell: Cell | None = None,
    backend_options: Mapping[str, Any] | None = None,
) -> Station:
    """A station with its devices built (not yet connected)."""
    config = site.station(name)
    devices = build_devices(config, backend, clock, backend_options)
    station_class = STATION_CLASSES[config.kind]
    if station_class is TransferStation:
        return TransferStation(config, devices, clock, parameters, site=site)
    return station_class(config, devices, clock, parameters, cell)
