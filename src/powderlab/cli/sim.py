"""`powderlab sim`: the main job: the whole lab on an embedded default, end to end.

The lab on the PyBullet digital twin (sim backend, kinematic mode) on accelerated sim time, one
sample of the default recipe through every station, then a clean stop (`--backend mock`: the mock
devices instead).
"""

from __future__ import annotations

import argparse

from powderlab.core.resources import data_path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sim", help="run the whole lab end to end on the embedded default")
    parser.add_argument("--recipe", default=None, help="recipe YAML (default: sim/recipes/licoo2.yaml)")
    parser.add_argument("--time-factor", type=float, default=2000.0, help="sim seconds per wall second")
    parser.add_argument(
        "--backend",
        choices=("mock", "sim"),
        default="sim",
        help="the PyBullet digital twin, or mock devices (default: %(default)s)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from powderlab.cli import run_sample

    recipe = args.recipe or str(data_path("sim", "recipes", "licoo2.yaml"))
    sample_args = argparse.Namespace(
        recipe=recipe,
        sample_id=None,
        backend=args.backend,
        site="default",
        params_file=None,
        namespace="",
        station_backend=[],
        time_factor=args.time_factor,
        log_level="info",
        run_dir=None,
    )
    return run_sample.run(sample_args)
