"""`powderlab campaign`: run a campaign to the end on sim time and report it.

--lab ros (default): the whole stack: every station node, the lab manager, the sim clock (or the
twin) and the autonomy node as processes; this command submits the targets to the autonomy node,
follows its progress topic, and reads the campaign's records when it is finished.
--lab local: the same campaign engine against every station in this process, on a
discrete-event clock (fast: what the A-Lab-scale benchmark uses).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from powderlab.autonomy.analysis import DEFAULT_ANALYZER, DEFAULT_PLANNER
from powderlab.core.resources import data_path

DEFAULT_TARGETS = ("sim", "campaigns", "default.yaml")
# The twin (sim) is the default backend once it exists; until then mock (see notes/issue-8).
DEFAULT_BACKEND = "mock"
DEFAULT_TIME_FACTOR = {"mock": 5000.0, "sim": 0.0, "real": 0.0}
SUSPEND_LIMIT_WALL_S = 1800.0  # 30 minutes
SUSPEND_LIMIT_SIM_S = 43200.0  # 12 hours of lab time
# stopped by a signal: the lab manager gets this long to shut the stations down before the nodes get SIGINT
INTERRUPTED_SHUTDOWN_S = 10.0
# Wall Hz of the twin's cell camera in a campaign: nobody watches it; one frame in 10 s goes to the recording.
CAMERA_RATE_HZ = 0.1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "campaign",
        help="run a campaign (targets -> recipes -> samples -> yields) to the end and report it",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--targets", default=None, help="targets YAML (default: sim/campaigns/default.yaml)")
    parser.add_argument("--backend", choices=("mock", "sim"), default=DEFAULT_BACKEND, help="device backend")
    parser.add_argument("--lab", choices=("ros", "local"), default="ros", help="ROS processes or in-process")
    parser.add_argument("--seed", type=int, default=0, help="seed of the stand-in analyzer (and the twin)")
    parser.add_argument("--site", default="default", help="site profile name or path")
    parser.add_argument(
        "--planner",
        default=DEFAULT_PLANNER,
        help="planner: literature (the default: literature recipes first, then active learning), arrows, ranking, "
        "random, or fixed (the recipes of the targets file, for tests)",
    )
    parser.add_argument(
        "--analyzer",
        default=DEFAULT_ANALYZER,
        help="analyzer: chemistry (the default: the real XRD analysis) or standin (mock patterns' stand-in, for tests)",
    )
    parser.add_argument(
        "--candidates",
        default=None,
        metavar="FILE",
        help="candidate library (written by `powderlab plan screen FORMULA`): targets given by formula alone, with "
        "their predicted structures for the planner, the analysis and the twin (default: the user's file, when a "
        "target is not a packaged phase)",
    )
    parser.add_argument("--database", default=None, help="database file or URL (default: <report dir>/campaign.sqlite)")
    parser.add_argument("--campaign-id", default=None, help="campaign id (default: from the targets file)")
    parser.add_argument("--report", default=None, help="write campaign.json/.html here (default: a temp folder)")
    parser.add_argument("--no-plots", action="store_true", help="report without figures (faster)")
    parser.add_argument(
        "--time-factor",
        type=float,
        default=0.0,
        help="--lab ros: sim seconds per wall second (0, the default: 5000 on mock; on sim the twin as fast as the "
        "lab computes, in lockstep)",
    )
    parser.add_argument("--max-days", type=float, default=60.0, help="stop after this many simulated days")
    parser.add_argument(
        "--in-flight-per-target",
        type=int,
        default=None,
        help="experiments of one target in the lab at once (default: the autonomy node's, 1)",
    )
    parser.add_argument(
        "--batch-wait-s",
        type=float,
        default=None,
        help="how long a part-filled furnace waits for more crucibles, in lab seconds (default: the autonomy "
        "node's, 1800)",
    )
    parser.add_argument("--json", action="store_true", help="print only the JSON summary")
    parser.add_argument(
        "--suspend-limit-wall-s",
        type=float,
        default=SUSPEND_LIMIT_WALL_S,
        help="a suspension (e-stop, station fault) not cleared within this many wall seconds aborts the campaign "
        "unless a technician has the dashboard open (0: no limit; default: %(default)g)",
    )
    parser.add_argument(
        "--suspend-limit-sim-s",
        type=float,
        default=SUSPEND_LIMIT_SIM_S,
        help="the same limit in seconds of lab time; whichever comes first (0: no limit; default: %(default)g)",
    )
    parser.set_defaults(handler=run)


def _say(args: argparse.Namespace, text: str) -> None:
    if not args.json:
        print(text, flush=True)


def run(args: argparse.Namespace) -> int:
    from powderlab.cli.stopping import stop_on_signals

    with stop_on_signals():  # SIGINT, SIGTERM, SIGHUP: stop the lab, exit 128 + signal
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    from powderlab.autonomy.analysis import make_planner
    from powderlab.autonomy.report import write_report
    from powderlab.autonomy.store import Store
    from powderlab.autonomy.summary import campaign_summary
    from powderlab.autonomy.targets import check_plannable, load_targets
    from powderlab.chemistry.candidates import candidates_for, library_with_candidates

    targets_path = args.targets or str(data_path(*DEFAULT_TARGETS))
    targets = load_targets(targets_path)  # refuses bad formulas and keys, naming the entry
    # targets given by formula alone: their predicted structures from the candidate library (ADR 0109)
    args.candidates = candidates_for([t.formula for t in targets.targets], getattr(args, "candidates", None))
    args.library = library_with_candidates(args.candidates) if args.candidates else None
    # before any lab starts: every target must be one the chosen planner can propose a recipe for
    check_plannable(targets.targets, make_planner(args.planner, args.seed, args.library, site=args.site), targets_path)
    report_dir = Path(args.report or tempfile.mkdtemp(prefix="powderlab-campaign-"))
    report_dir.mkdir(parents=True, exist_ok=True)
    database = args.database or str(report_dir / "campaign.sqlite")
    campaign_id = args.campaign_id or f"{targets.campaign}-seed{args.seed}"
    started = time.perf_counter()
    _say(
        args,
        f"campaign {campaign_id}: {len(targets.targets)} targets from {targets_path}; backend "
        f"{args.backend}, lab {args.lab}; records in {database}",
    )
    if _finished_before(database, campaign_id):
        _say(args, f"campaign {campaign_id} is already finished in {database}: reporting it")
    elif args.lab == "local":
        _run_local(args, targets.targets, database, campaign_id)
    else:
        _run_ros(args, targets_path, database, campaign_id, report_dir / "recording")
    wall = time.perf_counter() - started
    store = Store(database)
    try:
        summary = campaign_summary(store, campaign_id)
        summary["wall_s"] = round(wall, 2)
        summary["backend"], summary["lab"] = args.backend, args.lab
        paths = write_report(store, campaign_id, report_dir, plots=not args.no_plots)
    finally:
        store.close()
    summary["report"] = {k: str(v) for k, v in paths.items()}
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(
            f"campaign {campaign_id}: {len(summary['targets_made'])}/{summary['targets_total']} targets made "
            f"({', '.join(summary['targets_made']) or 'none'}), {summary['experiments']} experiments, "
            f"{summary['sim_days']} simulated days, {summary['samples_per_day']} samples/day, wall {wall:.1f} s; "
            f"report: {paths['html']}",
            flush=True,
        )
    if summary["status"] == "aborted":
        print(f"campaign {campaign_id} aborted: {summary.get('reason', '')}", file=sys.stderr, flush=True)
    return 0 if summary["status"] == "finished" else 1


def _finished_before(database: str, campaign_id: str) -> bool:
    """True if the records hold this campaign finished; refuse one that was interrupted.

    This command brings its own lab (in process, or nodes it starts), and that lab is always new:
    an unfinished campaign's crucibles, furnace runs and positions ended with the lab that ran
    it, so resuming it here would follow a position table that does not hold them.
    """
    from powderlab.autonomy import store as tables
    from powderlab.autonomy.store import Store
    from powderlab.core.errors import ValidationError

    if "://" not in database and not Path(database).exists():
        return False
    store = Store(database)
    try:
        campaign = store.campaign(campaign_id)
        if campaign is None:
            return False
        if campaign["status"] == "finished":
            return True
        open_samples = sum(not s["closed"] for s in store.rows(tables.samples, campaign_id))
    finally:
        store.close()
    raise ValidationError(
        "--database",
        f"campaign {campaign_id} in {database} was interrupted (status {campaign['status']}, {open_samples} "
        "samples in the lab): this command starts a new lab, and the lab that held those samples ended with the "
        "run that was interrupted, so the campaign cannot be resumed here. Start it afresh with another "
        "--database or --campaign-id (the interrupted run's records stay as they are); to survive crashes, run "
        "the autonomy node on a lab that outlives it (`powderlab up --autonomy`), which resumes where it stopped",
    )


class _Live:
    """One progress line, rewritten in place on a terminal (every few wall seconds otherwise)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.last = 0.0
        self.tty = sys.stdout.isatty()

    def __call__(self, progress: Any) -> None:
        now = time.monotonic()
        if self.quiet or now - self.last < (0.2 if self.tty else 5.0):
            return
        self.last = now
        line = progress.line()
        print(("\r" + line[:160].ljust(160)) if self.tty else line, end="" if self.tty else "\n", flush=True)


def _limits(args: argparse.Namespace) -> dict[str, float]:
    """The suspension limits (nobody at the lab) and the furnace filling options that were given:
    campaign config keys = autonomy node parameters."""
    given = {
        "in_flight_per_target": getattr(args, "in_flight_per_target", None),
        "batch_wait_s": getattr(args, "batch_wait_s", None),
    }
    return {
        "suspend_limit_wall_s": float(getattr(args, "suspend_limit_wall_s", SUSPEND_LIMIT_WALL_S)),
        "suspend_limit_sim_s": float(getattr(args, "suspend_limit_sim_s", SUSPEND_LIMIT_SIM_S)),
        **{key: value for key, value in given.items() if value is not None},
    }


def _run_local(args: argparse.Namespace, targets: Any, database: str, campaign_id: str) -> None:
    from powderlab.autonomy.analysis import make_analyzer, make_planner
    from powderlab.autonomy.runner import local_campaign

    campaign = local_campaign(
        targets,
        database,
        campaign_id,
        site=args.site,
        backend=args.backend,
        seed=args.seed,
        planner=make_planner(args.planner, args.seed, getattr(args, "library", None), site=args.site),
        analyzer=make_analyzer(args.analyzer, args.seed, getattr(args, "library", None)),
        config=_limits(args),
        on_progress=_Live(args.json),
    )
    try:
        campaign.run(max_sim_s=args.max_days * 86400.0)
    finally:
        campaign.close()
    if not args.json and sys.stdout.isatty():
        print()


def backend_options(backend: str, factor: float, candidates: str | None = None) -> str:
    """backend_options of this command's lab. On the twin, time factor 0 runs it as fast as possible
    (sim time moves whenever every lease waits, ADR 0082; the lab's time_factor 0 alone would pace
    the twin at real time), and nobody watches its cell camera: it renders one frame in 10 wall s,
    for the recording (ADR 0093). A candidate library goes to the twin's hidden world (ADR 0109)."""
    if backend != "sim":
        return "{}"
    options: dict[str, Any] = {"twin_camera_rate_hz": CAMERA_RATE_HZ}
    if factor == 0:
        options["twin_time_factor"] = 0
    if candidates:
        options["twin_candidates"] = str(Path(candidates).resolve())
    return json.dumps(options)


def _run_ros(args: argparse.Namespace, targets_path: str, database: str, campaign_id: str, recording: Path) -> None:
    from powderlab.bringup.manifest import build_manifest
    from powderlab.bringup.session import LabSession
    from powderlab.nodes.autonomy_client import AutonomyClient

    factor = args.time_factor or DEFAULT_TIME_FACTOR[args.backend]
    manifest = build_manifest(
        backend=args.backend,
        site=args.site,
        time_factor=factor,
        backend_options=backend_options(args.backend, factor, getattr(args, "candidates", None)),
        autonomy={
            "database": database,
            "campaign_id": campaign_id,
            "planner": args.planner,
            "analyzer": args.analyzer,
            "seed": args.seed,
            **({"candidates": str(Path(args.candidates).resolve())} if getattr(args, "candidates", None) else {}),
            # opened with its targets in one step (no lab time passes between the campaign's start and its
            # first goal, whatever the machine's load); a resumed campaign keeps the targets it has
            "targets_file": str(Path(targets_path).resolve()),
            # the lab's topics into the bag folder <report>/recording, which the report links (ADRs 0093, 0108)
            "recording": str(recording.resolve()),
            **_limits(args),
        },
    )
    session = LabSession(manifest, log_level="warn")
    pace = "as fast as possible" if args.backend == "sim" and factor == 0 else f"time factor {factor:g}"
    _say(args, f"starting the lab ({pace}; logs in {session.run_dir})")
    client = session.start()
    autonomy = AutonomyClient(client.node)
    shutdown_s = 60.0
    try:
        live = _Live(args.json)
        autonomy.wait_finished(on_progress=live, max_sim_s=args.max_days * 86400.0)
    except KeyboardInterrupt as interrupt:
        shutdown_s = INTERRUPTED_SHUTDOWN_S
        with contextlib.suppress(OSError):  # a hung-up terminal fails writes
            print(f"campaign {campaign_id}: stopped by {interrupt}", file=sys.stderr, flush=True)
        raise
    finally:
        session.stop(manager_timeout_s=shutdown_s)
    if not args.json and sys.stdout.isatty():
        print()
