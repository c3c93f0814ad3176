"""`powderlab dashboard`: serve the technician dashboard for a running lab; manage its users.

powderlab dashboard [--port 8080] [--host 127.0.0.1] [--users FILE] ...   serve
powderlab dashboard add-user NAME [--users FILE] [--password-stdin]        add / change a user
powderlab dashboard users [--users FILE]                                  list the users
"""

from __future__ import annotations

import argparse
import getpass
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dashboard",
        help="serve the technician dashboard (web) for a running lab, or manage its users",
        description="Serve the dashboard of a running lab (`powderlab up` serves one already), or add users: "
        "`powderlab dashboard add-user NAME`.",
    )
    parser.add_argument("action", nargs="?", default="serve", choices=("serve", "add-user", "users"))
    parser.add_argument("name", nargs="?", help="user name (add-user)")
    parser.add_argument("--users", default=None, help="users file (default: $ROS_HOME/powderlab/dashboard-users.yaml)")
    parser.add_argument("--password-stdin", action="store_true", help="add-user: read the password from stdin")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8080, help="TCP port (default: %(default)s; 0: any free port)")
    parser.add_argument("--namespace", default="", help="ROS namespace of the lab")
    parser.add_argument("--command-log", default=None, help="JSON-lines file of every command")
    parser.add_argument("--camera-topic", default=None, help="sensor_msgs/Image topic of the cell camera")
    parser.add_argument("--campaign-topic", default=None, help="CampaignProgress topic of the autonomy node")
    parser.add_argument("--no-anonymous-estop", action="store_true", help="the e-stop button needs a login too")
    parser.add_argument(
        "--campaign-database",
        default=None,
        help="campaign store (file or URL) whose claims the Samples & XRD tab shows for review",
    )
    parser.set_defaults(handler=run)


def _ros_args(args: argparse.Namespace) -> list[str]:
    values: dict[str, str] = {"host": args.host, "port": str(args.port)}
    if args.users:
        values["users_file"] = args.users
    if args.command_log:
        values["command_log"] = args.command_log
    if args.camera_topic:
        values["camera_topic"] = args.camera_topic
    if args.campaign_topic:
        values["campaign_topic"] = args.campaign_topic
    if args.no_anonymous_estop:
        values["anonymous_estop"] = "false"
    if args.campaign_database:
        values["campaign_database"] = args.campaign_database
    ros = ["powderlab-dashboard", "--ros-args", "-r", "__node:=dashboard"]
    if args.namespace.strip("/"):
        ros += ["-r", f"__ns:=/{args.namespace.strip('/')}"]
    for name, value in values.items():
        ros += ["-p", f"{name}:={value}"]
    return ros


def add_user_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from powderlab.dashboard.auth import add_user, check_user_name
    from powderlab.dashboard.server import default_users_file

    if not args.name:
        print("powderlab dashboard add-user: give the user name: add-user NAME", file=sys.stderr)
        return 2
    check_user_name(args.name)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            print("powderlab dashboard add-user: the passwords differ", file=sys.stderr)
            return 2
    path = Path(args.users) if args.users else default_users_file()
    add_user(path, args.name, password)
    print(f"user {args.name} saved in {path} (scrypt hash); a running dashboard picks it up at once")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.action == "add-user":
        return add_user_command(args)
    if args.action == "users":
        from pathlib import Path

        from powderlab.dashboard.auth import UserStore
        from powderlab.dashboard.server import default_users_file

        store = UserStore(Path(args.users) if args.users else default_users_file())
        print("\n".join(store.names()) or f"no users in {store.path}")
        return 0
    from powderlab.dashboard.server import main

    return main(_ros_args(args))
