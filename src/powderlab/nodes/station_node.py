"""One station as a ROS 2 lifecycle node (ros2_control semantics).

configure: build the drivers of the station from the site profile and connect them
activate: accept goals            deactivate: cancel running goals, reject new ones, go safe
cleanup: disconnect               shutdown / error: safe stop, disconnect

Serves one action per station operation (<node>/<operation>), publishes <node>/status (reliable,
transient_local), obeys /lab/estop_state, and offers <node>/set_paused, <node>/reset and
<node>/manual (a technician's manual commands, run by the station's own rules). The transfer
station also owns the cell's position table (<node>/get_positions, <node>/set_position, the
/lab/positions topic) and teleoperation (<node>/jog, <node>/joint_states). The XRD station
publishes each measured pattern on <node>/pattern.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any, NoReturn

import rclpy
import yaml
from diagnostic_msgs.msg import DiagnosticArray
from powderlab_interfaces import msg, srv
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from sensor_msgs.msg import JointState
from std_msgs.msg import Header
from std_srvs.srv import SetBool, Trigger

from powderlab.core.clock import Clock
from powderlab.core.errors import DeviceError, ErrorCode, PowderLabError, UnknownResourceError
from powderlab.core.site import SiteProfile
from powderlab.drivers.sim.clock import LockstepClock
from powderlab.drivers.sim.lockstep import LockstepLink
from powderlab.nodes.conversions import ActionBinding, bindings, fill_feedback, position_to_msg, stamp, status_to_msg
from powderlab.nodes.diagnostics import DIAGNOSTICS_TOPIC, LastError, station_diagnostics
from powderlab.nodes.qos import ESTOP_TOPIC, LATCHED, POSITIONS_TOPIC, WALL_CLOCK
from powderlab.nodes.ros_cell import RosCell
from powderlab.nodes.ros_clock import RosClock
from powderlab.stations.base import ManualRequest, Outcome, Station
from powderlab.stations.factory import STATION_CLASSES, build_station
from powderlab.stations.furnace import FurnaceStation
from powderlab.stations.goal_ledger import GoalLedger
from powderlab.stations.teleop import ArmState, JogFrame, JogRequest
from powderlab.stations.transfer import TransferStation
from powderlab.stations.xrd import MeasureResult, XrdStation

COMMON_PARAMETERS: dict[str, tuple[Any, str]] = {
    "site": ("default", "site profile: a name in hardware/ or a path to a YAML file"),
    "station": ("", "station name in the site profile (default: the node name)"),
    "backend": ("mock", "device backend: mock, sim or real"),
    "backend_options": ("{}", "backend options as a YAML mapping (e.g. the twin's address)"),
    "transfer_node": ("transfer", "node that owns the arms and the position table (relative to the namespace)"),
    "time_server": (
        "",
        "the lab's sim-time server (the twin, or the mock lab's sim_clock): 'default' for this ROS domain's, or "
        "its socket; operations then wait through it in lockstep with sim time. Empty: follow /clock",
    ),
    "status_period_s": (1.0, "how often the status topic is republished, with /diagnostics (wall seconds)"),
    "feedback_period_s": (0.1, "shortest interval between two feedback messages of a goal (wall seconds)"),
    "result_keep_s": (
        86400.0,
        "how long a finished goal's result stays available to a client that restarts (node clock seconds; "
        "rclpy's default, 900, is a fraction of a second of wall time on fast sim time)",
    ),
}


class StationNode(LifecycleNode):
    """A station lifecycle node: drivers, actions, status, e-stop."""

    def __init__(self, node_name: str = "station", **kwargs: Any) -> None:
        super().__init__(node_name, **kwargs)
        self._group = ReentrantCallbackGroup()
        for name, (default, description) in COMMON_PARAMETERS.items():
            self.declare_parameter(name, default, ParameterDescriptor(description=description))
        self.station_name = self.get_parameter("station").value or self.get_name()
        self.site = SiteProfile.load(self.get_parameter("site").value)
        self.config = self.site.station(self.station_name)
        self.station_class = STATION_CLASSES[self.config.kind]
        for name, default in self.station_class.default_parameters.items():
            self.declare_parameter(
                name, default, ParameterDescriptor(description=f"{self.config.kind} station setting")
            )
        self.station: Station | None = None
        self.clock = RosClock(self)
        # On the twin, operations run in lockstep with its clock (ADR 0082): set at configure.
        self.lockstep: LockstepLink | None = None
        self._lifecycle = "unconfigured"
        self._active = False
        self._cancels: dict[str, threading.Event] = {}
        # Goal ids started here and goal ids the campaign settled as unknown (never run them, ADR 0102).
        self._goals = GoalLedger()
        self._estop: msg.EStopState | None = None
        self._publish_lock = threading.Lock()
        self._last_error: LastError | None = None
        # Every ROS entity is made once, here: destroying action servers inside a lifecycle
        # transition races the executor. Configure / cleanup only build and drop the Station.
        self.status_pub = self.create_publisher(msg.StationStatus, "~/status", LATCHED)
        # REP 107: the station and its devices, once per status tick (ADR 0093 has the reasons).
        self.diagnostics_pub = self.create_publisher(DiagnosticArray, DIAGNOSTICS_TOPIC, 10)
        self.create_subscription(msg.EStopState, ESTOP_TOPIC, self._on_estop, LATCHED, callback_group=self._group)
        self.create_service(SetBool, "~/set_paused", self._on_set_paused, callback_group=self._group)
        self.create_service(Trigger, "~/reset", self._on_reset, callback_group=self._group)
        # target: a goal id (hex); the reply says it will never run here (success) or has started (error_code 0)
        self.create_service(srv.ManualCommand, "~/tombstone_goal", self._on_tombstone, callback_group=self._group)
        all_bindings = bindings(self._now)
        self._action_servers = [self._action_server(all_bindings[op]) for op in self.station_class.operations]
        self.cell: RosCell | None = None
        if self.station_class is not TransferStation:
            self.cell = RosCell(self, self.get_parameter("transfer_node").value, self._group)
        self.create_service(srv.ManualCommand, "~/manual", self._on_manual, callback_group=self._group)
        self.pattern_pub = None
        if self.station_class is XrdStation:
            self.pattern_pub = self.create_publisher(msg.XrdPattern, "~/pattern", LATCHED)
        self.positions_pub = None
        self.joints_pub = None
        if self.station_class is TransferStation:
            self.create_service(srv.JogArm, "~/jog", self._on_jog, callback_group=self._group)
            self.joints_pub = self.create_publisher(JointState, "~/joint_states", 10)
            self.positions_pub = self.create_publisher(msg.PositionTable, POSITIONS_TOPIC, LATCHED)
            self.create_service(srv.GetPositions, "~/get_positions", self._on_get_positions, callback_group=self._group)
            self.create_service(srv.SetPosition, "~/set_position", self._on_set_position, callback_group=self._group)
        period = float(self.get_parameter("status_period_s").value)
        # Its own exclusive group, and a tick is skipped while a publish runs: on a loaded machine (or
        # a slow serial status read) reentrant ticks piled up until every executor thread waited on
        # the publish lock and none was left to take the transfer node's replies (a deadlock).
        self.create_timer(period, self._status_tick, callback_group=MutuallyExclusiveCallbackGroup(), clock=WALL_CLOCK)
        self.publish_status()

    # --- lifecycle transitions ---

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        backend = self.get_parameter("backend").value
        try:
            options = yaml.safe_load(self.get_parameter("backend_options").value) or {}
            parameters = {name: self.get_parameter(name).value for name in self.station_class.default_parameters}
            clock: Clock = self.clock
            time_server = str(self.get_parameter("time_server").value)
            if time_server:
                self.lockstep = LockstepLink(None if time_server == "default" else time_server)
                clock = LockstepClock(self.lockstep.link)
            if self.cell is not None:
                self.cell.lockstep = self.lockstep
            station = build_station(self.site, self.station_name, backend, clock, parameters, self.cell, options)
            station.connect()
        except (PowderLabError, OSError, yaml.YAMLError) as error:
            self.get_logger().error(f"configure failed on backend '{backend}': {error}")
            return TransitionCallbackReturn.FAILURE
        self.station = station
        station.on_change = self.publish_status
        if self._estop is not None and self._estop.engaged:
            station.estop(self._estop.reason)
        if isinstance(station, TransferStation):
            station.on_positions_changed = self.publish_positions
            self.publish_positions()
        self._lifecycle = "inactive"
        self.get_logger().info(
            f"configured {self.config.kind} station '{self.station_name}' on backend '{backend}' "
            f"with devices {', '.join(station.devices)}"
        )
        self.publish_status()
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = True
        self._lifecycle = "active"
        self.publish_status()
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._lifecycle = "inactive"
        self._stop_goals_and_go_safe()
        self.publish_status()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._teardown()
        self._lifecycle = "unconfigured"
        self.publish_status()
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._stop_goals_and_go_safe()
        self._teardown()
        self._lifecycle = "finalized"
        self.publish_status()
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._active = False
        self._stop_goals_and_go_safe()
        self._teardown()
        self._lifecycle = "unconfigured"
        return TransitionCallbackReturn.SUCCESS

    def _stop_goals_and_go_safe(self, wait_s: float = 5.0) -> None:
        """Cancel every goal, give the running operation wait_s to end, then safe-stop the devices."""
        station = self.station
        if station is None:
            return
        station.cancel_all()
        deadline = time.monotonic() + wait_s
        while station.status().operation and time.monotonic() < deadline:
            time.sleep(0.02)
        if station.status().operation:
            self.get_logger().warn(
                f"operation '{station.status().operation}' still running {wait_s:g} s after its cancel; safe stop now"
            )
        station.safe_stop()

    def _teardown(self) -> None:
        station, self.station = self.station, None
        if station is not None:
            station.on_change = None
            station.safe_stop()
            station.disconnect()

    def safe_shutdown(self) -> None:
        """Process exit: make every device safe and disconnect, whatever state we are in.

        Bounded by spin_node (the process ends within 5 s of SIGINT): the running operation gets
        1.5 s to end after its cancel, then the devices are safe-stopped regardless.
        """
        self._active = False
        self._stop_goals_and_go_safe(wait_s=1.5)
        self._teardown()

    # --- status ---

    def _now(self) -> float:
        """The lab's time for stamps: the time server's on sim time (no /clock needed), else the node clock."""
        lockstep = self.lockstep
        if lockstep is not None:
            try:
                return lockstep.now()
            except DeviceError:
                pass
        return self.clock.now()

    def _status_tick(self) -> None:
        """The periodic status: skipped when a publish is already under way."""
        if self._publish_lock.locked():
            return
        self.publish_status(diagnostics=True)

    def publish_status(self, diagnostics: bool = False) -> None:
        """The status topic; with diagnostics, also /diagnostics from the same reading of the devices."""
        with self._publish_lock:
            now = self._now()
            # one look at the station: cleanup / shutdown (_teardown) sets it to None from another thread,
            # possibly while the furnace readings of a status tick are on the serial line
            station = self.station
            data, furnaces = None, None
            if station is None:
                message = msg.StationStatus(
                    stamp=stamp(now),
                    station=self.station_name,
                    kind=self.config.kind,
                    lifecycle_state=self._lifecycle,
                    mode=msg.StationStatus.MODE_INACTIVE,
                )
            else:
                furnaces = station.readings() if isinstance(station, FurnaceStation) else None
                data = station.status()
                message = status_to_msg(data, self._lifecycle, now, furnaces)
                if not self._active:
                    message.mode = msg.StationStatus.MODE_INACTIVE
            if self.context.ok():  # not after rclpy shut down (operations may end during exit)
                self.status_pub.publish(message)
                self._publish_joint_states(now)
                if diagnostics:
                    self.diagnostics_pub.publish(
                        station_diagnostics(
                            self.config,
                            str(self.get_parameter("backend").value),
                            self._lifecycle,
                            self._active,
                            now,
                            data,
                            furnaces or (),
                            self._last_error,
                        )
                    )

    def _publish_joint_states(self, now: float) -> None:
        """sensor_msgs/JointState of every arm (names <arm>_joint_1..6), for RViz and teleop users."""
        station = self.station
        if self.joints_pub is None or not isinstance(station, TransferStation):
            return
        names, angles = [], []
        for arm_name, arm in station.arms().items():
            if not arm.connected:
                continue
            names += [f"{arm_name}_joint_{i + 1}" for i in range(6)]
            angles += [float(a) for a in arm.joint_positions()]
        if names:
            self.joints_pub.publish(JointState(header=Header(stamp=stamp(now)), name=names, position=angles))

    # --- e-stop, pause, reset ---

    def _on_estop(self, message: msg.EStopState) -> None:
        self._estop = message
        if self.station is None:
            return
        if message.engaged:
            self.get_logger().warn(f"E-STOP from {message.source or 'unknown'}: {message.reason}")
            self.station.estop(message.reason)
        elif self.station.estopped:
            self.get_logger().info(f"e-stop released by {message.source or 'unknown'}")
            self.station.reset()

    def _on_set_paused(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        if self.station is None:
            response.success, response.message = False, "station is not configured"
            return response
        if request.data:
            self.station.pause()
        else:
            self.station.resume()
        response.success, response.message = True, "paused" if request.data else "resumed"
        return response

    def _on_reset(self, request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        if self.station is None:
            response.success, response.message = False, "station is not configured"
            return response
        if self._estop is not None and self._estop.engaged:
            response.success = False
            response.message = "the lab e-stop is engaged; release it with /lab/reset"
            return response
        self.station.reset()
        response.success, response.message = True, f"station '{self.station_name}' reset"
        return response

    # --- actions ---

    def _action_server(self, binding: ActionBinding) -> ActionServer:
        return ActionServer(
            self,
            binding.action_type,
            f"~/{binding.name}",
            execute_callback=lambda handle: self._execute(handle, binding),
            goal_callback=self._on_goal,
            cancel_callback=self._on_cancel,
            callback_group=self._group,
            result_timeout=int(self.get_parameter("result_keep_s").value),
        )

    def _on_goal(self, goal_request: Any) -> GoalResponse:
        if not self._active or self.station is None:
            self.get_logger().warn("goal rejected: the station is not active")
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _on_cancel(self, goal_handle: Any) -> CancelResponse:
        event = self._cancels.get(bytes(goal_handle.goal_id.uuid).hex())
        if event is not None:
            event.set()
        return CancelResponse.ACCEPT

    def _lease(self, goal_key: str) -> contextlib.AbstractContextManager[None]:
        """The operation's lease on the twin (its goal id; the sender may have opened it already)."""
        lockstep = self.lockstep
        return lockstep.operation(goal_key) if lockstep is not None else contextlib.nullcontext()

    def _execute(self, goal_handle: Any, binding: ActionBinding) -> Any:
        goal_key = bytes(goal_handle.goal_id.uuid).hex()
        operation_id = f"{self.station_name}.{binding.name}.{goal_key[:8]}"
        result = binding.action_type.Result()
        station = self.station
        if station is None:
            result.error_code, result.error_msg = ErrorCode.STATION_UNAVAILABLE, "station is not configured"
            goal_handle.abort()
            return result
        if not self._goals.start(goal_key):  # it arrived after the campaign had settled it as unknown
            result.error_code = ErrorCode.INVALID_GOAL
            result.error_msg = f"goal {goal_key} was settled as unknown by the campaign (tombstoned): refused, not run"
            self.get_logger().warn(f"{operation_id}: {result.error_msg}")
            goal_handle.abort()
            return result
        cancel = self._cancels.setdefault(goal_key, threading.Event())
        if goal_handle.is_cancel_requested:
            cancel.set()
        last = {"time": 0.0, "stage": None}
        period = float(self.get_parameter("feedback_period_s").value)

        def feedback(fields: dict[str, Any]) -> None:
            now = time.monotonic()
            if now - last["time"] < period and fields.get("stage", last["stage"]) == last["stage"]:
                return
            last["time"], last["stage"] = now, fields.get("stage", last["stage"])
            goal_handle.publish_feedback(fill_feedback(binding.action_type.Feedback(), fields))

        try:
            try:
                request = binding.to_request(goal_handle.request)
            except PowderLabError as error:
                outcome_code, outcome_message, data = error.code, str(error), None
            else:
                with self._lease(goal_key):
                    outcome = station.run(binding.name, request, operation_id, feedback, cancel)
                outcome_code, outcome_message, data = outcome.code, outcome.message, outcome.result
        finally:
            self._cancels.pop(goal_key, None)
        binding.fill_result(result, data)
        result.error_code, result.error_msg = int(outcome_code), outcome_message
        if self.pattern_pub is not None and isinstance(data, MeasureResult) and outcome_code == ErrorCode.NONE:
            self.pattern_pub.publish(result.pattern)
        if outcome_code == ErrorCode.CANCELED and goal_handle.is_cancel_requested:
            goal_handle.canceled()
        elif outcome_code == ErrorCode.NONE:
            goal_handle.succeed()
        else:
            goal_handle.abort()
        line = f"{operation_id}: {ErrorCode(outcome_code).name}: {outcome_message}"
        if outcome_code not in (ErrorCode.NONE, ErrorCode.CANCELED):
            self._last_error = LastError(operation_id, ErrorCode(outcome_code).name, outcome_message, self._now())
        # rclpy refuses one call site logging at two severities: two call sites.
        if outcome_code == ErrorCode.NONE:
            self.get_logger().info(line)
        else:
            self.get_logger().warn(line)
        return result

    def _on_tombstone(
        self, request: srv.ManualCommand.Request, response: srv.ManualCommand.Response
    ) -> srv.ManualCommand.Response:
        goal_id = request.target.strip().lower()
        if not goal_id:
            response.success, response.error_code = False, int(ErrorCode.INVALID_GOAL)
            response.message = "target: empty; allowed: the goal id (32 hex digits) to tombstone"
        elif self._goals.tombstone(goal_id):
            response.success, response.message = True, f"goal {goal_id} will never run on {self.station_name}"
        else:
            response.success, response.error_code = False, int(ErrorCode.NONE)  # not an error: the goal is known
            response.message = f"goal {goal_id} has started on {self.station_name}: ask for its result"
        self.get_logger().info(f"tombstone by {request.source or 'unknown'}: {response.message}")
        return response

    # --- manual commands and teleoperation ---

    def _run_manual(self, what: str, source: str, run: Any) -> Outcome:
        station = self.station
        if station is None or not self._active:
            return Outcome(ErrorCode.STATION_UNAVAILABLE, f"station '{self.station_name}' is not active")
        outcome = run(station)
        line = f"manual {what} by {source or 'unknown'}: {ErrorCode(outcome.code).name}: {outcome.message}"
        if outcome.ok:
            self.get_logger().info(line)
        else:
            self.get_logger().warn(line)
        return outcome

    def _on_manual(
        self, request: srv.ManualCommand.Request, response: srv.ManualCommand.Response
    ) -> srv.ManualCommand.Response:
        manual = ManualRequest(request.command, request.target, request.argument, request.source)
        what = " ".join(filter(None, (request.command, request.target, request.argument)))
        outcome = self._run_manual(what, request.source, lambda station: station.command(manual))
        response.success, response.error_code, response.message = outcome.ok, int(outcome.code), outcome.message
        return response

    def _on_jog(self, request: srv.JogArm.Request, response: srv.JogArm.Response) -> srv.JogArm.Response:
        try:
            frame = JogFrame(request.frame)
        except ValueError:
            response.success, response.error_code = False, int(ErrorCode.INVALID_GOAL)
            response.message = f"frame: {request.frame} is not a jog frame; allowed: 0 (joint), 1 (tool)"
            return response
        jog = JogRequest(request.arm, frame, int(request.axis), float(request.speed), request.source)
        # Jogs come at ~10 Hz while a button is held: one station-log line per second of jogging.
        station = self.station
        if station is None or not self._active:
            outcome = Outcome(ErrorCode.STATION_UNAVAILABLE, f"station '{self.station_name}' is not active")
        else:
            outcome = station.run("jog", jog)
            line = (
                f"jog {request.arm} by {request.source or 'unknown'}: {ErrorCode(outcome.code).name}: {outcome.message}"
            )
            if outcome.ok:
                self.get_logger().info(line, throttle_duration_sec=1.0)
            else:
                self.get_logger().warn(line, throttle_duration_sec=1.0)
        response.success, response.error_code, response.message = outcome.ok, int(outcome.code), outcome.message
        if isinstance(outcome.result, ArmState):
            response.joints = [float(a) for a in outcome.result.joints]
            pose = outcome.result.tool_pose
            response.tool_pose = [float(v) for v in (pose.x, pose.y, pose.z, pose.rx, pose.ry, pose.rz)]
        return response

    # --- the position table (transfer station) ---

    def publish_positions(self) -> None:
        station = self.station
        if self.positions_pub is None or not isinstance(station, TransferStation):
            return
        table = msg.PositionTable(stamp=stamp(self._now()), positions=[position_to_msg(p) for p in station.positions()])
        self.positions_pub.publish(table)

    def _on_get_positions(
        self, request: srv.GetPositions.Request, response: srv.GetPositions.Response
    ) -> srv.GetPositions.Response:
        station = self.station
        if not isinstance(station, TransferStation):
            response.success, response.message = False, "transfer station is not configured"
            return response
        try:
            snapshots = [station.table.get(n) for n in request.names] if request.names else station.positions()
        except UnknownResourceError as error:
            response.success, response.message = False, str(error)
            return response
        response.success, response.positions = True, [position_to_msg(p) for p in snapshots]
        return response

    def _on_set_position(
        self, request: srv.SetPosition.Request, response: srv.SetPosition.Response
    ) -> srv.SetPosition.Response:
        station = self.station
        if not isinstance(station, TransferStation):
            response.success, response.message = False, "transfer station is not configured"
            return response
        try:
            labware_id = "" if request.clear else request.labware_id
            station.set_position(request.position, labware_id, request.labware_kind, request.sample_id)
        except PowderLabError as error:
            response.success, response.message = False, str(error)
            return response
        what = "empty" if request.clear else f"holds {request.labware_id}"
        self.get_logger().warn(f"position {request.position} {what} (confirmed by {request.source or 'unknown'})")
        response.success, response.message = True, f"{request.position}: {what}"
        return response


# A node process ends within NODE_STOP_BOUND_S (5 s, powderlab.bringup.processes) of SIGINT/SIGTERM:
# the shutdown (devices safe, executor, node) gets SHUTDOWN_BUDGET_S after spin returns; what is not
# done by then is skipped (logged with where it was stuck), and a C-level watchdog ends the process
# at HARD_EXIT_S even if Python cannot run (a C call holding the GIL).
SHUTDOWN_BUDGET_S = 3.5
HARD_EXIT_S = 4.5


def spin_node(node: Any, threads: int = 8) -> NoReturn:
    """Spin a node until Ctrl-C / SIGTERM, shut it down safely within a bound, and end the process.

    The process ends with os._exit: an executor thread still inside a callback (a goal waiting on a
    device that is gone) would otherwise keep the interpreter alive for ever after main returns.
    """
    executor = MultiThreadedExecutor(num_threads=threads) if threads > 1 else SingleThreadedExecutor()
    executor.add_node(node)
    code = 0
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except Exception:
        if node.context.ok():  # a real failure; a signal that shut the context down ends spin like this too
            traceback.print_exc()
            code = 1
    _exit_after_shutdown(node, executor, code)


def _exit_after_shutdown(node: Any, executor: Any, code: int) -> NoReturn:
    began = time.monotonic()
    faulthandler.dump_traceback_later(HARD_EXIT_S, exit=True)  # last resort: tracebacks to the log, exit 1
    # A further signal while shutting down is ignored: the shutdown is bounded, and it must not be cut
    # short before the safe stop. Launch sends SIGINT twice on Ctrl-C, and a parent's death sends one
    # SIGTERM per parent thread that exits. SIG_IGN replaces rclpy's handler in one step: uninstalling
    # it first would restore SIG_DFL for a moment, long enough for the next SIGTERM to kill us unsafe.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)
    label = node.get_name() if hasattr(node, "get_name") else "node"
    steps: list[tuple[str, float]] = []  # the steps begun, with their seconds (-1: under way)

    def timed(name: str, function: Callable[[], Any]) -> None:
        started = time.monotonic()
        steps.append((name, -1.0))
        function()
        steps[-1] = (name, time.monotonic() - started)

    def shutdown() -> None:
        safe_shutdown = getattr(node, "safe_shutdown", None)
        if safe_shutdown is not None:
            timed("safe shutdown", safe_shutdown)
        remaining = max(0.1, began + SHUTDOWN_BUDGET_S - 0.5 - time.monotonic())
        timed("executor", lambda: executor.shutdown(timeout_sec=remaining))
        timed("node", node.destroy_node)
        timed("rclpy", rclpy.try_shutdown)

    worker = threading.Thread(target=_logged(shutdown, label), name="shutdown", daemon=True)
    worker.start()
    worker.join(timeout=SHUTDOWN_BUDGET_S)
    elapsed = time.monotonic() - began
    if worker.is_alive():
        frame = sys._current_frames().get(worker.ident or -1)
        where = "".join(traceback.format_stack(frame)[-4:]) if frame is not None else "?\n"
        step = steps[-1][0] if steps else "safe shutdown"
        print(
            f"{label}: shutdown not finished after {elapsed:.1f} s; skipped the rest of '{step}' and what "
            f"follows it; it was at:\n{where}",
            file=sys.stderr,
            flush=True,
        )
        code = code or 1
    else:
        took = ", ".join(f"{name} {seconds:.2f}" for name, seconds in steps)
        print(f"{label}: stopped ({elapsed:.2f} s after the end of spin: {took})", file=sys.stderr, flush=True)
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def _logged(function: Callable[[], None], label: str) -> Callable[[], None]:
    def run() -> None:
        try:
            function()
        except Exception:
            print(f"{label}: error while shutting down:", file=sys.stderr, flush=True)
            traceback.print_exc()

    return run


def run_node(make_node: Callable[[], Any], label: str, args: list[str] | None, threads: int) -> int:
    """A node process: init rclpy, build the node (a PowderLabError is printed, exit code 2), spin it."""
    rclpy.init(args=args if args is not None else sys.argv)
    try:
        node = make_node()
    except PowderLabError as error:
        print(f"{label}: {error}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    except BaseException as error:
        # SIGINT / SIGTERM while the node was being built (rclpy raises KeyboardInterrupt, or entities fail
        # on the shut-down context): nothing is connected yet; end now, without waiting for any thread
        if not isinstance(error, KeyboardInterrupt) and rclpy.ok():
            raise
        print(f"{label}: stopped while starting", file=sys.stderr, flush=True)
        os._exit(0)
    spin_node(node, threads=threads)


def main(args: list[str] | None = None) -> int:
    return run_node(StationNode, "station_node", args, threads=16)


if __name__ == "__main__":
    sys.exit(main())
