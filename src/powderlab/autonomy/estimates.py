"""Operation durations as the stations estimate them, without a connection to the lab.

The ROS path has no estimate service: the autonomy node builds the stations' logic itself (mock
devices, never connected) with the same site profile and parameters file as the station nodes,
and asks each station's estimate_s.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from powderlab.autonomy.state import OpRecord
from powderlab.core.clock import VirtualClock
from powderlab.core.site import SiteProfile
from powderlab.stations.base import Station
from powderlab.stations.factory import STATION_CLASSES, build_station
from powderlab.stations.operations import operation


def station_parameters(params_file: str | Path | None, station: str, kind: str) -> dict[str, Any]:
    """The station's parameters from a ROS params file (`/**/<name>` or `<name>` keys)."""
    if not params_file or not Path(params_file).is_file():
        return {}
    data = yaml.safe_load(Path(params_file).read_text()) or {}
    allowed = STATION_CLASSES[kind].default_parameters
    found: dict[str, Any] = {}
    for key in (f"/**/{station}", station, f"/{station}"):
        found.update((data.get(key) or {}).get("ros__parameters") or {})
    return {k: v for k, v in found.items() if k in allowed}


class StationEstimator:
    """estimate_s of every station of a site, from their own code."""

    def __init__(self, site: SiteProfile, params_file: str | Path | None = None) -> None:
        clock = VirtualClock()
        self.stations: dict[str, Station] = {}
        for name, config in site.stations.items():
            parameters = station_parameters(params_file, name, config.kind)
            self.stations[name] = build_station(site, name, "mock", clock, parameters)

    def estimate_s(self, op: OpRecord) -> float:
        station = self.stations.get(op.station)
        if station is None:
            return 0.0
        try:
            return float(station.estimate_s(op.action, operation(op.action).request_from_data(op.goal)))
        except Exception:
            return 0.0
