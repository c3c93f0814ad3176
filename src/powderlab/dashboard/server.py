"""The dashboard process: a ROS node named `dashboard` (a client of the lab) serving the web app.

Run by the bringup manifest (`python -m powderlab.dashboard.server --ros-args ...`, so
`powderlab up` serves it) or by `powderlab dashboard`. Parameters (launch/powderlab.yaml,
`/**/dashboard`): host, port, users_file, command_log, camera_topic, campaign_topic,
campaign_pause_service, analysis_topic, anonymous_estop, stations, url_file, clients_topic (the
number of browsers with the live view open, a heartbeat the autonomy node reads as 'somebody is here').
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import ipaddress
import os
import signal
import sys
from pathlib import Path
from typing import Any

from aiohttp import web

from powderlab.dashboard.app import DashboardSettings, create_app, watching
from powderlab.dashboard.audit import CommandLog
from powderlab.dashboard.auth import UserStore
from powderlab.dashboard.commands import CommandDispatcher

PARAMETERS: dict[str, tuple[Any, str]] = {
    "host": ("127.0.0.1", "address to serve on (loopback by default; plain HTTP: keep it on a trusted network)"),
    "port": (8080, "TCP port (0: any free port; the URL is logged and written to url_file)"),
    "users_file": (
        "",
        "YAML file of users with scrypt-hashed passwords (empty: $ROS_HOME/powderlab/dashboard-users.yaml)",
    ),
    "command_log": ("", "JSON-lines file of every command (empty: $ROS_HOME/powderlab/dashboard-commands.jsonl)"),
    "camera_topic": ("camera/image_raw", "sensor_msgs/Image topic of the cell camera (the twin's or a real one)"),
    "campaign_topic": ("autonomy/progress", "powderlab_interfaces/CampaignProgress topic of the autonomy node"),
    "campaign_pause_service": ("autonomy/set_paused", "std_srvs/SetBool service that pauses the campaign"),
    "analysis_topic": ("autonomy/analysis", "powderlab_interfaces/XrdAnalysis topic (fits of the XRD patterns)"),
    "anonymous_estop": (True, "anyone watching may engage the e-stop without logging in (reset needs a login)"),
    "stations": ([""], "station nodes to follow from the start (others are found in lab/health)"),
    "url_file": ("", "write the served URL to this file once listening (for scripts and tests)"),
    "push_period_s": (0.25, "shortest interval between two state pushes to a browser"),
    "campaign_database": (
        "",
        "campaign store (file path or URL) whose claims the Samples & XRD tab shows and reviews (empty: none)",
    ),
    "clients_topic": (
        "dashboard/clients",
        "std_msgs/UInt32: browsers with the dashboard open, every 2 s (the autonomy node waits for a technician)",
    ),
}


def ros_home() -> Path:
    return Path(os.environ.get("ROS_HOME", Path.home() / ".ros"))


def default_users_file() -> Path:
    return ros_home() / "powderlab" / "dashboard-users.yaml"


STOP_CLEANUP_S = 2.5  # the web server's share of the 5 s a node has to stop
STOP_HARD_EXIT_S = 4.5


def default_command_log() -> Path:
    return ros_home() / "powderlab" / "dashboard-commands.jsonl"


async def serve(app: web.Application, host: str, port: int, url_file: str, log: Any) -> None:
    """Serve until SIGINT / SIGTERM."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = site._server.sockets[0].getsockname()[1] if site._server and site._server.sockets else port
    url = f"http://{host}:{bound}/"
    log.info(f"serving the dashboard on {url}")
    print(f"dashboard: serving on {url}", flush=True)
    if url_file:
        Path(url_file).write_text(url + "\n")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        # bounded like every node of the lab (ends within 5 s of SIGINT): open browser connections are
        # not waited for, and a C-level watchdog ends the process if the rest of the exit hangs
        faulthandler.dump_traceback_later(STOP_HARD_EXIT_S, exit=True)
        try:
            await asyncio.wait_for(runner.cleanup(), timeout=STOP_CLEANUP_S)
        except TimeoutError:
            log.warn(f"connections still open {STOP_CLEANUP_S:g} s after the stop; closing anyway")


def _claims_ledger(values: dict[str, Any], node: Any) -> Any:
    """The claims ledger of the configured campaign store (None: none configured or not there)."""
    database = str(values["campaign_database"])
    if not database:
        return None
    from powderlab.dashboard.claims import StoreLedger

    node.get_logger().info(f"claims from the campaign store {database}")
    return StoreLedger(database)


def main(args: list[str] | None = None) -> int:
    from powderlab.nodes.attendance import publish_watchers
    from powderlab.nodes.lab_client import LabClient
    from powderlab.nodes.lab_monitor import LabMonitor, MonitorSettings

    client = LabClient(node_name="dashboard", args=args if args is not None else sys.argv)
    try:
        node = client.node
        values = {name: node.declare_parameter(name, default).value for name, (default, _) in PARAMETERS.items()}
        host = str(values["host"])
        try:
            if not ipaddress.ip_address(host).is_loopback:
                node.get_logger().warn(f"serving on {host}: reachable from the network over plain HTTP")
        except ValueError:
            pass
        monitor = LabMonitor(
            client,
            MonitorSettings(
                camera_topic=values["camera_topic"],
                campaign_topic=values["campaign_topic"],
                analysis_topic=values["analysis_topic"],
            ),
        )
        for station in values["stations"]:
            if station:
                monitor.follow(station)
        users = UserStore(Path(values["users_file"]) if values["users_file"] else default_users_file())
        log = CommandLog(Path(values["command_log"]) if values["command_log"] else default_command_log())
        if not users.names():
            node.get_logger().warn(
                f"no dashboard users in {users.path}: read-only; add one with `powderlab dashboard add-user NAME`"
            )
        dispatcher = CommandDispatcher(client, monitor, log, values["campaign_pause_service"])
        settings = DashboardSettings(
            anonymous_estop=bool(values["anonymous_estop"]), push_period_s=float(values["push_period_s"])
        )
        app = create_app(monitor, dispatcher, users, log, settings, claims=_claims_ledger(values, node))
        publish_watchers(node, lambda: watching(app), str(values["clients_topic"]))
        try:
            asyncio.run(serve(app, host, int(values["port"]), str(values["url_file"]), node.get_logger()))
        except OSError as error:
            node.get_logger().error(f"cannot serve on {host}:{values['port']}: {error}")
            print(f"dashboard: cannot serve on {host}:{values['port']}: {error}", file=sys.stderr)
            return 1
    finally:
        client.close()
    # stopped: end now, like every node (spin_node); the interpreter's own exit waits on ROS threads and
    # tears down the middleware, seconds under load, past the 5 s a node has to stop
    with contextlib.suppress(OSError):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
