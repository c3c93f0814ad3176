"""`powderlab status`: each node's lifecycle state and health, from the lab manager."""

from __future__ import annotations

import argparse
from typing import Any

MODES = {0: "inactive", 1: "idle", 2: "busy", 3: "paused", 4: "ESTOPPED", 5: "FAULT"}


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("status", help="print every node's lifecycle state and health")
    parser.add_argument("--namespace", default="", help="ROS namespace of the lab")
    parser.add_argument("--wait", type=float, default=5.0, help="seconds to wait for the lab manager's report")
    parser.set_defaults(handler=run)


def print_health(health: Any) -> None:
    if health is None:
        print("no health report")
        return
    print(f"{'node':<16} {'lifecycle':<14} {'alive':<6} {'mode':<9} message")
    for node in health.nodes:
        print(
            f"{node.name:<16} {node.lifecycle_state:<14} {'yes' if node.alive else 'NO':<6} "
            f"{MODES.get(node.mode, node.mode):<9} {node.message}"
        )
    print(f"all active: {'yes' if health.all_active else 'no'}; e-stop: {'ENGAGED' if health.estop_engaged else 'off'}")


def run(args: argparse.Namespace) -> int:
    from powderlab.nodes.lab_client import LabClient

    with LabClient(args.namespace) as client:
        health = client.health(args.wait)
    if health is None:
        print(f"powderlab status: no lab manager answered within {args.wait:g} s (is `powderlab up` running?)")
        return 1
    print_health(health)
    return 0 if health.all_active and not health.estop_engaged else 1
