"""Command-line options shared by the commands that start a lab."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from powderlab.core.errors import ValidationError


def add_lab_options(
    parser: argparse.ArgumentParser, default_backend: str | None = "mock", time_factor_help: str | None = None
) -> None:
    """--backend, --site, --params-file, --namespace, --station-backend, --time-factor, --log-level."""
    parser.add_argument(
        "--backend",
        choices=("mock", "sim", "real"),
        default=default_backend,
        help="device backend for every station (default: %(default)s)",
    )
    parser.add_argument("--site", default="default", help="site profile name in hardware/ or a YAML path")
    parser.add_argument("--params-file", default=None, help="ROS params file (default: launch/powderlab.yaml)")
    parser.add_argument("--namespace", default="", help="ROS namespace of the lab")
    parser.add_argument(
        "--station-backend",
        action="append",
        default=[],
        metavar="STATION=BACKEND",
        help="override the backend of one station (repeatable)",
    )
    parser.add_argument(
        "--time-factor",
        type=float,
        default=0.0,
        help=time_factor_help or "run on sim time this many times faster than real time (0: wall time)",
    )
    parser.add_argument("--log-level", default="info", choices=("debug", "info", "warn", "error"))
    parser.add_argument("--run-dir", default=None, help="where node logs go (default: a new temp folder)")
    parser.add_argument(
        "--state-dir",
        default=None,
        help="keep the cell's positions here across restarts (default: with --backend real, "
        "~/.ros/powderlab/<site>; otherwise none: every start begins from the site profile)",
    )


def default_state_dir(args: argparse.Namespace) -> str | None:
    """Real labs keep their positions across restarts; mock and sim runs start fresh."""
    if args.backend != "real":
        return None
    site = Path(args.site).stem
    return str(Path(os.environ.get("ROS_HOME", Path.home() / ".ros")) / "powderlab" / site)


def manifest_from_args(args: argparse.Namespace, **overrides: Any):
    from powderlab.bringup.manifest import build_manifest

    station_backends = {}
    for item in args.station_backend:
        station, sep, backend = item.partition("=")
        if not sep:
            raise ValidationError("--station-backend", f"'{item}' must look like STATION=BACKEND, e.g. dosing=sim")
        station_backends[station] = backend
    options = {
        "backend": args.backend,
        "site": args.site,
        "params_file": args.params_file,
        "namespace": args.namespace,
        "station_backends": station_backends,
        "time_factor": args.time_factor,
        "state_dir": getattr(args, "state_dir", None) or default_state_dir(args),
    }
    options.update(overrides)
    return build_manifest(**options)
