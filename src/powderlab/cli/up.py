"""`powderlab up`: start the whole lab, each node its own process, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from powderlab.cli.options import add_lab_options, manifest_from_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "up",
        help="start every node of the lab and keep it running",
        description="Start every node of the lab as its own process, bring them to active through the lab "
        "manager, report health, and on Ctrl-C / SIGTERM deactivate and stop everything.",
    )
    add_lab_options(parser)
    parser.add_argument("--startup-timeout", type=float, default=90.0, help="seconds to reach all-active")
    parser.add_argument("--autonomy", action="store_true", help="also start the autonomy node (campaigns)")
    parser.add_argument("--database", default=None, help="with --autonomy: campaign records (file or URL)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from powderlab.bringup.session import LabSession
    from powderlab.cli.status import print_health

    autonomy = ({"database": args.database} if args.database else True) if args.autonomy else None
    manifest = manifest_from_args(args, autonomy=autonomy)
    session = LabSession(manifest, args.run_dir, args.log_level, args.startup_timeout)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    print(
        f"powderlab up: starting {len(manifest.nodes)} nodes on backend '{manifest.backend}' "
        f"(site '{manifest.site.name}', logs in {session.run_dir})",
        flush=True,
    )
    try:
        client = session.start()
    except Exception as error:
        print(f"powderlab up: {error}", file=sys.stderr)
        return 1
    print_health(client.health(5.0))
    print("powderlab up: lab is active; Ctrl-C or SIGTERM stops it", flush=True)
    code = 0
    while not stop.wait(0.5):
        dead = session.processes.exited()
        if dead:
            print(f"powderlab up: nodes exited unexpectedly: {dead}; stopping the lab", file=sys.stderr)
            code = 1
            break
    print("powderlab up: stopping (deactivate, clean up, shut down)", flush=True)
    codes = session.stop()
    print(f"powderlab up: stopped ({', '.join(f'{n}={c}' for n, c in codes.items())})", flush=True)
    return code
