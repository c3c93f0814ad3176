"""The autonomy node: the campaign engine driving the lab through its ROS actions.

Services: `~/submit_targets` (powderlab_interfaces/SubmitTargets: a targets file's content),
`~/control` (CampaignControl: pause / resume), `~/set_paused` (std_srvs/SetBool, the dashboard's
switch). Topics: `~/progress` (CampaignProgress, latched), `~/analysis` (XrdAnalysis per sample).
The engine runs in its own thread; every record goes to the database first (SQLite file or
PostgreSQL URL, parameter `database`), so the node can be killed at any moment and started
again: it reloads the campaign and reconciles with the lab before doing anything new.
While it runs, a recorder child process records the lab's topics into a rosbag2 bag folder (parameter
`recording`, ADRs 0093, 0108); the folder is named in the campaign's events, and so in its report.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path
from typing import Any

import rclpy
import yaml
from powderlab_interfaces import msg, srv
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from std_srvs.srv import SetBool

from powderlab.autonomy.analysis import DEFAULT_ANALYZER, DEFAULT_PLANNER, make_analyzer, make_planner
from powderlab.autonomy.cell import CellModel
from powderlab.autonomy.engine import CampaignConfig, CampaignEngine
from powderlab.autonomy.model import AnalysisResult, Progress
from powderlab.autonomy.store import Store
from powderlab.autonomy.targets import check_plannable, load_targets, parse_targets
from powderlab.chemistry.candidates import library_with_candidates
from powderlab.core.errors import PowderLabError
from powderlab.core.resources import data_path
from powderlab.core.site import SiteProfile
from powderlab.drivers.sim.lockstep import LockstepLink
from powderlab.nodes.attendance import Attendance
from powderlab.nodes.autonomy_client import progress_to_msg
from powderlab.nodes.qos import LATCHED, WALL_CLOCK
from powderlab.nodes.recorder import RecorderProcess, RecordingError
from powderlab.nodes.ros_lab_port import RosLabPort
from powderlab.nodes.station_node import run_node
from powderlab.stations.base import StationMode

STATIONS_UP_WAIT_S = 120.0  # wall seconds the engine waits for every station to be active before it starts

PARAMETERS: dict[str, tuple[Any, str]] = {
    "site": ("default", "site profile: a name in hardware/ or a path"),
    "params_file": ("", "the stations' params file, for duration estimates (default: launch/powderlab.yaml)"),
    "database": ("~/.ros/powderlab/autonomy.sqlite", "campaign records: a SQLite file or a postgresql:// URL"),
    "campaign_id": ("campaign", "the campaign this node runs (resumed if the database has it)"),
    "planner": (
        DEFAULT_PLANNER,
        "planner: literature (literature recipes first, then active learning), arrows, ranking, random, or fixed "
        "(recipes given with the targets, for tests)",
    ),
    "analyzer": (DEFAULT_ANALYZER, "XRD analyzer: chemistry (the real analysis) or standin (mock patterns, for tests)"),
    "seed": (0, "seed of the stand-in analyzer"),
    "candidates": (
        "",
        "candidate library file (powderlab plan screen): targets given by formula alone, planned and analysed with "
        "their predicted structures (ADR 0109)",
    ),
    "transfer_node": ("transfer", "the node that owns the position table"),
    "success_yield": (0.5, "target weight fraction that makes a target"),
    "in_flight_per_target": (1, "experiments of one target in the lab at once"),
    "batch_wait_s": (1800.0, "how long a part-filled furnace waits for more crucibles (lab seconds)"),
    "resume_delay_s": (60.0, "conditions stay clear this long before the campaign resumes (lab seconds)"),
    "targets_file": ("", "targets submitted at start (only when the campaign is new)"),
    "suspend_limit_wall_s": (
        1800.0,
        "nobody at the dashboard: a suspension not cleared within this many wall seconds aborts the campaign (0: none)",
    ),
    "suspend_limit_sim_s": (43200.0, "the same limit in lab seconds; whichever comes first (0: none)"),
    "dashboard_clients_topic": (
        "dashboard/clients",
        "std_msgs/UInt32 heartbeat of the dashboard: browsers open on it (a technician is there: suspensions wait)",
    ),
    "time_server": (
        "",
        "the lab's sim-time server (the twin, or the mock lab's sim_clock): 'default' for this ROS domain's, or its "
        "socket; the engine then works in lockstep with sim time. Empty: follow /clock",
    ),
    "recording": (
        "auto",
        "recording of the lab's topics while this node runs, a rosbag2 bag folder (NAME/NAME_0.mcap + metadata.yaml, "
        "ADR 0108): a folder path (an existing one is kept: the next free name -1, -2... is used), 'auto' "
        "(recordings/<campaign>-<UTC time>/ beside a SQLite database, else in ~/.ros/powderlab/recordings) or 'none'",
    ),
}


class AutonomyNode(Node):
    """Campaign engine + ROS interface."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("autonomy", **kwargs)
        for name, (default, description) in PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=description))
        value = lambda name: self.get_parameter(name).value  # noqa: E731
        self.site = SiteProfile.load(value("site"))
        self._group = ReentrantCallbackGroup()
        params_file = value("params_file") or str(data_path("launch", "powderlab.yaml"))
        server = str(value("time_server"))
        lockstep = LockstepLink(None if server == "default" else server) if server else None
        self.port = RosLabPort(self, self.site, value("transfer_node"), params_file, lockstep)
        self.store = Store(value("database"))
        self.recording = recording_path(str(value("recording")), str(value("database")), str(value("campaign_id")))
        self.recorder: RecorderProcess | None = None
        if self.recording is not None:
            try:
                self.recorder = RecorderProcess(self.recording)
            except (OSError, RecordingError) as error:  # a campaign without its recording still runs; it says so
                self.get_logger().error(f"cannot record into {self.recording}: {error}; the campaign runs unrecorded")
                self.recording = None
        seed = int(value("seed"))
        config = CampaignConfig(
            campaign_id=value("campaign_id"),
            name=value("campaign_id"),
            seed=seed,
            success_yield=float(value("success_yield")),
            in_flight_per_target=int(value("in_flight_per_target")),
            batch_wait_s=float(value("batch_wait_s")),
            resume_delay_s=float(value("resume_delay_s")),
            suspend_limit_wall_s=float(value("suspend_limit_wall_s")),
            suspend_limit_sim_s=float(value("suspend_limit_sim_s")),
        )
        # the dashboard's heartbeat: a technician watching makes a suspension wait for them
        self.attendance = Attendance(self, value("dashboard_clients_topic"), self._group)
        library = library_with_candidates(value("candidates")) if value("candidates") else None
        self.engine = CampaignEngine(
            self.store,
            self.port,
            make_planner(value("planner"), seed, library, site=self.site),
            make_analyzer(value("analyzer"), seed, library),
            CellModel.from_site(self.site),
            config,
            on_progress=self._on_progress,
            on_analysis=self._on_analysis,
            attended=self.attendance.attended,
        )
        self.progress_pub = self.create_publisher(msg.CampaignProgress, "~/progress", LATCHED)
        self.create_service(srv.SubmitTargets, "~/submit_targets", self._on_submit, callback_group=self._group)
        self.analysis_pub = self.create_publisher(msg.XrdAnalysis, "~/analysis", 10)
        self.create_service(srv.CampaignControl, "~/control", self._on_control, callback_group=self._group)
        # the dashboard's pause switch (std_srvs/SetBool: true pauses, false resumes)
        self.create_service(SetBool, "~/set_paused", self._on_set_paused, callback_group=self._group)
        self._last_publish = 0.0
        self._progress: Progress | None = None
        self.create_timer(1.0, self._republish, callback_group=self._group, clock=WALL_CLOCK)
        self._stop = threading.Event()
        self._targets_file = value("targets_file")
        if self._targets_file:  # bad formulas, keys or targets the planner cannot make: refused at start
            check_plannable(load_targets(self._targets_file).targets, self.engine.planner, self._targets_file)
        self._thread = threading.Thread(target=self._run, daemon=True, name="campaign")
        self._thread.start()

    # --- the engine thread ---

    def _run(self) -> None:
        try:
            self._wait_for_lab()
            self.port.join_lockstep()
            new = self.store.campaign(self.engine.cid) is None
            initial = load_targets(self._targets_file).targets if new and self._targets_file else []
            self.engine.open(initial)
            self.get_logger().info(f"campaign {self.engine.cid} open ({'new' if new else 'resumed'})")
            if self.recording is not None:  # the report links every recording of the campaign (a restart adds one)
                sim_now = self.store.last_sim_time(self.engine.cid) or 0.0
                self.store.event(self.engine.cid, "recording", str(self.recording), sim_now)
                self.get_logger().info(f"recording the lab's topics into {self.recording}")
            while not self._stop.is_set() and rclpy.ok(context=self.context):
                self.engine.step()
                if self.engine.aborted:  # its progress (state aborted, the reason) stays published
                    self.get_logger().error(f"campaign {self.engine.cid} aborted: {self.engine.aborted}")
                    break
        except Exception as error:  # log loudly; the records stay consistent (write-ahead)
            self.get_logger().error(f"campaign engine stopped: {error!r}")
            raise
        finally:
            self.port.leave_lockstep()

    def _wait_for_lab(self) -> None:
        """Wait until the transfer node answers and the clock runs (sim time starts at 0).

        On a time server the engine also waits (in wall time, up to STATIONS_UP_WAIT_S) until every station
        reports active: the time server holds sim time until the engine's first work, so a campaign then
        starts on the same lab however long its start-up took (no suspension for a station still coming up).
        """
        stations_deadline = time.monotonic() + STATIONS_UP_WAIT_S
        while not self._stop.is_set():
            try:
                self.port.positions()
                if self.port.lockstep is None:
                    if self.port.now() > 0.0:
                        return
                elif self._stations_active() or time.monotonic() > stations_deadline:
                    return
            except PowderLabError as error:
                self.get_logger().info(f"waiting for the lab: {error}")
            time.sleep(0.2)

    def _stations_active(self) -> bool:
        stations = self.port.lab_state().stations.values()
        return bool(stations) and all(s.lifecycle == "active" and s.mode != StationMode.INACTIVE for s in stations)

    # --- progress ---

    def _on_progress(self, progress: Progress) -> None:
        self._progress = progress
        now = time.monotonic()
        if now - self._last_publish >= 0.2 or progress.state == "finished":
            self._publish(progress)

    def _republish(self) -> None:
        if self._progress is not None:
            self._publish(self._progress)

    def _publish(self, progress: Progress) -> None:
        self._last_publish = time.monotonic()
        if not self.context.ok():
            return
        self.progress_pub.publish(progress_to_msg(progress, self.engine.planner.name, self.engine.analyzer.name))

    def _on_analysis(self, sample_id: str, analysis: AnalysisResult) -> None:
        if not self.context.ok():
            return
        self.analysis_pub.publish(
            msg.XrdAnalysis(
                sample_id=sample_id,
                target=analysis.target,
                phases=[
                    msg.PhaseFraction(
                        phase_id=p.phase,
                        formula=p.formula,
                        weight_fraction=float(p.weight_fraction),
                        confidence=float(p.confidence),
                    )
                    for p in analysis.phases
                ],
                target_yield=float(analysis.target_yield),
                residual=float(-1.0 if analysis.rwp is None else analysis.rwp),
                unknown_phase_suspected=bool(analysis.unknown_phase_suspected),
            )
        )

    # --- services ---

    def _on_submit(self, request: srv.SubmitTargets.Request, response: srv.SubmitTargets.Response) -> Any:
        try:
            parsed = parse_targets(yaml.safe_load(request.targets_yaml), "submitted targets")
            check_plannable(parsed.targets, self.engine.planner, "submitted targets")
        except (PowderLabError, yaml.YAMLError) as error:
            response.success, response.message = False, str(error)
            return response
        self.engine.submit(parsed.targets)
        response.success = True
        response.targets = [t.formula for t in parsed.targets]
        response.message = f"{len(parsed.targets)} targets queued for campaign {self.engine.cid}"
        return response

    def _on_control(self, request: srv.CampaignControl.Request, response: srv.CampaignControl.Response) -> Any:
        if request.command == srv.CampaignControl.Request.PAUSE:
            self.engine.pause(request.reason or "paused by request")
            response.success, response.message = True, "pausing: no new operation starts; running ones finish"
        elif request.command == srv.CampaignControl.Request.RESUME:
            self.engine.resume()
            response.success, response.message = True, "resuming"
        else:
            response.success = False
            response.message = f"unknown command {request.command}; allowed: 0 (PAUSE), 1 (RESUME)"
        return response

    def _on_set_paused(self, request: SetBool.Request, response: SetBool.Response) -> Any:
        if request.data:
            self.engine.pause("paused from the dashboard")
            response.message = "pausing: no new operation starts; running ones finish"
        else:
            self.engine.resume()
            response.message = "resuming"
        response.success = True
        return response

    def safe_shutdown(self) -> None:
        """Stop the engine loop; goals in flight keep running in the stations (picked up at restart)."""
        self._stop.set()
        if self.recorder is not None:  # SIGINT now: it closes its file while the engine stops
            self.recorder.interrupt()
        # within the node's stop bound (spin_node: 3.5 s for the whole shutdown)
        self._thread.join(timeout=2.5)
        if self.recorder is not None:
            self.recorder.stop(timeout_s=0.5)
        if self._thread.is_alive():  # its records are written ahead: the process may end under it
            self.get_logger().warn("campaign engine still busy 2.5 s after the stop; exiting without it")
            return
        self.store.close()


def recording_path(setting: str, database: str, campaign_id: str) -> Path | None:
    """The bag folder this run records into (None: no recording); never an existing one."""
    if setting.strip().lower() in ("none", ""):
        return None
    if setting == "auto":
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        folder = Path("~/.ros/powderlab/recordings").expanduser()
        if "://" not in database:
            folder = Path(database).expanduser().resolve().parent / "recordings"
        path = folder / f"{campaign_id}-{stamp}"
    else:
        path = Path(setting).expanduser()
    candidate, number = path, 0
    while candidate.exists():
        number += 1
        candidate = path.with_name(f"{path.name}-{number}")  # a folder: no suffix to keep
    return candidate


def main(args: list[str] | None = None) -> int:
    return run_node(AutonomyNode, "autonomy_node", args, threads=8)


if __name__ == "__main__":
    sys.exit(main())
