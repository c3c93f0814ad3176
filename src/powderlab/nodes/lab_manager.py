"""The lab manager: brings the station nodes up and down, owns the e-stop, reports health.

Like nav2's lifecycle manager: STARTUP configures then activates every managed node in order
(the transfer node first: the others use it), SHUTDOWN deactivates, cleans up and shuts them
down in reverse order, PAUSE / RESUME go to every station. The e-stop is a latched topic
(lab/estop_state) so a node that starts late still learns that it is engaged.

Stations may run on other computers (ADR 0095). Every health period the manager asks each station
for its lifecycle state (a heartbeat): a station that has not answered for `liveliness_lease_s` is
reported not alive (a pulled cable, a dead process) and logged as lost; when it answers again it is
logged as back, and a station the manager had brought up that comes back unconfigured (its process
was respawned, ADR 0096) is configured and activated again.

The manager is respawned too (ADR 0115). The e-stop is latched across its death: every change is
written to `estop_file` before it is published, and a new manager publishes what the file holds. With
no file (the lab's first manager, or `ros2 launch`), a manager publishes nothing until it has heard
every station's latched status (at most `estop_learn_s`) and then engages the e-stop if a station
reports itself e-stopped (a station keeps the engagement it last heard), else releases it. A station it has
not heard from yet is left out of lab/health (the last report stands) until it answers or a lease has
passed, so a restarted manager does not report the whole lab lost.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rclpy
from lifecycle_msgs.msg import State, Transition, TransitionEvent
from lifecycle_msgs.srv import ChangeState, GetState
from powderlab_interfaces import msg, srv
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from std_srvs.srv import SetBool, Trigger

from powderlab.core.errors import PowderLabError
from powderlab.nodes import lifecycle_calls
from powderlab.nodes.conversions import stamp
from powderlab.nodes.futures import wait_future
from powderlab.nodes.qos import (
    ESTOP_SERVICE,
    ESTOP_TOPIC,
    HEALTH_TOPIC,
    LATCHED,
    MANAGE_SERVICE,
    RESET_SERVICE,
    WALL_CLOCK,
)
from powderlab.nodes.station_node import spin_node

# How long a station found unconfigured is left before it is brought up again (see _on_transition_event).
REACTIVATE_DELAY_S = 0.5

STATE_LABELS = {
    State.PRIMARY_STATE_UNKNOWN: "unknown",
    State.PRIMARY_STATE_UNCONFIGURED: "unconfigured",
    State.PRIMARY_STATE_INACTIVE: "inactive",
    State.PRIMARY_STATE_ACTIVE: "active",
    State.PRIMARY_STATE_FINALIZED: "finalized",
}


@dataclass
class _Managed:
    name: str
    change_state: Any
    get_state: Any
    set_paused: Any
    reset: Any
    state: int = State.PRIMARY_STATE_UNKNOWN
    last_answer: float = 0.0
    mode: int = msg.StationStatus.MODE_INACTIVE
    message: str = ""
    in_flight: Any = None  # the heartbeat query waiting for an answer
    sent_at: float = 0.0
    lost: bool = False  # reported lost (no answer within the lease) and not back yet
    lost_at: float = 0.0
    heard: bool = False  # a status of it has arrived since this manager started


class LabManager(Node):
    """Lifecycle manager, e-stop owner and health reporter of one lab."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("lab_manager", **kwargs)
        self._group = ReentrantCallbackGroup()
        self.declare_parameter("managed_nodes", [""], ParameterDescriptor(description="station nodes, startup order"))
        self.declare_parameter("autostart", True, ParameterDescriptor(description="configure + activate at start"))
        self.declare_parameter("health_period_s", 1.0, ParameterDescriptor(description="health check period"))
        self.declare_parameter("transition_timeout_s", 60.0, ParameterDescriptor(description="per transition"))
        self.declare_parameter("service_wait_s", 30.0, ParameterDescriptor(description="wait for nodes at startup"))
        self.declare_parameter(
            "liveliness_lease_s",
            3.0,
            ParameterDescriptor(description="a station that has not answered the heartbeat this long is not alive"),
        )
        self.declare_parameter(
            "reactivate", True, ParameterDescriptor(description="bring a station that comes back unconfigured up again")
        )
        self.declare_parameter(
            "estop_file",
            "",
            ParameterDescriptor(description="the e-stop state, kept across a restart of this node (empty: none)"),
        )
        self.declare_parameter(
            "estop_learn_s",
            10.0,
            ParameterDescriptor(
                description="with no estop_file: publish the e-stop once every station's status is heard, or after this"
            ),
        )
        names = [n for n in self.get_parameter("managed_nodes").value if n]
        self.managed = {name: self._make_managed(name) for name in names}
        self._wanted_active: set[str] = set()  # brought up by startup() and not shut down since
        self._reactivating: set[str] = set()
        self._transition_lock = threading.Lock()
        self._pending: set[Any] = set()  # health queries in flight, cancelled at shutdown
        self._closing = False
        self._started = time.monotonic()
        self._estop_file = (
            Path(str(self.get_parameter("estop_file").value)) if self.get_parameter("estop_file").value else None
        )
        self._estop = msg.EStopState(engaged=False, reason="", source="lab_manager")
        self.estop_pub = self.create_publisher(msg.EStopState, ESTOP_TOPIC, LATCHED)
        self.health_pub = self.create_publisher(msg.LabHealth, HEALTH_TOPIC, LATCHED)
        self._estop_known = self._load_estop()
        if self._estop_known:
            self._set_estop(self._estop)
        self.create_service(srv.ManageLab, MANAGE_SERVICE, self._on_manage, callback_group=self._group)
        self.create_service(srv.EStop, ESTOP_SERVICE, self._on_estop, callback_group=self._group)
        self.create_service(srv.Reset, RESET_SERVICE, self._on_reset, callback_group=self._group)
        for name in self.managed:
            self.create_subscription(
                msg.StationStatus, f"{name}/status", self._on_status, LATCHED, callback_group=self._group
            )
            self.create_subscription(
                TransitionEvent,
                f"{name}/transition_event",
                lambda event, name=name: self._on_transition_event(name, event),
                10,
                callback_group=self._group,
            )
        period = float(self.get_parameter("health_period_s").value)
        self.create_timer(period, self._check_health, callback_group=self._group, clock=WALL_CLOCK)
        if self.get_parameter("autostart").value:
            threading.Thread(target=self._autostart, daemon=True).start()

    def _make_managed(self, name: str) -> _Managed:
        group = self._group
        return _Managed(
            name,
            self.create_client(ChangeState, f"{name}/change_state", callback_group=group),
            self.create_client(GetState, f"{name}/get_state", callback_group=group),
            self.create_client(SetBool, f"{name}/set_paused", callback_group=group),
            self.create_client(Trigger, f"{name}/reset", callback_group=group),
        )

    def _stamped(self, message: msg.EStopState) -> msg.EStopState:
        message.stamp = stamp(self.get_clock().now().nanoseconds * 1e-9)
        return message

    def _load_estop(self) -> bool:
        """The e-stop state a manager before this one left in estop_file; False: not known (learn it)."""
        if self._estop_file is None:
            return False
        try:
            saved = json.loads(self._estop_file.read_text())
        except FileNotFoundError:
            return False  # the lab's first manager (a new lab deletes the file), or the file was lost: learn
        except (OSError, ValueError) as error:
            self.get_logger().error(f"e-stop file {self._estop_file} unreadable ({error}): learning from stations")
            return False
        if saved.get("engaged"):
            reason = str(saved.get("reason", ""))
            self._estop = msg.EStopState(engaged=True, reason=reason, source=str(saved.get("source", "")))
            self.get_logger().error(f"E-STOP still engaged (before this lab manager started): {reason}")
        return True

    def _set_estop(self, state: msg.EStopState) -> None:
        """Keep the e-stop state (in estop_file first, so a manager dying right after still knows it), publish it."""
        self._estop, self._estop_known = state, True
        if self._estop_file is not None:
            data = {"engaged": bool(state.engaged), "reason": state.reason, "source": state.source}
            try:
                self._estop_file.parent.mkdir(parents=True, exist_ok=True)
                partial = self._estop_file.with_suffix(".tmp")
                partial.write_text(json.dumps(data))
                os.replace(partial, self._estop_file)
            except OSError as error:
                self.get_logger().error(f"e-stop state not kept in {self._estop_file}: {error}")
        self.estop_pub.publish(self._stamped(state))

    def _learn_estop(self) -> None:
        """No file told the e-stop state: engaged if a station says it is e-stopped, else released."""
        stopped = [n for n in self.managed.values() if n.mode == msg.StationStatus.MODE_ESTOPPED]
        if stopped:
            names = ", ".join(n.name for n in stopped)
            state = msg.EStopState(
                engaged=True,
                reason=f"engaged before the lab manager restarted ({names} e-stopped)",
                source="lab_manager",
            )
            self.get_logger().error(f"E-STOP still engaged: {state.reason}")
        else:
            state = msg.EStopState(engaged=False, reason="", source="lab_manager")
        self._set_estop(state)

    # --- lifecycle management ---

    def _autostart(self) -> None:
        ok, text = self.startup(list(self.managed))
        if ok:
            self.get_logger().info(f"autostart: {text}")
        else:
            self.get_logger().error(f"autostart: {text}")

    def _query_state(self, node: _Managed, timeout_s: float) -> int:
        """The node's lifecycle state, asked again while a reply is lost (ADR 0110)."""
        node.state = lifecycle_calls.query_state(node.get_state, timeout_s, f"{node.name}/get_state")
        node.last_answer = time.monotonic()
        return node.state

    def _transition(self, node: _Managed, transition: int) -> bool:
        """One transition; success is the node being in the transition's goal state afterwards (ADR 0110)."""
        timeout = float(self.get_parameter("transition_timeout_s").value)
        reached, node.state = lifecycle_calls.change_state(
            node.change_state, node.get_state, transition, timeout, f"{node.name}/change_state"
        )
        node.last_answer = time.monotonic()
        return reached

    def startup(self, names: list[str]) -> tuple[bool, str]:
        """Configure and activate nodes in order; stop at the first that fails."""
        wait_s = float(self.get_parameter("service_wait_s").value)
        with self._transition_lock:
            for name in names:
                node = self.managed[name]
                try:
                    if not node.change_state.wait_for_service(timeout_sec=wait_s):
                        return False, f"{name}: lifecycle services not available after {wait_s:g} s"
                    state = self._query_state(node, wait_s)
                    if state == State.PRIMARY_STATE_UNCONFIGURED and not self._transition(
                        node, Transition.TRANSITION_CONFIGURE
                    ):
                        return False, f"{name}: configure failed (see its log)"
                    if node.state == State.PRIMARY_STATE_INACTIVE and not self._transition(
                        node, Transition.TRANSITION_ACTIVATE
                    ):
                        return False, f"{name}: activate failed (see its log)"
                    self._wanted_active.add(name)
                except PowderLabError as error:
                    return False, f"{name}: {error}"
            return True, f"active: {', '.join(names)}"

    def shutdown(self, names: list[str]) -> tuple[bool, str]:
        """Deactivate, clean up and shut down nodes in reverse order; try every node."""
        problems = []
        self._wanted_active.difference_update(names)
        with self._transition_lock:
            for name in reversed(names):
                node = self.managed[name]
                try:
                    state = self._query_state(node, 5.0)
                    if state == State.PRIMARY_STATE_ACTIVE:
                        self._transition(node, Transition.TRANSITION_DEACTIVATE)
                    if node.state == State.PRIMARY_STATE_INACTIVE:
                        self._transition(node, Transition.TRANSITION_CLEANUP)
                    if node.state == State.PRIMARY_STATE_UNCONFIGURED:
                        self._transition(node, Transition.TRANSITION_UNCONFIGURED_SHUTDOWN)
                except PowderLabError as error:
                    problems.append(f"{name}: {error}")
        return not problems, "; ".join(problems) or f"shut down: {', '.join(names)}"

    def set_paused(self, names: list[str], paused: bool) -> tuple[bool, str]:
        problems = []
        for name in names:
            try:
                response = wait_future(
                    self.managed[name].set_paused.call_async(SetBool.Request(data=paused)), 5.0, f"{name}/set_paused"
                )
                if not response.success:
                    problems.append(f"{name}: {response.message}")
            except PowderLabError as error:
                problems.append(f"{name}: {error}")
        word = "paused" if paused else "resumed"
        return not problems, "; ".join(problems) or f"{word}: {', '.join(names)}"

    def _on_manage(self, request: srv.ManageLab.Request, response: srv.ManageLab.Response) -> srv.ManageLab.Response:
        names = list(request.stations) or list(self.managed)
        unknown = [n for n in names if n not in self.managed]
        if unknown:
            response.success = False
            response.message = f"unknown stations {unknown}; managed: {', '.join(self.managed)}"
            return response
        commands = {
            srv.ManageLab.Request.STARTUP: lambda: self.startup(names),
            srv.ManageLab.Request.SHUTDOWN: lambda: self.shutdown(names),
            srv.ManageLab.Request.PAUSE: lambda: self.set_paused(names, True),
            srv.ManageLab.Request.RESUME: lambda: self.set_paused(names, False),
        }
        if request.command not in commands:
            response.success, response.message = False, f"unknown command {request.command}; allowed: 0..3"
            return response
        response.success, response.message = commands[request.command]()
        word = {0: "startup", 1: "pause", 2: "resume", 3: "shutdown"}.get(request.command, request.command)
        line = f"manage {word} by {request.source or 'unknown'}: {response.message}"
        if request.command in (srv.ManageLab.Request.PAUSE, srv.ManageLab.Request.RESUME):
            self.get_logger().warn(line)  # the alarm log shows who paused the lab
        else:
            self.get_logger().info(line)
        return response

    # --- e-stop ---

    def _on_estop(self, request: srv.EStop.Request, response: srv.EStop.Response) -> srv.EStop.Response:
        self._set_estop(msg.EStopState(engaged=True, reason=request.reason or "emergency stop", source=request.source))
        self.get_logger().error(f"E-STOP engaged by {request.source or 'unknown'}: {request.reason}")
        response.success, response.message = True, "e-stop engaged"
        return response

    def _on_reset(self, request: srv.Reset.Request, response: srv.Reset.Response) -> srv.Reset.Response:
        self._set_estop(msg.EStopState(engaged=False, reason="", source=request.source))
        problems = []
        for node in self.managed.values():
            if node.state != State.PRIMARY_STATE_ACTIVE:
                continue
            deadline = time.monotonic() + 3.0
            while True:  # the station may not have seen the release yet
                try:
                    answer = wait_future(node.reset.call_async(Trigger.Request()), 5.0, f"{node.name}/reset")
                except PowderLabError as error:
                    problems.append(str(error))
                    break
                if answer.success or time.monotonic() > deadline:
                    if not answer.success:
                        problems.append(f"{node.name}: {answer.message}")
                    break
                time.sleep(0.05)
        self.get_logger().warn(f"reset by {request.source or 'unknown'}")
        response.success = not problems
        response.message = "; ".join(problems) or "e-stop released, station faults cleared"
        return response

    # --- health ---

    def _on_status(self, message: msg.StationStatus) -> None:
        for node in self.managed.values():
            if node.name.rsplit("/", 1)[-1] == message.station or node.name == message.station:
                node.mode, node.message, node.heard = message.mode, message.message, True

    def _check_health(self) -> None:
        if self._closing:
            return
        lease = float(self.get_parameter("liveliness_lease_s").value)
        now = time.monotonic()
        if not self._estop_known and (
            all(n.heard for n in self.managed.values())
            or now - self._started >= float(self.get_parameter("estop_learn_s").value)
        ):
            self._learn_estop()
        for node in self.managed.values():
            if node.in_flight is not None and now - node.sent_at > lease:
                node.in_flight.cancel()  # unanswered (cable pulled, process gone): ask again, not pile up
                self._pending.discard(node.in_flight)
                node.in_flight = None
            if node.in_flight is None and node.get_state.service_is_ready():
                future = node.get_state.call_async(GetState.Request())
                node.in_flight, node.sent_at = future, now
                self._pending.add(future)
                future.add_done_callback(lambda f, n=node: self._on_state(n, f))
        nodes = []
        for node in self.managed.values():
            if not node.last_answer and now - self._started < lease:
                continue  # not asked long enough to tell (this manager just started): the last report stands
            alive = now - node.last_answer < lease
            if not alive and not node.lost and node.name in self._wanted_active:  # not after a SHUTDOWN
                node.lost, node.lost_at = True, now
                self.get_logger().error(
                    f"station {node.name} lost: no answer for {now - node.last_answer:.1f} s "
                    f"(lease {lease:g} s); marked unavailable"
                )
            nodes.append(
                msg.NodeHealth(
                    name=node.name,
                    lifecycle_state=STATE_LABELS.get(node.state, "unknown") if alive else "unknown",
                    alive=alive,
                    mode=node.mode,
                    message=node.message,
                )
            )
        all_active = len(nodes) == len(self.managed) > 0 and all(
            n.alive and n.lifecycle_state == "active" for n in nodes
        )
        self.health_pub.publish(
            msg.LabHealth(
                stamp=stamp(self.get_clock().now().nanoseconds * 1e-9),
                all_active=all_active,
                estop_engaged=self._estop.engaged,
                nodes=nodes,
            )
        )

    def _on_state(self, node: _Managed, future: Any) -> None:
        self._pending.discard(future)
        if node.in_flight is future:
            node.in_flight = None
        if future.cancelled() or future.exception() is not None or future.result() is None:
            return
        node.state, node.last_answer = future.result().current_state.id, time.monotonic()
        if node.lost:
            node.lost = False
            self.get_logger().warn(
                f"station {node.name} back after {node.last_answer - node.lost_at:.1f} s "
                f"({STATE_LABELS.get(node.state, 'unknown')})"
            )
        if (
            node.state == State.PRIMARY_STATE_UNCONFIGURED
            and node.name in self._wanted_active
            and node.name not in self._reactivating
            and bool(self.get_parameter("reactivate").value)
            and not self._closing
        ):
            # a station we had brought up is unconfigured: its process died and was respawned
            self._reactivating.add(node.name)
            threading.Thread(target=self._reactivate, args=(node.name,), daemon=True).start()

    def _on_transition_event(self, name: str, event: TransitionEvent) -> None:
        """Follow transitions others make: a station cleaned up on purpose (a technician's reconfigure)
        is not brought up again behind their back; one they activate is looked after again.

        A respawned process starts unconfigured without a cleanup, so only that is re-activated. Before
        this, the manager configured a station a technician had just cleaned up, with its old
        parameters, and the technician's own configure then hit the wrong state and killed the station.
        """
        if event.goal_state.id == State.PRIMARY_STATE_UNCONFIGURED and (
            event.start_state.id == State.TRANSITION_STATE_CLEANINGUP
        ):
            self._wanted_active.discard(name)
        elif event.goal_state.id == State.PRIMARY_STATE_ACTIVE:
            self._wanted_active.add(name)

    def _reactivate(self, name: str) -> None:
        try:
            time.sleep(REACTIVATE_DELAY_S)  # a cleanup's transition event may come just after the heartbeat
            if name not in self._wanted_active:
                return
            self.get_logger().warn(f"station {name} came back unconfigured (restarted): configuring and activating it")
            ok, text = self.startup([name])
            if ok:
                self.get_logger().info(f"station {name} re-activated")
            else:
                self.get_logger().error(f"station {name} not re-activated: {text}")
        finally:
            self._reactivating.discard(name)

    def safe_shutdown(self) -> None:
        """Process exit: stop querying and drop the queries in flight."""
        self._closing = True
        for future in list(self._pending):
            future.cancel()
        self._pending.clear()


def main(args: list[str] | None = None) -> int:
    rclpy.init(args=args if args is not None else sys.argv)
    spin_node(LabManager(), threads=8)
    return 0


if __name__ == "__main__":
    sys.exit(main())
