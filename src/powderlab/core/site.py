"""Site profiles: what a lab cell is made of (stations, devices, positions, labware, limits).

A profile is a YAML file in hardware/ (see hardware/default.yaml for the annotated reference).
Everything a station needs to know about its hardware comes from here, not from code; the
behaviour knobs (tolerances, timeouts) come from the ROS params file in launch/.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from powderlab.core.errors import UnknownResourceError, ValidationError
from powderlab.core.labware import Labware, LabwareKind, parse_labware_kind
from powderlab.core.positions import PositionSpec
from powderlab.core.resources import data_path
from powderlab.core.units import require_int_range, require_name

STATION_KINDS = ("dosing", "milling", "furnace", "xrd", "transfer")
DEVICE_KINDS = ("balance", "powder_dispenser", "mill", "furnace", "diffractometer", "arm")


@dataclass(frozen=True)
class DeviceConfig:
    """One device of a station: its contract kind, limits/settings, and how to reach it."""

    name: str
    kind: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    connection: Mapping[str, Any] = field(default_factory=dict)

    def get(self, key: str, default: Any = None) -> Any:
        return self.settings.get(key, default)


@dataclass(frozen=True)
class StationConfig:
    """A station: its devices, its own positions and station-level settings."""

    name: str
    kind: str
    devices: Mapping[str, DeviceConfig]
    positions: tuple[PositionSpec, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)

    def device(self, name: str) -> DeviceConfig:
        try:
            return self.devices[name]
        except KeyError:
            raise UnknownResourceError(f"device of station '{self.name}'", name, self.devices) from None

    def devices_of_kind(self, kind: str) -> list[DeviceConfig]:
        return [device for device in self.devices.values() if device.kind == kind]


@dataclass(frozen=True)
class SiteProfile:
    """A whole cell."""

    name: str
    description: str
    stations: Mapping[str, StationConfig]
    rack_positions: tuple[PositionSpec, ...]
    initial_labware: Mapping[str, Labware]  # position -> labware standing there at start
    arm_reach: Mapping[str, tuple[str, ...]]  # arm -> position patterns it serves
    path: Path | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)

    def station(self, name: str) -> StationConfig:
        try:
            return self.stations[name]
        except KeyError:
            raise UnknownResourceError("station", name, self.stations) from None

    def stations_of_kind(self, kind: str) -> list[StationConfig]:
        return [station for station in self.stations.values() if station.kind == kind]

    def positions(self) -> list[PositionSpec]:
        """Every position of the cell: the racks' and the stations'."""
        specs = list(self.rack_positions)
        for station in self.stations.values():
            specs.extend(station.positions)
        return specs

    def arms_serving(self, position: str) -> list[str]:
        """The arms that can reach a position."""
        return [
            arm for arm, patterns in self.arm_reach.items() if any(fnmatch.fnmatchcase(position, p) for p in patterns)
        ]

    @staticmethod
    def load(name_or_path: str | Path) -> SiteProfile:
        """A profile by name (hardware/<name>.yaml) or by path."""
        path = Path(name_or_path)
        if path.suffix not in (".yaml", ".yml"):
            path = data_path("hardware", f"{name_or_path}.yaml")
            if not path.is_file():
                known = sorted(p.stem for p in path.parent.glob("*.yaml"))
                raise UnknownResourceError("site profile", str(name_or_path), known)
        if not path.is_file():
            raise ValidationError("site", f"no site profile file at {path}")
        try:
            data = yaml.safe_load(path.read_text())
        except yaml.YAMLError as error:
            raise ValidationError(str(path), f"is not valid YAML: {error}") from None
        return parse_site(data, path)


def parse_site(data: Any, path: Path | None = None) -> SiteProfile:
    """Build a SiteProfile from plain data; errors name the offending key."""
    where = str(path) if path else "site profile"
    if not isinstance(data, Mapping):
        raise ValidationError(where, "must be a mapping with 'name' and 'stations'")
    name = require_name(f"{where}: name", data.get("name"))
    stations: dict[str, StationConfig] = {}
    for station_name, station_data in _mapping(data, "stations", where).items():
        stations[station_name] = _parse_station(station_name, station_data, where)
    rack_positions: list[PositionSpec] = []
    initial: dict[str, Labware] = {}
    for rack_name, rack in _mapping(data, "racks", where, required=False).items():
        specs = _rack_positions(rack_name, rack, where)
        rack_positions.extend(specs)
        initial.update(_rack_labware(rack_name, rack, specs, where))
    arm_reach = {
        device.name: tuple(device.get("serves", ()))
        for station in stations.values()
        for device in station.devices.values()
        if device.kind == "arm"
    }
    profile = SiteProfile(
        name=name,
        description=str(data.get("description", "")),
        stations=stations,
        rack_positions=tuple(rack_positions),
        initial_labware=initial,
        arm_reach=arm_reach,
        path=path,
        raw=data,
    )
    names = [spec.name for spec in profile.positions()]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValidationError(where, f"positions declared twice: {', '.join(duplicates)}")
    return profile


def _mapping(data: Mapping[str, Any], key: str, where: str, required: bool = True) -> Mapping[str, Any]:
    value = data.get(key)
    if value is None and not required:
        return {}
    if not isinstance(value, Mapping):
        raise ValidationError(f"{where}: {key}", "must be a mapping")
    return value


def _parse_station(name: str, data: Any, where: str) -> StationConfig:
    where = f"{where}: stations.{name}"
    if not isinstance(data, Mapping):
        raise ValidationError(where, "must be a mapping with 'kind' and 'devices'")
    kind = data.get("kind")
    if kind not in STATION_KINDS:
        raise ValidationError(f"{where}.kind", f"'{kind}' is not a station kind; allowed: {', '.join(STATION_KINDS)}")
    devices: dict[str, DeviceConfig] = {}
    positions: list[PositionSpec] = []
    for device_name, device_data in _mapping(data, "devices", where).items():
        device = _parse_device(device_name, device_data, f"{where}.devices")
        devices[device_name] = device
        if device.kind == "furnace":
            slots = require_int_range(f"{where}.devices.{device_name}.slots", device.get("slots", 8), 1, 64)
            positions.extend(PositionSpec.parse(f"{device_name}/slot_{i}", "crucible") for i in range(1, slots + 1))
    for position_name, accepts in (data.get("positions") or {}).items():
        positions.append(PositionSpec.parse(f"{name}/{position_name}", accepts))
    settings = {k: v for k, v in data.items() if k not in ("kind", "devices", "positions")}
    return StationConfig(name, kind, devices, tuple(positions), settings)


def _parse_device(name: str, data: Any, where: str) -> DeviceConfig:
    where = f"{where}.{name}"
    if not isinstance(data, Mapping):
        raise ValidationError(where, "must be a mapping with 'kind'")
    kind = data.get("kind")
    if kind not in DEVICE_KINDS:
        raise ValidationError(f"{where}.kind", f"'{kind}' is not a device kind; allowed: {', '.join(DEVICE_KINDS)}")
    settings = {k: v for k, v in data.items() if k not in ("kind", "connection")}
    return DeviceConfig(name, kind, settings, dict(data.get("connection") or {}))


def _rack_positions(name: str, rack: Any, where: str) -> list[PositionSpec]:
    where = f"{where}: racks.{name}"
    if not isinstance(rack, Mapping):
        raise ValidationError(where, "must be a mapping with 'slots' and 'accepts'")
    slots = require_int_range(f"{where}.slots", rack.get("slots"), 1, 1000)
    return [PositionSpec.parse(f"{name}/{i}", rack.get("accepts", "any")) for i in range(1, slots + 1)]


def _rack_labware(name: str, rack: Mapping[str, Any], specs: list[PositionSpec], where: str) -> dict[str, Labware]:
    fill = rack.get("labware")
    if not fill:
        return {}
    where = f"{where}: racks.{name}.labware"
    kind = parse_labware_kind(fill.get("kind", LabwareKind.CRUCIBLE))
    count = require_int_range(f"{where}.count", fill.get("count", len(specs)), 0, len(specs))
    prefix = fill.get("prefix", f"{kind.value}_")
    return {specs[i].name: Labware(f"{prefix}{i + 1:02d}", kind) for i in range(count)}
