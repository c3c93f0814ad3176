"""`powderlab`: the command line of the lab.

Each command lives in its own module under powderlab.cli with `register(subparsers)`; the module
imports what it needs inside its handler, so `powderlab --help` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from powderlab.core.errors import PowderLabError

COMMAND_MODULES = (
    "powderlab.cli.up",
    "powderlab.cli.status",
    "powderlab.cli.run_sample",
    "powderlab.cli.sim",
    "powderlab.cli.xrd",
    "powderlab.cli.campaign",
    "powderlab.cli.dashboard",
    "powderlab.cli.teleop",
    "powderlab.cli.emulate",
    "powderlab.cli.certs",
    "powderlab.cli.plan",
    "powderlab.cli.record",
    "powderlab.cli.claims",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="powderlab",
        description="PowderLab: ROS 2 control stack for autonomous solid-state synthesis labs.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except PowderLabError as error:
        print(f"powderlab {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM / SIGHUP in a command that owns a lab
        from powderlab.cli.stopping import exit_code

        return exit_code(interrupt)


if __name__ == "__main__":
    sys.exit(main())
