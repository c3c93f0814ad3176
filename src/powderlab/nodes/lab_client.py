"""Talk to a running lab from plain Python: scripts, the CLI, tests and the autonomy node.

LabClient spins its own rclpy context in a background thread, so callers simply call
methods and get results: run an action goal, cancel it, read health and positions, e-stop.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import rclpy
from lifecycle_msgs.msg import Transition
from lifecycle_msgs.srv import ChangeState, GetState
from powderlab_interfaces import msg, srv
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.context import Context
from rclpy.executors import MultiThreadedExecutor
from rclpy.parameter import Parameter
from rclpy.parameter_client import AsyncParameterClient
from rclpy.signals import SignalHandlerOptions
from std_srvs.srv import SetBool

from powderlab.core.errors import (
    DeviceTimeoutError,
    ErrorCode,
    StationUnavailableError,
    UnknownResourceError,
    ValidationError,
)
from powderlab.core.samples import SampleRef
from powderlab.nodes import lifecycle_calls
from powderlab.nodes.action_client import LockedActionClient
from powderlab.nodes.conversions import MessageCodec, action_type
from powderlab.nodes.futures import wait_future
from powderlab.nodes.qos import ESTOP_SERVICE, HEALTH_TOPIC, LATCHED, MANAGE_SERVICE, POSITIONS_TOPIC, RESET_SERVICE
from powderlab.stations.operations import OPERATIONS, operation_of
from powderlab.stations.xrd import MeasureRequest

# Start-up may go on while nodes make progress, at most this many times its no-progress limit.
START_UP_PROGRESS_LIMIT = 5


def start_up_ended_because(last_chance: float, timeout_s: float) -> str:
    """Why a start-up wait ended: no progress, or progress that never ends (a node restarting over and over)."""
    if time.monotonic() >= last_chance:
        limit = START_UP_PROGRESS_LIMIT * timeout_s
        return f"still changing state after {limit:g} s (a node restarting again and again?)"
    return f"no progress for {timeout_s:g} s"


# The action class of every operation, from the registry (ADR 0088).
ACTION_TYPES: dict[str, type] = {name: action_type(op) for name, op in OPERATIONS.items()}


@dataclass
class GoalRun:
    """A goal that was sent: wait for its result or cancel it."""

    station: str
    action: str
    handle: Any
    result_future: Any

    def cancel(self, timeout_s: float = 10.0) -> None:
        wait_future(self.handle.cancel_goal_async(), timeout_s, f"cancel {self.station}/{self.action}")

    def result(self, timeout_s: float = 3600.0) -> Any:
        """The action's Result message (error_code, error_msg and the outcome)."""
        return wait_future(self.result_future, timeout_s, f"{self.station}/{self.action} result").result

    @property
    def done(self) -> bool:
        return self.result_future.done()


class LabClient:
    """A client of one lab (one namespace)."""

    def __init__(self, namespace: str = "", node_name: str | None = None, args: list[str] | None = None) -> None:
        """args: ROS command-line arguments (--ros-args ...: remaps, params files) for this client's node."""
        self.context = Context()
        rclpy.init(args=args, context=self.context, signal_handler_options=SignalHandlerOptions.NO)
        name = node_name or f"powderlab_client_{uuid.uuid4().hex[:8]}"
        self.node = rclpy.create_node(name, namespace=namespace, context=self.context)
        self._group = ReentrantCallbackGroup()
        self._action_clients: dict[tuple[str, str], LockedActionClient] = {}
        self._latest: dict[str, Any] = {}
        self._events: dict[str, threading.Event] = {}
        self._subscribe(HEALTH_TOPIC, msg.LabHealth)
        self._subscribe(POSITIONS_TOPIC, msg.PositionTable)
        self._manage = self.node.create_client(srv.ManageLab, MANAGE_SERVICE, callback_group=self._group)
        self._estop = self.node.create_client(srv.EStop, ESTOP_SERVICE, callback_group=self._group)
        self._reset = self.node.create_client(srv.Reset, RESET_SERVICE, callback_group=self._group)
        self._service_clients: dict[tuple[type, str], Any] = {}
        self.executor = MultiThreadedExecutor(num_threads=4, context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True, name="lab-client")
        self._thread.start()

    # --- topics ---

    def _subscribe(self, topic: str, message_type: type) -> None:
        self._events[topic] = threading.Event()

        def store(message: Any) -> None:
            self._latest[topic] = message
            self._events[topic].set()

        self.node.create_subscription(message_type, topic, store, LATCHED, callback_group=self._group)

    def latest(self, topic: str, timeout_s: float = 0.0) -> Any:
        """The last message on a latched topic this client follows (None if none within timeout)."""
        if topic not in self._events:
            raise UnknownResourceError("topic followed by the client", topic, self._events)
        self._events[topic].wait(timeout_s)
        return self._latest.get(topic)

    def follow_status(self, station: str) -> None:
        """Also follow <station>/status (latest() then returns it)."""
        topic = f"{station}/status"
        if topic not in self._events:
            self._subscribe(topic, msg.StationStatus)

    def status(self, station: str, timeout_s: float = 5.0) -> msg.StationStatus | None:
        self.follow_status(station)
        return self.latest(f"{station}/status", timeout_s)

    def health(self, timeout_s: float = 0.0) -> msg.LabHealth | None:
        return self.latest(HEALTH_TOPIC, timeout_s)

    def wait_all_active(self, timeout_s: float = 60.0, alive: Callable[[], bool] | None = None) -> msg.LabHealth:
        """Wait until the lab manager reports every node active.

        timeout_s counts from the last progress (a node changing state), not from the start: on a
        loaded machine five stations come up slowly but steadily, while a stuck one still ends the wait.
        """
        deadline = time.monotonic() + timeout_s
        last_chance = time.monotonic() + START_UP_PROGRESS_LIMIT * timeout_s  # a station crash-looping moves too
        seen: tuple[tuple[str, str, bool], ...] = ()
        while time.monotonic() < min(deadline, last_chance):
            health = self.health(0.2)
            if health is not None and health.all_active:
                return health
            states = tuple((n.name, n.lifecycle_state, n.alive) for n in health.nodes) if health else ()
            if states != seen:
                seen, deadline = states, time.monotonic() + timeout_s
            if alive is not None and not alive():
                break
            time.sleep(0.1)
        health = self.health()
        states = ", ".join(f"{n.name}={n.lifecycle_state}" for n in health.nodes) if health else "no health report"
        why = start_up_ended_because(last_chance, timeout_s)
        raise DeviceTimeoutError("lab", f"not every node became active: {why} ({states})")

    def positions(self, timeout_s: float = 5.0) -> dict[str, msg.PositionState]:
        table = self.latest(POSITIONS_TOPIC, timeout_s)
        if table is None:
            raise DeviceTimeoutError("lab", "no position table on lab/positions; is the transfer node active?")
        return {p.name: p for p in table.positions}

    def wait_positions(self, condition: Callable[[dict[str, msg.PositionState]], bool], timeout_s: float = 5.0) -> None:
        """Wait until the published position table satisfies condition."""
        deadline = time.monotonic() + timeout_s
        while not condition(self.positions(timeout_s)):
            if time.monotonic() > deadline:
                raise DeviceTimeoutError("lab", "the position table did not reach the expected state")
            time.sleep(0.02)

    # --- services ---

    def _call(self, client: Any, request: Any, timeout_s: float) -> Any:
        if not client.wait_for_service(timeout_sec=timeout_s):
            raise StationUnavailableError(f"service {client.srv_name} not available; is the lab manager running?")
        return wait_future(client.call_async(request), timeout_s, client.srv_name)

    def manage(
        self, command: int, stations: list[str] | None = None, timeout_s: float = 120.0, source: str = "client"
    ) -> tuple[bool, str]:
        request = srv.ManageLab.Request(command=command, stations=stations or [], source=source)
        response = self._call(self._manage, request, timeout_s)
        return response.success, response.message

    def shutdown_lab(self, timeout_s: float = 120.0, source: str = "client") -> tuple[bool, str]:
        """The lab manager's orderly shutdown of every station (deactivate, cleanup, shutdown)."""
        return self.manage(srv.ManageLab.Request.SHUTDOWN, timeout_s=timeout_s, source=source)

    def estop(self, reason: str, source: str = "client", timeout_s: float = 10.0) -> tuple[bool, str]:
        response = self._call(self._estop, srv.EStop.Request(reason=reason, source=source), timeout_s)
        return response.success, response.message

    def reset(self, source: str = "client", timeout_s: float = 30.0) -> tuple[bool, str]:
        response = self._call(self._reset, srv.Reset.Request(source=source), timeout_s)
        return response.success, response.message

    def _service(self, service_type: type, name: str) -> Any:
        key = (service_type, name)
        if key not in self._service_clients:
            self._service_clients[key] = self.node.create_client(service_type, name, callback_group=self._group)
        return self._service_clients[key]

    def call(self, service_type: type, name: str, request: Any, timeout_s: float = 10.0) -> Any:
        """Call any service of the lab (created once per name, then reused)."""
        return self._call(self._service(service_type, name), request, timeout_s)

    def manual(
        self,
        station: str,
        command: str,
        target: str = "",
        argument: str = "",
        source: str = "client",
        timeout_s: float = 60.0,
    ) -> srv.ManualCommand.Response:
        """A manual command to a station (<station>/manual): gripper, doors, tare; see ManualCommand.srv."""
        request = srv.ManualCommand.Request(command=command, target=target, argument=argument, source=source)
        return self.call(srv.ManualCommand, f"{station}/manual", request, timeout_s)

    def jog(
        self,
        arm: str,
        frame: int,
        axis: int,
        speed: float,
        source: str = "client",
        station: str = "transfer",
        timeout_s: float = 5.0,
    ) -> srv.JogArm.Response:
        """One jog increment of an arm (<station>/jog); see JogArm.srv."""
        request = srv.JogArm.Request(arm=arm, frame=int(frame), axis=int(axis), speed=float(speed), source=source)
        return self.call(srv.JogArm, f"{station}/jog", request, timeout_s)

    def set_position(
        self,
        position: str,
        labware_id: str = "",
        labware_kind: str = "",
        sample_id: str = "",
        source: str = "client",
        station: str = "transfer",
        timeout_s: float = 10.0,
    ) -> tuple[bool, str]:
        """Confirm what stands at a position (empty labware_id: nothing); the table is updated."""
        request = srv.SetPosition.Request(
            position=position,
            clear=not labware_id,
            labware_id=labware_id,
            labware_kind=labware_kind,
            sample_id=sample_id,
            source=source,
        )
        response = self.call(srv.SetPosition, f"{station}/set_position", request, timeout_s)
        return response.success, response.message

    def set_bool(self, service: str, value: bool, timeout_s: float = 10.0) -> tuple[bool, str]:
        """Call a std_srvs/SetBool service (e.g. the autonomy node's autonomy/set_paused)."""
        response = self.call(SetBool, service, SetBool.Request(data=bool(value)), timeout_s)
        return bool(response.success), response.message

    # --- one node's lifecycle and parameters ---

    def change_state(self, node: str, transition: int, timeout_s: float = 60.0) -> bool:
        """Trigger one lifecycle transition (lifecycle_msgs/Transition id) of a node; True when it got there.

        The clients are kept: each new one's first reply is the one a loaded machine may drop.
        """
        change = self._service(ChangeState, f"{node}/change_state")
        get_state = self._service(GetState, f"{node}/get_state")
        for client in (change, get_state):
            if not client.wait_for_service(timeout_sec=timeout_s):
                raise StationUnavailableError(f"service {client.srv_name} not available; is {node} running?")
        reached, _ = lifecycle_calls.change_state(change, get_state, transition, timeout_s, f"{node}/change_state")
        return reached

    def set_parameters(self, node: str, values: dict[str, Any], timeout_s: float = 10.0) -> None:
        """Set parameters of a running node; raises ValidationError naming a refused one."""
        client = AsyncParameterClient(self.node, node, callback_group=self._group)
        if not client.wait_for_services(timeout_sec=timeout_s):
            raise StationUnavailableError(f"parameter services of {node} not available")
        future = client.set_parameters([Parameter(name, value=value) for name, value in values.items()])
        response = wait_future(future, timeout_s, f"{node} set_parameters")
        for name, result in zip(values, response.results, strict=True):
            if not result.successful:
                raise ValidationError(f"{node} parameter {name}", result.reason or "refused")

    def reconfigure(self, station: str, parameters: dict[str, Any], timeout_s: float = 60.0) -> None:
        """Take a station down to unconfigured, change its parameters, bring it back to active.

        How a technician swaps a station's backend or its settings without restarting the lab.
        """
        steps = [Transition.TRANSITION_DEACTIVATE, Transition.TRANSITION_CLEANUP]
        for step in steps:
            if not self.change_state(station, step, timeout_s):
                raise StationUnavailableError(f"{station}: lifecycle transition {step} failed")
        self.set_parameters(station, parameters)
        for step in (Transition.TRANSITION_CONFIGURE, Transition.TRANSITION_ACTIVATE):
            if not self.change_state(station, step, timeout_s):
                raise StationUnavailableError(f"{station}: lifecycle transition {step} failed (see its log)")

    # --- actions ---

    def _action_client(self, station: str, action: str) -> LockedActionClient:
        if action not in ACTION_TYPES:
            raise UnknownResourceError("action", action, ACTION_TYPES)
        key = (station, action)
        if key not in self._action_clients:
            self._action_clients[key] = LockedActionClient(
                self.node, ACTION_TYPES[action], f"{station}/{action}", callback_group=self._group
            )
        return self._action_clients[key]

    def send(
        self,
        station: str,
        action: str,
        goal: Any,
        feedback: Callable[[Any], None] | None = None,
        timeout_s: float = 30.0,
    ) -> GoalRun:
        """Send a goal; StationUnavailableError if the station is not there or rejects it.

        30 s for the goal response: on a loaded two-core lab computer 10 s was seen to pass.
        """
        client = self._action_client(station, action)
        if not client.wait_for_server(timeout_sec=timeout_s):
            raise StationUnavailableError(f"action {station}/{action} not available within {timeout_s:g} s")
        callback = (lambda message: feedback(message.feedback)) if feedback else None
        handle = wait_future(client.send_goal_async(goal, feedback_callback=callback), timeout_s, f"{station}/{action}")
        if not handle.accepted:
            raise StationUnavailableError(f"{station}/{action} rejected the goal (station not active)")
        return GoalRun(station, action, handle, handle.get_result_async())

    def measure_xrd(self, station: str, labware_id: str, sample_id: str, source: str, destination: str = "") -> GoalRun:
        """Send a measure_xrd goal (station defaults for the scan) for the crucible at source."""
        request = MeasureRequest(SampleRef(sample_id, labware_id), source, destination)
        return self.send(station, "measure_xrd", MessageCodec().goal(request))

    def run(self, station: str, action: str, goal: Any, timeout_s: float = 3600.0, **kwargs: Any) -> Any:
        """Send a goal and wait for its Result."""
        return self.send(station, action, goal, **kwargs).result(timeout_s)

    def run_request(self, station: str, request: Any, timeout_s: float = 3600.0, **kwargs: Any) -> tuple[Any, Any]:
        """Run a typed request (its operation from the registry): (the Result message, the typed result)."""
        op, codec = operation_of(request), MessageCodec()
        result = self.run(station, op.name, codec.goal(request), timeout_s, **kwargs)
        return result, codec.result(op, result)

    def close(self) -> None:
        for client in self._action_clients.values():
            client.destroy()
        for service_client in self._service_clients.values():
            self.node.destroy_client(service_client)
        self.executor.shutdown(timeout_sec=2.0)
        self._thread.join(timeout=5.0)
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)

    def __enter__(self) -> LabClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def error_name(code: int) -> str:
    try:
        return ErrorCode(code).name
    except ValueError:
        return str(code)
