"""`powderlab up`: start the whole lab, each node its own process, until Ctrl-C, SIGTERM or SIGHUP."""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from powderlab.cli.options import add_lab_options, manifest_from_args
from powderlab.core.errors import PowderLabError

# stopped by a signal: the lab manager gets this long to shut the stations down before the nodes get SIGINT
INTERRUPTED_SHUTDOWN_S = 10.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "up",
        help="start every node of the lab and keep it running",
        description="Start every node of the lab as its own process, bring them to active through the lab "
        "manager, report health, and on Ctrl-C / SIGTERM / SIGHUP deactivate and stop everything "
        "(a second signal kills the lab at once).",
    )
    add_lab_options(parser)
    parser.add_argument(
        "--startup-timeout",
        type=float,
        default=90.0,
        help="seconds without progress (no node changing state) before start-up is given up",
    )
    parser.add_argument("--autonomy", action="store_true", help="also start the autonomy node (campaigns)")
    parser.add_argument("--database", default=None, help="with --autonomy: campaign records (file or URL)")
    parser.add_argument(
        "--planner",
        default=None,
        help="with --autonomy: its planner (default: the node's, literature; fixed: the targets' recipes, for tests)",
    )
    parser.add_argument(
        "--analyzer", default=None, help="with --autonomy: its XRD analyzer (default: the node's, chemistry; standin)"
    )
    parser.add_argument(
        "--dashboard-port",
        type=int,
        default=8080,
        help="serve the technician dashboard on 127.0.0.1:PORT (default: %(default)s; 0: any free port)",
    )
    parser.add_argument("--dashboard-users", default=None, help="users file of the dashboard (see docs/dashboard.md)")
    parser.add_argument("--no-dashboard", action="store_true", help="do not start the dashboard")
    parser.add_argument(
        "--host",
        default=None,
        help="start only this computer's share of a site with several hosts (the site profile's hosts:), "
        "discovering the others as its network: says (default: every node here, on loopback)",
    )
    parser.add_argument("--no-respawn", action="store_true", help="do not restart a station that dies")
    parser.set_defaults(handler=run)


def autonomy_parameters(args: argparse.Namespace) -> dict[str, str] | bool | None:
    """With --autonomy: the autonomy node's parameters given on the command line (True: none)."""
    if not args.autonomy:
        return None
    chosen = {"database": args.database, "planner": args.planner, "analyzer": args.analyzer}
    return {k: v for k, v in chosen.items() if v} or True


def run(args: argparse.Namespace) -> int:
    from powderlab.bringup.session import LabSession
    from powderlab.cli.stopping import stop_on_signals

    autonomy = autonomy_parameters(args)
    run_dir = Path(args.run_dir) if args.run_dir else Path(tempfile.mkdtemp(prefix="powderlab-run-"))
    url_file = run_dir / "dashboard.url"
    dashboard = None
    if not args.no_dashboard:
        run_dir.mkdir(parents=True, exist_ok=True)
        url_file.unlink(missing_ok=True)
        dashboard = {"port": args.dashboard_port, "url_file": str(url_file)}
        if args.dashboard_users:
            dashboard["users_file"] = args.dashboard_users
    manifest = manifest_from_args(args, dashboard=dashboard, autonomy=autonomy, host=args.host)
    session = LabSession(manifest, run_dir, args.log_level, args.startup_timeout, respawn=not args.no_respawn)
    where = f"host '{manifest.host}' of " if manifest.host else ""
    print(
        f"powderlab up: starting {len(manifest.nodes)} nodes on backend '{manifest.backend}' "
        f"({where}site '{manifest.site.name}', logs in {session.run_dir})",
        flush=True,
    )
    with stop_on_signals():  # SIGINT, SIGTERM, SIGHUP: stop the lab; a second one kills it
        emulators = start_emulators(args, session.run_dir)
        try:
            return _serve(session, url_file if dashboard is not None else None)
        finally:
            if emulators is not None:
                emulators.stop()  # after the nodes, which close their links first


def _serve(session: Any, url_file: Path | None) -> int:
    """Start the lab, run until a signal or a node's death, stop it; 0 when stopped by a signal."""
    from powderlab.cli.status import print_health

    try:
        client = session.start()
    except PowderLabError as error:
        print(f"powderlab up: {error}", file=sys.stderr)
        return 1
    code = 0
    shutdown_s = 60.0
    try:
        print_health(client.health(5.0))
        if url_file is not None:
            for _ in range(100):
                if url_file.is_file() and url_file.read_text().strip():
                    print(f"powderlab up: dashboard on {url_file.read_text().strip()}", flush=True)
                    break
                time.sleep(0.1)
            else:
                print(
                    f"powderlab up: the dashboard did not start; see {session.run_dir / 'dashboard.log'}",
                    file=sys.stderr,
                )
        print("powderlab up: lab is active; Ctrl-C, SIGTERM or SIGHUP stops it", flush=True)
        while True:
            time.sleep(0.5)
            dead = session.processes.exited()
            if dead:
                print(f"powderlab up: nodes exited unexpectedly: {dead}; stopping the lab", file=sys.stderr)
                code = 1
                break
    except KeyboardInterrupt as interrupt:  # the normal end of `up`
        shutdown_s = INTERRUPTED_SHUTDOWN_S
        _say(f"powderlab up: {interrupt}")
    finally:  # also when the output is gone (SIGHUP of a closed terminal: writing to it fails)
        _say("powderlab up: stopping (deactivate, clean up, shut down)")
        codes = session.stop(manager_timeout_s=shutdown_s)
    times = session.processes.stop_times
    _say(
        "powderlab up: stopped ("
        + ", ".join(f"{n}={c}" + (f" in {times[n]:.2f} s" if n in times else "") for n, c in codes.items())
        + ")"
    )
    return code


def _say(text: str) -> None:
    """Print, unless the terminal is gone (a hung-up terminal fails writes with EIO)."""
    with contextlib.suppress(OSError):
        print(text, flush=True)


def start_emulators(args: argparse.Namespace, run_dir: Path, command: str = "powderlab up"):  # type: ignore[no-untyped-def]
    """For --backend real on an emulated site profile: `powderlab emulate` as a child (ADR 0030).

    None for any other backend or profile; also used by `powderlab run-sample --backend real`.
    """
    from powderlab.cli.emulate import EmulatorProcess, emulated_site

    if args.backend != "real" or not emulated_site(args.site):
        return None
    emulators = EmulatorProcess(args.site, Path(run_dir) / "emulators.log", args.time_factor)
    emulators.wait_ready()
    print(f"{command}: emulators for site '{args.site}' serve (log {Path(run_dir) / 'emulators.log'})", flush=True)
    return emulators
