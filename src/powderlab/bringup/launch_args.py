"""The launch arguments of launch/lab.launch.py and how they become a LabManifest.

Kept here (not in the launch file) so tests cover it: no `launch` package can be installed on
machines without a full ROS 2 install, and lab.launch.py only glues these to launch_ros.
"""

from __future__ import annotations

from collections.abc import Mapping

from powderlab.bringup.manifest import LabManifest, build_manifest
from powderlab.core.errors import ValidationError

# (name, default, description); real endpoints have no defaults: they live in site profiles.
LAUNCH_ARGUMENTS: tuple[tuple[str, str, str], ...] = (
    ("backend", "mock", "device backend of every station: mock (no hardware), sim (the twin) or real"),
    (
        "site",
        "default",
        "site profile: a name in share/powderlab/hardware or a path to a YAML file; "
        "backend:=real needs a site whose devices all have endpoints",
    ),
    (
        "host",
        "",
        "this computer's name in the site profile's hosts: start only what the site places on it, with the site's "
        "discovery settings (empty: every node on this machine, on loopback)",
    ),
    ("station_backends", "", "per-station backend overrides, e.g. 'dosing=real,milling=mock'"),
    ("params_file", "", "ROS params file keyed by node name (empty: share/powderlab/launch/powderlab.yaml)"),
    ("namespace", "", "namespace of every node of this lab"),
    (
        "use_sim_time",
        "false",
        "every node follows /clock; implied by backend:=sim (the twin publishes it) and by time_factor > 0 "
        "(sim_clock publishes it)",
    ),
    (
        "time_factor",
        "0",
        "sim seconds per wall second. backend:=mock: a sim_clock node publishes /clock this many times faster "
        "than real time (0: no sim_clock, wall time); backend:=sim: paces the twin (0: real time, like 1); "
        "keep 0 with backend:=real. At 0 a sample takes hours (about 11 h for sim/recipes/licoo2.yaml)",
    ),
    (
        "backend_options",
        "{}",
        "backend options as a YAML mapping, e.g. the twin's {twin_mode: physics, twin_faults: stuck_door, "
        "twin_seed: 3, twin_time_factor: 0 (as fast as possible), twin_address}",
    ),
    ("autostart", "true", "configure and activate every station at start (false: wait for lab/manage)"),
    ("dashboard", "true", "serve the technician dashboard (web, 127.0.0.1 unless dashboard_host says otherwise)"),
    ("dashboard_port", "8080", "TCP port of the dashboard"),
    ("dashboard_host", "127.0.0.1", "address the dashboard binds (plain HTTP: keep it on a trusted network)"),
    ("log_level", "info", "log level of every node: debug, info, warn, error, fatal"),
    ("autonomy", "false", "also start the autonomy node (campaigns: autonomy/submit_targets, autonomy/progress)"),
    ("autonomy_database", "", "campaign records: a SQLite file or a postgresql:// URL (empty: the node's default)"),
)
LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")


def parse_bool(name: str, value: str) -> bool:
    text = value.strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise ValidationError(name, f"'{value}' is not a boolean; allowed: true, false")


def parse_station_backends(value: str) -> dict[str, str]:
    overrides = {}
    for item in filter(None, (part.strip() for part in value.split(","))):
        station, sep, backend = item.partition("=")
        if not sep or not station or not backend:
            raise ValidationError("station_backends", f"'{item}' must look like STATION=BACKEND, e.g. dosing=real")
        overrides[station.strip()] = backend.strip()
    return overrides


def manifest_from_launch_args(values: Mapping[str, str]) -> LabManifest:
    """The manifest for the launch arguments' string values (missing ones take their defaults)."""
    defaults = {name: default for name, default, _ in LAUNCH_ARGUMENTS}
    unknown = sorted(set(values) - set(defaults))
    if unknown:
        raise ValidationError("launch arguments", f"unknown {unknown}; allowed: {sorted(defaults)}")
    args = {**defaults, **values}
    try:
        time_factor = float(args["time_factor"])
    except ValueError:
        raise ValidationError("time_factor", f"'{args['time_factor']}' is not a number") from None
    if args["log_level"] not in LOG_LEVELS:
        raise ValidationError(
            "log_level", f"'{args['log_level']}' is not a log level; allowed: {', '.join(LOG_LEVELS)}"
        )
    dashboard = None
    if parse_bool("dashboard", args["dashboard"]):
        try:
            port = int(args["dashboard_port"])
        except ValueError:
            raise ValidationError("dashboard_port", f"'{args['dashboard_port']}' is not a port number") from None
        dashboard = {"port": port, "host": args["dashboard_host"]}
    return build_manifest(
        backend=args["backend"],
        site=args["site"],
        params_file=args["params_file"] or None,
        namespace=args["namespace"],
        use_sim_time=parse_bool("use_sim_time", args["use_sim_time"]),
        station_backends=parse_station_backends(args["station_backends"]),
        backend_options=args["backend_options"],
        time_factor=time_factor,
        autostart=parse_bool("autostart", args["autostart"]),
        autonomy=({"database": args["autonomy_database"]} if args["autonomy_database"] else True)
        if parse_bool("autonomy", args["autonomy"])
        else None,
        dashboard=dashboard,
        host=args["host"] or None,
    )
