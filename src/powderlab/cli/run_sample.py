"""`powderlab run-sample RECIPE`: one sample through dose -> mill -> furnace -> XRD, by ROS actions."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import Any

from powderlab.cli.options import add_lab_options, manifest_from_args

DEFAULT_TIME_FACTOR = {"mock": 2000.0, "sim": 0.0, "real": 0.0}
# stopped by a signal: the lab manager gets this long to shut the stations down before the nodes get SIGINT
INTERRUPTED_SHUTDOWN_S = 10.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run-sample",
        help="take one sample through every station using only the lab's ROS actions",
        description="With --backend, start the lab for this run and stop it afterwards; without, use the lab "
        "that is running (powderlab up / ros2 launch) in --namespace.",
    )
    parser.add_argument("recipe", help="recipe YAML file (see sim/recipes/)")
    parser.add_argument("--sample-id", default=None, help="sample id (default: <recipe_id>-<time>)")
    add_lab_options(
        parser,
        default_backend=None,
        time_factor_help="sim seconds per wall second (default: 2000 with --backend mock, 0 with sim and real). "
        "0 is REAL TIME: with --backend sim the twin then takes as long as a real lab, about 11 h for "
        "sim/recipes/licoo2.yaml (600 s milling, 4 h dwell, natural cooling); give e.g. --time-factor 2000 to run "
        "it in seconds",
    )
    parser.set_defaults(handler=run)


def real_time_notice(recipe: Any, backend: str) -> str:
    """What a twin run at time factor 0 (real time) costs in wall time, and how to make it fast."""
    from powderlab.core.recipes import FurnaceLimits

    heating_s = recipe.heating.duration_s(FurnaceLimits())
    total_h = (heating_s + recipe.milling.duration_s + recipe.scan.scan_time_s) / 3600.0
    return (
        f"note: --backend {backend} without --time-factor runs the twin in real time: this sample takes at least "
        f"{total_h:.1f} h of wall time (furnace profile {heating_s / 3600.0:.1f} h, milling "
        f"{recipe.milling.duration_s:g} s, XRD scan {recipe.scan.scan_time_s:g} s); give e.g. --time-factor 2000 "
        "to run it in seconds of wall time"
    )


def load_recipe(path: str):
    import yaml

    from powderlab.core.errors import ValidationError
    from powderlab.core.recipes import Recipe

    file = Path(path)
    if not file.is_file():
        raise ValidationError("recipe", f"no such file: {path}")
    try:
        return Recipe.from_dict(yaml.safe_load(file.read_text()))
    except yaml.YAMLError as error:
        raise ValidationError(str(file), f"is not valid YAML: {error}") from None


def run(args: argparse.Namespace) -> int:
    from powderlab.cli.stopping import stop_on_signals

    with stop_on_signals():  # SIGINT, SIGTERM, SIGHUP: stop the lab, exit 128 + signal
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from powderlab.bringup.session import LabSession
    from powderlab.cli.up import start_emulators
    from powderlab.core.errors import PowderLabError
    from powderlab.core.site import SiteProfile
    from powderlab.nodes.lab_client import LabClient
    from powderlab.nodes.sample_procedure import SampleProcedure

    recipe = load_recipe(args.recipe)
    sample_id = args.sample_id or f"{recipe.recipe_id}-{time.strftime('%Y%m%d-%H%M%S')}"
    session = None
    emulators = None
    if args.backend:
        if not args.time_factor:
            args.time_factor = DEFAULT_TIME_FACTOR[args.backend]
            if args.backend == "sim":
                print(real_time_notice(recipe, args.backend), file=sys.stderr, flush=True)
        manifest = manifest_from_args(args)
        session = LabSession(manifest, args.run_dir, args.log_level)
        print(
            f"starting the lab on backend '{args.backend}' (time factor {args.time_factor:g}, logs in "
            f"{session.run_dir})",
            flush=True,
        )
        # an emulated site (`emulated: true`) is served by `powderlab emulate`, started as `up` does
        emulators = start_emulators(args, session.run_dir, "powderlab run-sample")
        try:
            client = session.start()
        except BaseException:
            if emulators is not None:
                emulators.stop()
            raise
        site = manifest.site
    else:
        client = LabClient(args.namespace)
        site = SiteProfile.load(args.site)
    print(f"sample {sample_id}: recipe {recipe.recipe_id} for {recipe.target}", flush=True)
    procedure = SampleProcedure(client, site, on_step=lambda report: print(report.line(), flush=True))
    code = 0
    shutdown_s = 60.0
    try:
        procedure.run(recipe, sample_id)
        pattern = procedure.reports[-1].result.pattern
        print(
            f"sample {sample_id}: done; XRD pattern of {len(pattern.two_theta_deg)} points "
            f"({pattern.two_theta_deg[0]:g}-{pattern.two_theta_deg[-1]:g} deg)",
            flush=True,
        )
    except PowderLabError as error:
        print(f"sample {sample_id}: FAILED: {error}", file=sys.stderr, flush=True)
        code = 1
    except KeyboardInterrupt as interrupt:
        shutdown_s = INTERRUPTED_SHUTDOWN_S
        with contextlib.suppress(OSError):  # a hung-up terminal fails writes
            print(f"sample {sample_id}: stopped by {interrupt}", file=sys.stderr, flush=True)
        raise
    finally:
        if session is not None:
            session.stop(manager_timeout_s=shutdown_s)
        else:
            client.close()
        if emulators is not None:
            emulators.stop()  # after the nodes, which close their links first
    return code
