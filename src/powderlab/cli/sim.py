"""`powderlab sim`: the main job: the whole lab on an embedded default, end to end.

Default (--backend sim): a campaign on the PyBullet digital twin (kinematic mode) through the
autonomy node, every node its own process on the twin's accelerated /clock: the real planner
(literature recipes first, then active learning; ADR 0090) and the real XRD analysis (chemistry)
on the targets of sim/campaigns/twin.yaml, to the end, then the campaign report (HTML + JSON).
--backend mock: one sample of the default recipe through every station on the mock devices (the
former `make sim`).
"""

from __future__ import annotations

import argparse
import tempfile

from powderlab.core.resources import data_path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("sim", help="run the whole lab end to end on the embedded default")
    parser.add_argument("--recipe", default=None, help="--backend mock: recipe YAML (default: sim/recipes/licoo2.yaml)")
    parser.add_argument("--targets", default=None, help="targets YAML (default: sim/campaigns/twin.yaml)")
    parser.add_argument("--report", default=None, help="write campaign.json/.html here (default: a temp folder)")
    parser.add_argument("--time-factor", type=float, default=2000.0, help="sim seconds per wall second")
    parser.add_argument(
        "--backend",
        choices=("mock", "sim"),
        default="sim",
        help="the PyBullet digital twin (a campaign), or mock devices (one sample) (default: %(default)s)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.backend == "sim":
        return _campaign(args)
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


def _campaign(args: argparse.Namespace) -> int:
    from powderlab.cli import campaign

    report = args.report or tempfile.mkdtemp(prefix="powderlab-sim-")
    campaign_args = argparse.Namespace(
        targets=args.targets or str(data_path("sim", "campaigns", "twin.yaml")),
        backend="sim",
        lab="ros",
        seed=0,
        site="default",
        planner="literature",
        analyzer="chemistry",
        database=None,
        campaign_id=None,
        report=report,
        no_plots=False,
        time_factor=args.time_factor,
        max_days=60.0,
        json=False,
    )
    code = campaign.run(campaign_args)
    print(f"campaign report: {report}/campaign.html and {report}/campaign.json", flush=True)
    return code
