"""The one description of a lab's nodes, read by launch/lab.launch.py and by `powderlab up`.

A manifest says which nodes run, in which namespace, with which executable and parameters.
Stations come from the site profile; the backend can be set for the whole lab and overridden per
station (like the UR driver's use_mock_hardware switch: nothing else changes).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from powderlab.core.errors import UnknownResourceError, ValidationError
from powderlab.core.resources import data_path
from powderlab.core.site import SINGLE_HOST, SiteProfile

BACKENDS = ("mock", "sim", "real")
PACKAGE = "powderlab"


@dataclass(frozen=True)
class NodeSpec:
    """One node of the lab."""

    name: str
    executable: str  # console script installed in lib/powderlab (ros2 launch / ros2 run)
    module: str  # python -m <module> (powderlab up)
    namespace: str = ""
    parameters: Mapping[str, Any] = field(default_factory=dict)
    lifecycle: bool = False

    @property
    def full_name(self) -> str:
        namespace = "/" + self.namespace.strip("/") if self.namespace.strip("/") else ""
        return f"{namespace}/{self.name}"


@dataclass(frozen=True)
class LabManifest:
    """Every node of one lab and the files that parameterise them."""

    nodes: tuple[NodeSpec, ...]
    params_file: Path
    site: SiteProfile
    backend: str
    namespace: str = ""
    use_sim_time: bool = False
    # The computer this manifest is the share of ('' = the whole lab on this machine) and the discovery
    # variables its nodes need (empty: the caller's environment, loopback by default).
    host: str = ""
    environment: Mapping[str, str] = field(default_factory=dict)
    lab_stations: tuple[str, ...] = ()  # every station of the lab, on whichever computer

    @property
    def stations(self) -> list[NodeSpec]:
        return [node for node in self.nodes if node.lifecycle]

    @property
    def manages_lab(self) -> bool:
        """This share runs the lab manager (stops the lab on exit); other shares stop only their stations."""
        return any(node.name == "lab_manager" for node in self.nodes)

    def node(self, name: str) -> NodeSpec:
        for node in self.nodes:
            if node.name == name:
                return node
        raise UnknownResourceError("node", name, [n.name for n in self.nodes])

    def overrides_yaml(self) -> str:
        """The manifest's per-node parameters as a ROS params file (applied after params_file)."""
        document = {node.full_name: {"ros__parameters": dict(node.parameters)} for node in self.nodes}
        return yaml.safe_dump(document, sort_keys=False)


def build_manifest(
    backend: str = "mock",
    site: str | Path = "default",
    params_file: str | Path | None = None,
    namespace: str = "",
    use_sim_time: bool = False,
    station_backends: Mapping[str, str] | None = None,
    backend_options: str = "{}",
    time_factor: float = 0.0,
    autostart: bool = True,
    state_dir: str | Path | None = None,
    autonomy: Mapping[str, Any] | bool | None = None,
    dashboard: Mapping[str, Any] | None = None,
    host: str | None = None,
) -> LabManifest:
    """Build the lab's manifest. time_factor > 0 adds a sim_clock node (and implies use_sim_time).

    state_dir: where the transfer station keeps the cell's positions across restarts
    (None: in memory only, every start from the site profile's initial labware).
    autonomy: add the autonomy node (True, or its parameters, e.g. {"database": ...}).
    dashboard: None for no dashboard; else the dashboard node's parameters (e.g. {"port": 8080},
    see powderlab.dashboard.server.PARAMETERS; the rest come from the params file).
    host: only the nodes the site profile places on this computer (`hosts:`, ADR 0095), with the site's
    discovery settings; None: every node on this machine. On a site with several hosts a node that is
    not on the time server's computer follows /clock instead (lockstep goes through a Unix socket).
    """
    if backend not in BACKENDS:
        raise ValidationError("backend", f"'{backend}' is not a backend; allowed: {', '.join(BACKENDS)}")
    profile = SiteProfile.load(site)
    station_backends = dict(station_backends or {})
    for station, station_backend in station_backends.items():
        profile.station(station)
        if station_backend not in BACKENDS:
            raise ValidationError(
                f"{station} backend", f"'{station_backend}' is not a backend; allowed: {', '.join(BACKENDS)}"
            )
    params = Path(params_file) if params_file else data_path("launch", "powderlab.yaml")
    if not params.is_file():
        raise ValidationError("params_file", f"no such file: {params}")
    if time_factor < 0:
        raise ValidationError("time_factor", f"{time_factor} must be 0 (wall time) or positive")
    # Stations on the twin (sim backend) need it running and follow its /clock (ADR 0020).
    uses_twin = any(station_backends.get(name, backend) == "sim" for name in profile.stations)
    use_sim_time = use_sim_time or time_factor > 0 or uses_twin
    site_arg = str(profile.path) if profile.path else str(site)
    # On sim time, stations and the campaign engine wait through one time server, in lockstep (ADR 0082):
    # the twin, or the sim_clock node of a lab without one.
    time_server = _twin_address(backend_options) if uses_twin else ("default" if time_factor > 0 else "")
    placement = _placement(profile, host)
    clock_host = placement("twin")
    if uses_twin:
        for name in profile.stations:
            if station_backends.get(name, backend) == "sim" and placement(name) != clock_host:
                raise ValidationError(
                    f"station '{name}'",
                    f"runs on host '{placement(name)}' but its sim drivers reach the twin through a Unix socket on "
                    f"host '{clock_host}': place it there or give it another backend (--station-backend)",
                )

    # The engine holds a lease for each goal until its station takes it over, which a station away from
    # the time server cannot: the engine is in lockstep only when every station is beside the clock.
    everything_beside_clock = all(placement(name) == clock_host for name in profile.stations)

    def server_for(node: str) -> str:
        if node == "autonomy" and not everything_beside_clock:
            return ""
        return time_server if placement(node) == clock_host else ""

    # The transfer station owns the positions and the arms: it starts first.
    ordered = sorted(profile.stations.values(), key=lambda s: (s.kind != "transfer", s.name))
    transfer = next((s.name for s in ordered if s.kind == "transfer"), "transfer")
    nodes: list[NodeSpec] = []
    for station in ordered:
        station_backend = station_backends.get(station.name, backend)
        if station_backend == "real":
            _require_real_endpoints(profile, station.name)
        parameters: dict[str, Any] = {
            "site": site_arg,
            "station": station.name,
            "backend": station_backend,
            "backend_options": backend_options,
            "transfer_node": transfer,
            # with a time server the station takes sim time from it and needs no /clock (nor its wake-ups)
            "use_sim_time": use_sim_time and not server_for(station.name),
            "time_server": server_for(station.name),
        }
        if station.kind == "transfer" and state_dir is not None:
            parameters["state_file"] = str(Path(state_dir) / f"{station.name}-positions.json")
        nodes.append(
            NodeSpec(
                station.name, "station_node", "powderlab.nodes.station_node", namespace, parameters, lifecycle=True
            )
        )
    if uses_twin:
        from powderlab.twin.options import twin_parameters

        twin = twin_parameters(backend_options, time_factor, site_arg)
        if autonomy and server_for("autonomy"):  # a campaign's lab time starts with its first work
            twin["hold_until_work"] = True
        nodes.insert(0, NodeSpec("twin", "twin_node", "powderlab.nodes.twin_node", namespace, twin))
    elif time_factor > 0:
        nodes.append(
            NodeSpec(
                "sim_clock",
                "sim_clock",
                "powderlab.nodes.sim_clock",
                namespace,
                {"time_factor": time_factor, "hold_until_work": bool(autonomy) and bool(server_for("autonomy"))},
            )
        )
    nodes.append(
        NodeSpec(
            "lab_manager",
            "lab_manager",
            "powderlab.nodes.lab_manager",
            namespace,
            # lifecycle and health are a wall-time job (and /clock's wake-ups cost an idle lab CPU)
            {"managed_nodes": [s.name for s in ordered], "autostart": autostart, "use_sim_time": False},
        )
    )
    if autonomy:
        extra = dict(autonomy) if isinstance(autonomy, Mapping) else {}
        parameters = {"site": site_arg, "transfer_node": transfer, "use_sim_time": use_sim_time, **extra}
        if server_for("autonomy"):
            parameters.setdefault("time_server", server_for("autonomy"))
        database_host = placement("database")
        if "database" not in parameters and profile.multihost and profile.host(database_host).database_url:
            parameters["database"] = profile.host(database_host).database_url
        if state_dir is not None and "database" not in extra:
            parameters["database"] = str(Path(state_dir) / "autonomy.sqlite")
        nodes.append(NodeSpec("autonomy", "autonomy_node", "powderlab.nodes.autonomy_node", namespace, parameters))
    if dashboard is not None:
        nodes.append(
            NodeSpec(
                "dashboard",
                "dashboard",
                "powderlab.dashboard.server",
                namespace,
                {
                    "stations": [s.name for s in ordered],
                    "use_sim_time": use_sim_time,
                    **_claims_store(nodes, dashboard),
                    **dashboard,
                },
            )
        )
    lab_stations = tuple(s.name for s in ordered)
    if host is None:
        return LabManifest(tuple(nodes), params, profile, backend, namespace, use_sim_time, lab_stations=lab_stations)
    share = tuple(node for node in nodes if placement(_placed_as(node)) == host)
    environment = profile.network.environment() if profile.multihost else {}
    return LabManifest(share, params, profile, backend, namespace, use_sim_time, host, environment, lab_stations)


def _placed_as(node: NodeSpec) -> str:
    """The station or service name a node is placed by in a site's `hosts:`."""
    return "twin" if node.name == "sim_clock" else node.name


def _placement(profile: SiteProfile, host: str | None) -> Callable[[str], str]:
    """station or service -> its computer; services a profile places nowhere go with the lab manager."""
    if host is not None:
        profile.host(host)  # an unknown host is refused, naming the site's hosts
    manager_host = profile.host_of("lab_manager")

    def place(name: str) -> str:
        return (profile.host_of(name) or manager_host) if profile.multihost else SINGLE_HOST

    return place


def _twin_address(backend_options: str) -> str:
    """The twin's socket named in backend_options, or 'default' (the ROS domain's)."""
    from powderlab.twin.options import twin_parameters

    return str(twin_parameters(backend_options, 0.0, "").get("address") or "default")


def _require_real_endpoints(profile: SiteProfile, station: str) -> None:
    """Real hardware never starts by accident: every device needs an explicit connection."""
    missing = [d.name for d in profile.station(station).devices.values() if not d.connection]
    if missing:
        raise ValidationError(
            f"site '{profile.name}'",
            f"station '{station}' has no connection for {', '.join(missing)}; backend 'real' needs every device's "
            "endpoint in the site profile (see hardware/README.md)",
        )


def _claims_store(nodes: list[NodeSpec], dashboard: Mapping[str, Any]) -> dict[str, str]:
    """The dashboard shows the claims of the autonomy node's campaign store (ADR 0098)."""
    autonomy = next((n for n in nodes if n.name == "autonomy"), None)
    if autonomy is None or "campaign_database" in dashboard:
        return {}
    return {"campaign_database": str(autonomy.parameters.get("database", "~/.ros/powderlab/autonomy.sqlite"))}
