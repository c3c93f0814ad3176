"""`powderlab teleop`: jog an arm from the terminal, one short step per key press (see KEY_HELP)."""

from __future__ import annotations

import argparse
import os
import select
import sys
import termios
import tty


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "teleop",
        help="jog an arm from the keyboard (through the transfer station's jog service)",
        description="Keyboard teleoperation: each key press moves the arm one short step through the transfer "
        "station (its speed limits, e-stop and locks apply); holding a key repeats it, releasing it stops.",
    )
    parser.add_argument("--arm", default="arm_a", help="arm to move (default: %(default)s)")
    parser.add_argument("--namespace", default="", help="ROS namespace of the lab")
    parser.add_argument("--transfer-node", default="transfer", help="node that owns the arms")
    parser.add_argument("--speed", type=float, default=0.5, help="jog speed fraction 0.1..1 (default: %(default)s)")
    parser.add_argument("--user", default=os.environ.get("USER", "keyboard"), help="name logged with each command")
    parser.set_defaults(handler=run)


def read_key(fd: int, timeout_s: float) -> str | None:
    ready, _, _ = select.select([fd], [], [], timeout_s)
    if not ready:
        return None
    data = os.read(fd, 1)
    return data.decode(errors="replace") if data else "\x04"


def run(args: argparse.Namespace) -> int:
    from powderlab.core.errors import PowderLabError
    from powderlab.nodes.lab_client import LabClient
    from powderlab.nodes.teleop import KEY_HELP, key_to_step

    speed = min(1.0, max(0.1, args.speed))
    source = f"keyboard:{args.user}"
    fd = sys.stdin.fileno()
    interactive = os.isatty(fd)
    saved = termios.tcgetattr(fd) if interactive else None
    out = sys.stdout

    def say(text: str) -> None:
        out.write(text.replace("\n", "\r\n") + "\r\n")
        out.flush()

    with LabClient(args.namespace) as client:
        say(KEY_HELP.format(speed=speed))
        say(f"arm {args.arm}; waiting for {args.transfer_node}/jog ...")
        if interactive:
            tty.setcbreak(fd)
        try:
            while True:
                key = read_key(fd, 0.5)
                if key is None:
                    continue
                if key in ("x", "\x03", "\x04"):
                    break
                try:
                    if key.isdigit() and key != "0":
                        speed = int(key) / 10
                        say(f"speed {speed:.1f}")
                        continue
                    if key in ("o", "c", "p"):
                        command = {"o": "gripper_open", "c": "gripper_close", "p": "move_home"}[key]
                        response = client.manual(args.transfer_node, command, args.arm, source=source)
                        say(response.message)
                        continue
                    step = key_to_step(key, speed)
                    if step is None:
                        continue
                    response = client.jog(
                        args.arm, step.frame, step.axis, step.speed, source=source, station=args.transfer_node
                    )
                except PowderLabError as error:
                    say(f"error: {error}")
                    continue
                if response.success:
                    joints = " ".join(f"{a:+.3f}" for a in response.joints)
                    say(f"{response.message}  joints [{joints}]")
                else:
                    say(f"refused: {response.message}")
        finally:
            if saved is not None:
                termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    return 0
