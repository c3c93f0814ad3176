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
from powderlab.core.positions import Position, PositionSpec
from powderlab.core.resources import data_path
from powderlab.core.units import require_int_range, require_name, require_number

STATION_KINDS = ("dosing", "milling", "furnace", "xrd", "transfer")
DEVICE_KINDS = ("balance", "powder_dispenser", "mill", "furnace", "diffractometer", "arm")
# What a lab computer can run besides stations (ADR 0095). `twin` is also the sim clock of a mock lab
# on sim time; `planner` runs inside the autonomy node; `database` is the campaign database's server.
HOST_SERVICES = ("lab_manager", "twin", "autonomy", "planner", "dashboard", "database")
# ROS_AUTOMATIC_DISCOVERY_RANGE values (ROS 2 Jazzy); a site on one computer stays on loopback.
DISCOVERY_RANGES = ("localhost", "subnet", "system_default", "off")


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
class StoredVial:
    """A powder vial in a dosing station's store: its slot, its powder (a formula) and how much is in it."""

    slot: int
    powder: str
    stock_mg: float


@dataclass(frozen=True)
class PowderStore:
    """The rack of powder vials a dispenser's head changer reaches (ADR 0106); empty: no store."""

    slots: int = 0
    vials: tuple[StoredVial, ...] = ()

    @property
    def powders(self) -> tuple[str, ...]:
        """The powders of the store, each once, in slot order."""
        return tuple(dict.fromkeys(vial.powder for vial in self.vials))

    @staticmethod
    def of(device: DeviceConfig) -> PowderStore:
        """The store of a powder dispenser (validated when the profile was read)."""
        return parse_powder_store(device.get("store"), device.name)


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
class HostConfig:
    """One computer of the lab: where it is on the lab network and what it runs."""

    name: str
    address: str = ""  # its address on the lab network (a static peer of the others)
    stations: tuple[str, ...] = ()
    services: tuple[str, ...] = ()
    database_url: str = ""  # with the `database` service: the campaign database the autonomy node uses


@dataclass(frozen=True)
class NetworkConfig:
    """How the lab's computers find each other (DDS discovery)."""

    discovery: str = "localhost"
    static_peers: tuple[str, ...] = ()

    def environment(self) -> dict[str, str]:
        """The ROS 2 discovery variables of every node of this lab (ROS_STATIC_PEERS only when given)."""
        env = {"ROS_AUTOMATIC_DISCOVERY_RANGE": self.discovery.upper()}
        if self.static_peers:
            env["ROS_STATIC_PEERS"] = ";".join(self.static_peers)
        return env


SINGLE_HOST = "localhost"


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
    # The lab's computers; a profile without `hosts:` is one computer (SINGLE_HOST) that runs everything.
    hosts: Mapping[str, HostConfig] = field(default_factory=dict)
    network: NetworkConfig = field(default_factory=NetworkConfig)

    @property
    def multihost(self) -> bool:
        return bool(self.hosts)

    def host(self, name: str) -> HostConfig:
        """A computer of the lab by name (a profile without `hosts:` has one, 'localhost', running all)."""
        if not self.hosts and name == SINGLE_HOST:
            return HostConfig(SINGLE_HOST, "127.0.0.1", tuple(self.stations), HOST_SERVICES)
        try:
            return self.hosts[name]
        except KeyError:
            known = self.hosts or {SINGLE_HOST: None}
            raise UnknownResourceError(f"host of site '{self.name}'", name, known) from None

    def host_of(self, station_or_service: str) -> str:
        """The computer a station or service runs on ('' when the profile places it nowhere)."""
        if not self.hosts:
            return SINGLE_HOST
        for host in self.hosts.values():
            if station_or_service in host.stations or station_or_service in host.services:
                return host.name
        return ""

    def station(self, name: str) -> StationConfig:
        try:
            return self.stations[name]
        except KeyError:
            raise UnknownResourceError("station", name, self.stations) from None

    def stations_of_kind(self, kind: str) -> list[StationConfig]:
        return [station for station in self.stations.values() if station.kind == kind]

    def head_powders(self) -> tuple[str, ...]:
        """The powders on the dosing heads of every dosing station, each once."""
        powders = [
            str(head["powder"])
            for station in self.stations_of_kind("dosing")
            for device in station.devices_of_kind("powder_dispenser")
            for head in device.get("heads", []) or []
        ]
        return tuple(dict.fromkeys(powders))

    def stored_powders(self) -> tuple[str, ...]:
        """The powders of the dosing stations' vial stores that are on no head, each once."""
        on_heads = set(self.head_powders())
        powders = [
            powder
            for station in self.stations_of_kind("dosing")
            for device in station.devices_of_kind("powder_dispenser")
            for powder in PowderStore.of(device).powders
            if powder not in on_heads
        ]
        return tuple(dict.fromkeys(powders))

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
    hosts = _parse_hosts(data.get("hosts"), stations, where)
    profile = SiteProfile(
        name=name,
        description=str(data.get("description", "")),
        stations=stations,
        rack_positions=tuple(rack_positions),
        initial_labware=initial,
        arm_reach=arm_reach,
        path=path,
        raw=data,
        hosts=hosts,
        network=_parse_network(data.get("network"), hosts, where),
    )
    names = [spec.name for spec in profile.positions()]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValidationError(where, f"positions declared twice: {', '.join(duplicates)}")
    return profile


def _parse_hosts(data: Any, stations: Mapping[str, StationConfig], where: str) -> dict[str, HostConfig]:
    """`hosts:` - every station on exactly one computer, each service on at most one."""
    if data is None:
        return {}
    where = f"{where}: hosts"
    if not isinstance(data, Mapping) or not data:
        raise ValidationError(where, "must map each lab computer's name to {address, runs: [stations and services]}")
    hosts: dict[str, HostConfig] = {}
    placed: dict[str, str] = {}
    for host_name, host in data.items():
        here = f"{where}.{host_name}"
        require_name(here, host_name)
        if not isinstance(host, Mapping):
            raise ValidationError(here, "must be a mapping with 'runs' (and 'address')")
        unknown = sorted(set(host) - {"address", "runs", "database_url"})
        if unknown:
            raise ValidationError(here, f"unknown keys {unknown}; allowed: address, runs, database_url")
        runs = host.get("runs") or []
        if not isinstance(runs, list) or not all(isinstance(item, str) for item in runs):
            raise ValidationError(f"{here}.runs", "must be a list of station and service names")
        for item in runs:
            if item not in stations and item not in HOST_SERVICES:
                raise ValidationError(
                    f"{here}.runs",
                    f"'{item}' is neither a station ({', '.join(stations)}) nor a service ({', '.join(HOST_SERVICES)})",
                )
            if item in placed:
                raise ValidationError(f"{here}.runs", f"'{item}' already runs on host '{placed[item]}'")
            placed[item] = str(host_name)
        database_url = str(host.get("database_url") or "")
        if database_url and "database" not in runs:
            raise ValidationError(f"{here}.database_url", "only a host that runs 'database' gives its URL")
        hosts[str(host_name)] = HostConfig(
            str(host_name),
            str(host.get("address") or ""),
            tuple(item for item in runs if item in stations),
            tuple(item for item in runs if item not in stations),
            database_url,
        )
    unplaced = [name for name in stations if name not in placed]
    if unplaced:
        raise ValidationError(where, f"stations on no host: {', '.join(unplaced)}; every station runs on one computer")
    if "lab_manager" not in placed:
        raise ValidationError(where, "no host runs 'lab_manager' (one computer manages every station's lifecycle)")
    if "planner" in placed and placed["planner"] != placed.get("autonomy"):
        raise ValidationError(where, "'planner' runs inside the autonomy node: place it on the host of 'autonomy'")
    return hosts


def _parse_network(data: Any, hosts: Mapping[str, HostConfig], where: str) -> NetworkConfig:
    """`network:` - the discovery range (default: subnet with hosts, else localhost) and static peers."""
    where = f"{where}: network"
    data = data if data is not None else {}
    if not isinstance(data, Mapping):
        raise ValidationError(where, "must be a mapping with 'discovery' and/or 'static_peers'")
    unknown = sorted(set(data) - {"discovery", "static_peers"})
    if unknown:
        raise ValidationError(where, f"unknown keys {unknown}; allowed: discovery, static_peers")
    discovery = str(data.get("discovery", "subnet" if hosts else "localhost")).lower()
    if discovery not in DISCOVERY_RANGES:
        raise ValidationError(
            f"{where}.discovery", f"'{discovery}' is not a discovery range; allowed: {', '.join(DISCOVERY_RANGES)}"
        )
    peers = data.get("static_peers") or []
    if peers == "hosts":  # every computer's address: discovery without multicast
        missing = [h.name for h in hosts.values() if not h.address]
        if missing or not hosts:
            raise ValidationError(f"{where}.static_peers", f"'hosts' needs every host's address; missing: {missing}")
        peers = [h.address for h in hosts.values()]
    if not isinstance(peers, list) or not all(isinstance(p, str) and p for p in peers):
        raise ValidationError(f"{where}.static_peers", "must be a list of addresses or host names, or 'hosts'")
    if len(peers) > 32:  # Fast DDS / ROS 2 accept at most 32 static peers
        raise ValidationError(f"{where}.static_peers", f"{len(peers)} peers; at most 32 are allowed")
    return NetworkConfig(discovery, tuple(peers))


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
            slot_names = (Position.slot(device_name, i).name for i in range(1, slots + 1))
            positions.extend(PositionSpec.parse(slot, "crucible") for slot in slot_names)
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
    if kind == "powder_dispenser":
        _check_heads(data.get("heads"), where)
        parse_powder_store(data.get("store"), where)
    elif "store" in data:
        raise ValidationError(f"{where}.store", f"only a powder_dispenser has a powder store, not a {kind}")
    return DeviceConfig(name, kind, settings, dict(data.get("connection") or {}))


def _powder(where: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or any(c.isspace() for c in value):
        raise ValidationError(where, f"{value!r} is not a powder formula (e.g. Li2CO3)")
    return value


def _check_heads(heads: Any, where: str) -> None:
    """`heads:` of a dispenser - a list of {powder, stock_mg}, each powder on one head."""
    where = f"{where}.heads"
    if heads is None:
        return
    if not isinstance(heads, list):
        raise ValidationError(where, "must be a list of {powder, stock_mg}")
    seen: set[str] = set()
    for i, head in enumerate(heads):
        if not isinstance(head, Mapping):
            raise ValidationError(f"{where}[{i}]", "must be a mapping {powder, stock_mg}")
        powder = _powder(f"{where}[{i}].powder", head.get("powder"))
        if powder in seen:
            raise ValidationError(f"{where}[{i}].powder", f"{powder} is on two heads; a powder has one head")
        seen.add(powder)
        if require_number(f"{where}[{i}].stock_mg", head.get("stock_mg", 0.0)) < 0:
            raise ValidationError(f"{where}[{i}].stock_mg", "must be 0 or more (mg)")


STORE_KEYS = ("slots", "vials")
VIAL_KEYS = ("powder", "stock_mg", "slot")


def parse_powder_store(data: Any, where: str) -> PowderStore:
    """`store:` of a powder dispenser: {slots: N, vials: [{powder, stock_mg, slot?}]} (ADR 0106).

    A vial without `slot` takes the lowest free slot, in the order given; errors name the vial.
    """
    if data is None:
        return PowderStore()
    where = f"{where}.store"
    if not isinstance(data, Mapping):
        raise ValidationError(where, "must be a mapping {slots: N, vials: [{powder, stock_mg, slot}]}")
    unknown = sorted(set(data) - set(STORE_KEYS))
    if unknown:
        raise ValidationError(where, f"unknown keys {unknown}; allowed: {', '.join(STORE_KEYS)}")
    slots = require_int_range(f"{where}.slots", data.get("slots"), 1, 1000)
    vials = data.get("vials") or []
    if not isinstance(vials, list):
        raise ValidationError(f"{where}.vials", "must be a list of {powder, stock_mg, slot}")
    if len(vials) > slots:
        raise ValidationError(f"{where}.vials", f"{len(vials)} vials do not fit in {slots} slots")
    taken: dict[int, int] = {}
    parsed: list[tuple[int | None, str, float]] = []
    for i, vial in enumerate(vials):
        here = f"{where}.vials[{i}]"
        if not isinstance(vial, Mapping):
            raise ValidationError(here, "must be a mapping {powder, stock_mg, slot}")
        unknown = sorted(set(vial) - set(VIAL_KEYS))
        if unknown:
            raise ValidationError(here, f"unknown keys {unknown}; allowed: {', '.join(VIAL_KEYS)}")
        powder = _powder(f"{here}.powder", vial.get("powder"))
        if "stock_mg" not in vial:
            raise ValidationError(f"{here}.stock_mg", "is missing: how many mg of powder the vial holds")
        stock = require_number(f"{here}.stock_mg", vial["stock_mg"])
        if stock < 0:
            raise ValidationError(f"{here}.stock_mg", f"{stock} mg; must be 0 or more")
        slot = None
        if vial.get("slot") is not None:
            slot = require_int_range(f"{here}.slot", vial["slot"], 1, slots)
            if slot in taken:
                raise ValidationError(f"{here}.slot", f"slot {slot} already holds vials[{taken[slot]}]")
            taken[slot] = i
        parsed.append((slot, powder, stock))
    free = (n for n in range(1, slots + 1) if n not in taken)
    placed = [StoredVial(slot if slot is not None else next(free), powder, stock) for slot, powder, stock in parsed]
    return PowderStore(slots, tuple(sorted(placed, key=lambda vial: vial.slot)))


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
