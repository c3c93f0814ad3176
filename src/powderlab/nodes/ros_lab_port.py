"""The campaign engine's LabPort over ROS: station actions, the position service, status topics.

Every goal is sent with the operation's id as its goal UUID, so after a restart the engine asks
each action server for the result of a goal it recorded (`<action>/_action/get_result`): the
server answers when the goal ends, or at once with STATUS_UNKNOWN when it never received it.

The lab manager's heartbeat (`lab/health`, ADR 0096) says which stations are alive: a station that
does not answer is reported unavailable (its latched status would still say "active"). When a
station is alive and active again after being lost or restarted, the port asks it again for the
result of each of its goals in flight (a result lost with a dead link or a dead process would
otherwise never come); a goal the station had accepted and no longer knows comes back with
`station_restarted` (ADR 0102).
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

from action_msgs.msg import GoalStatus
from powderlab_interfaces import msg, srv
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node
from unique_identifier_msgs.msg import UUID

from powderlab.autonomy.estimates import StationEstimator
from powderlab.autonomy.port import Completion, FurnaceInfo, LabState, StationInfo, mill_info
from powderlab.autonomy.state import OpRecord
from powderlab.core.errors import DeviceTimeoutError, ErrorCode
from powderlab.core.positions import PositionSnapshot
from powderlab.core.site import SiteProfile
from powderlab.core.xrd import XrdPattern
from powderlab.drivers.sim.link import CONTROL, lease_scope
from powderlab.drivers.sim.lockstep import LockstepLink
from powderlab.nodes.action_client import LockedActionClient
from powderlab.nodes.conversions import MessageCodec
from powderlab.nodes.futures import wait_future
from powderlab.nodes.lab_client import ACTION_TYPES
from powderlab.nodes.qos import ESTOP_TOPIC, HEALTH_TOPIC, LATCHED
from powderlab.nodes.ros_cell import position_from_msg
from powderlab.stations.operations import operation

WAIT_CAP_S = 0.2  # wall seconds: the engine looks at the lab at least this often
ENGINE_LEASE = "campaign-engine"
FINISHED = {GoalStatus.STATUS_SUCCEEDED, GoalStatus.STATUS_ABORTED, GoalStatus.STATUS_CANCELED}
CODEC = MessageCodec()  # goals and results carry no stamps: no clock needed


def goal_message(action: str, goal: dict[str, Any]) -> Any:
    """The action goal of a stored operation goal (through its typed request)."""
    return CODEC.goal(operation(action).request_from_data(goal))


def result_data(action: str, result: Any) -> tuple[dict[str, Any], XrdPattern | None]:
    """The stored data of an action Result, and the pattern it carries (stored on its own)."""
    op = operation(action)
    typed = CODEC.result(op, result)
    return op.result_to_data(typed), op.pattern(typed)


class RosLabPort:
    """LabPort of a lab reached through ROS from `node` (which an executor spins elsewhere)."""

    def __init__(
        self,
        node: Node,
        site: SiteProfile,
        transfer_node: str = "transfer",
        params_file: str | None = None,
        lockstep: LockstepLink | None = None,
    ) -> None:
        """lockstep: the twin's lease link, when the lab runs on the twin (ADR 0082): then every goal
        is a lease from its sending until the engine has taken its result, and the engine is a lease
        that waits in sim time in wait()."""
        self.node = node
        self.lockstep = lockstep
        self._engine_in_lockstep = False
        self.site = site
        self.group = ReentrantCallbackGroup()
        self.transfer_node = transfer_node
        self.estimator = StationEstimator(site, params_file)
        self._clients: dict[tuple[str, str], LockedActionClient] = {}
        self._result_clients: dict[tuple[str, str], Any] = {}
        self._tombstone_clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._done: list[Completion] = []
        self._event = threading.Event()
        self._handles: dict[str, Any] = {}
        self._status: dict[str, msg.StationStatus] = {}
        self._estop: msg.EStopState | None = None
        self._alive: dict[str, bool] = {}  # station -> the lab manager's heartbeat says it answers
        self._down: set[str] = set()  # stations lost or not active since they were last alive and active
        self._seen_alive: set[str] = set()  # stations the heartbeat has reported alive at least once
        self._inflight: dict[str, OpRecord] = {}  # goals whose outcome has not come yet, by op id
        self._accepted: set[str] = set()  # goals a station accepted from this port (restart detection)
        self._finished: set[str] = set()  # op ids already answered (a result asked twice counts once)
        self._positions = node.create_client(
            srv.GetPositions, f"{transfer_node}/get_positions", callback_group=self.group
        )
        node.create_subscription(msg.EStopState, ESTOP_TOPIC, self._on_estop, LATCHED, callback_group=self.group)
        node.create_subscription(msg.LabHealth, HEALTH_TOPIC, self._on_health, LATCHED, callback_group=self.group)
        for station in site.stations:
            node.create_subscription(
                msg.StationStatus,
                f"{station}/status",
                lambda message, name=station: self._status.__setitem__(name, message),
                LATCHED,
                callback_group=self.group,
            )

    def _on_estop(self, message: msg.EStopState) -> None:
        self._estop = message

    def _on_health(self, message: msg.LabHealth) -> None:
        """Follow the heartbeat; a station alive and active again is asked for its goals' results."""
        for health in message.nodes:
            station = health.name.rsplit("/", 1)[-1]
            if station not in self.site.stations:
                continue
            if health.alive:
                self._seen_alive.add(station)
            elif station not in self._seen_alive:
                # the lab manager has not heard from it yet (start-up): not up yet, not lost; the
                # engine's start waits for active stations, and a station never up has no goals here
                continue
            self._alive[station] = bool(health.alive)
            if not health.alive or health.lifecycle_state != "active":
                self._down.add(station)
                continue
            if station in self._down:
                self._down.discard(station)
                with self._lock:
                    again = [op for op in self._inflight.values() if op.station == station]
                if again:  # not in this callback: the result service may take seconds to be discovered again
                    threading.Thread(target=self._ask_again, args=(again,), daemon=True).start()

    def _ask_again(self, ops: list[OpRecord]) -> None:
        for op in ops:
            self._ask_result(op, restart_known=op.id in self._accepted, again=True)

    # --- time ---

    def now(self) -> float:
        if self.lockstep is not None:
            return self.lockstep.now()
        return self.node.get_clock().now().nanoseconds * 1e-9

    def join_lockstep(self) -> None:
        """The engine's work holds the twin's clock from now on (call from the engine's thread)."""
        if self.lockstep is not None and not self._engine_in_lockstep:
            self.lockstep.begin(ENGINE_LEASE)
            self._engine_in_lockstep = True

    def leave_lockstep(self) -> None:
        if self.lockstep is not None and self._engine_in_lockstep:
            self.lockstep.end(ENGINE_LEASE)
            self._engine_in_lockstep = False

    def _begin_goal_lease(self, op: OpRecord) -> None:
        if self.lockstep is not None:
            self.lockstep.begin(uuid.UUID(hex=op.id).hex)

    # --- goals ---

    def _client(self, station: str, action: str) -> LockedActionClient:
        key = (station, action)
        if key not in self._clients:
            self._clients[key] = LockedActionClient(
                self.node, ACTION_TYPES[action], f"{station}/{action}", callback_group=self.group
            )
        return self._clients[key]

    def _finish(self, completion: Completion) -> None:
        with self._lock:
            if completion.op_id in self._finished:
                return  # asked again after a station came back, and both answers arrived
            self._finished.add(completion.op_id)
            self._inflight.pop(completion.op_id, None)
            self._done.append(completion)
            if self.lockstep is not None:  # the result is the engine's now: its lease wakes as the goal's ends
                self.lockstep.end(uuid.UUID(hex=completion.op_id).hex, ENGINE_LEASE)
        self._event.set()

    def start(self, op: OpRecord) -> None:
        client = self._client(op.station, op.action)
        started = self.now()
        self._begin_goal_lease(op)
        with self._lock:
            self._inflight[op.id] = op
        if not client.wait_for_server(timeout_sec=10.0):
            self._finish(
                Completion(
                    op.id,
                    int(ErrorCode.STATION_UNAVAILABLE),
                    f"{op.station}/{op.action} not available",
                    started_s=started,
                    ended_s=self.now(),
                )
            )
            return
        goal_uuid = UUID(uuid=list(uuid.UUID(hex=op.id).bytes))
        future = client.send_goal_async(goal_message(op.action, op.goal), goal_uuid=goal_uuid)

        def accepted(done: Any) -> None:
            try:
                handle = done.result()
            except Exception as error:  # transport failure: the engine retries
                self._finish(
                    Completion(
                        op.id,
                        int(ErrorCode.STATION_UNAVAILABLE),
                        f"goal not sent: {error!r}",
                        started_s=started,
                        ended_s=self.now(),
                    )
                )
                return
            if not handle.accepted:
                self._finish(
                    Completion(
                        op.id,
                        int(ErrorCode.STATION_UNAVAILABLE),
                        f"{op.station}/{op.action} rejected the goal (station not active)",
                        started_s=started,
                        ended_s=self.now(),
                    )
                )
                return
            self._handles[op.id] = handle
            self._accepted.add(op.id)
            handle.get_result_async().add_done_callback(lambda r: self._result(op, r.result(), started))

        future.add_done_callback(accepted)

    def _result(self, op: OpRecord, response: Any, started: float | None) -> None:
        self._handles.pop(op.id, None)
        result = response.result
        data, pattern = result_data(op.action, result)
        self._finish(
            Completion(
                op.id,
                int(result.error_code),
                result.error_msg,
                data,
                pattern if result.error_code == 0 else None,
                started,
                self.now(),
            )
        )

    def adopt(self, op: OpRecord) -> None:
        """Ask the action server for the result of a goal sent before a restart."""
        self._begin_goal_lease(op)
        with self._lock:
            self._inflight[op.id] = op
        self._ask_result(op, restart_known=False)

    def _ask_result(self, op: OpRecord, restart_known: bool, again: bool = False, settle: bool = True) -> None:
        """get_result of op's goal; restart_known: the station had accepted it (unknown now = restarted).

        again: asked because the station is back; a result service not reachable yet is no outcome then
        (the goal's own result may still come, and the next time the station comes back it is asked again).
        """
        key = (op.station, op.action)
        action_type = ACTION_TYPES[op.action]
        if key not in self._result_clients:
            self._result_clients[key] = self.node.create_client(
                action_type.Impl.GetResultService,
                f"{op.station}/{op.action}/_action/get_result",
                callback_group=self.group,
            )
        client = self._result_clients[key]
        if not client.wait_for_service(timeout_sec=15.0):
            if again:
                self.node.get_logger().warn(f"{op.station} is back but its result service is not reachable yet")
                return
            self._finish(
                Completion(op.id, int(ErrorCode.STATION_UNAVAILABLE), "result service not available", known=False)
            )
            return
        request = action_type.Impl.GetResultService.Request()
        request.goal_id = UUID(uuid=list(uuid.UUID(hex=op.id).bytes))

        def answered(future: Any) -> None:
            response = future.result()
            if response.status in FINISHED:
                self._result(op, response, op.started_s)
            elif restart_known:
                unknown = Completion(
                    op.id,
                    int(ErrorCode.UNKNOWN),
                    f"{op.station} restarted and no longer knows this goal: its outcome is unknown",
                    known=False,
                    unknown_goal=True,
                    station_restarted=True,
                )
                self._settle(op, unknown, settle)
            else:
                unknown = Completion(
                    op.id, int(ErrorCode.UNKNOWN), "the lab does not know this goal", known=False, unknown_goal=True
                )
                self._settle(op, unknown, settle)

        client.call_async(request).add_done_callback(answered)

    def _settle(self, op: OpRecord, unknown: Completion, tombstone: bool) -> None:
        if tombstone:
            self._settle_unknown(op, unknown)
        else:
            self._finish(unknown)

    def _settle_unknown(self, op: OpRecord, unknown: Completion) -> None:
        """Tombstone op's goal at its station, then conclude it unknown (ADR 0102).

        A goal sent just before a cable was pulled may still reach the station: tombstoned, it is refused
        there. The station answers whether it had started the goal meanwhile; then its result is asked for
        again (once) instead. Redos are new operations with new goal ids: a tombstoned id is never re-sent.
        """
        if op.station not in self._tombstone_clients:
            self._tombstone_clients[op.station] = self.node.create_client(
                srv.ManualCommand, f"{op.station}/tombstone_goal", callback_group=self.group
            )
        client = self._tombstone_clients[op.station]
        if not client.wait_for_service(timeout_sec=5.0):
            self.node.get_logger().warn(f"{op.station}/tombstone_goal not reachable: {op.id} settled unknown as is")
            self._finish(unknown)
            return
        request = srv.ManualCommand.Request(command="tombstone_goal", target=op.id, source="campaign")

        def answered(future: Any) -> None:
            response = future.result()
            if response is not None and not response.success and response.error_code == int(ErrorCode.NONE):
                self.node.get_logger().info(f"{op.station}: {response.message}")
                self._ask_result(op, restart_known=True, settle=False)  # it started there: follow it
                return
            self._finish(unknown)

        client.call_async(request).add_done_callback(answered)

    def cancel(self, op_id: str) -> None:
        handle = self._handles.get(op_id)
        if handle is not None:
            handle.cancel_goal_async()

    def wait(self, timeout_s: float) -> list[Completion]:
        with self._lock:
            ready = bool(self._done)
        if not ready and timeout_s > 0:
            if self.lockstep is not None and self._engine_in_lockstep:
                # Wait in the twin: sim time runs on until the deadline or until a result wakes the engine
                # (a result that came in meanwhile woke it already: the twin keeps that wake for this wait).
                with lease_scope(ENGINE_LEASE):
                    deadline = self.lockstep.now() + timeout_s
                    self.lockstep.link.call(CONTROL, "sleep_until", deadline, WAIT_CAP_S)
            else:
                self._event.wait(min(timeout_s, WAIT_CAP_S))
        with self._lock:
            done, self._done = self._done, []
            self._event.clear()
        return done

    # --- the cell ---

    def positions(self) -> dict[str, PositionSnapshot]:
        if not self._positions.wait_for_service(timeout_sec=10.0):
            raise DeviceTimeoutError(self.transfer_node, "get_positions not available; is the transfer node active?")
        response = wait_future(self._positions.call_async(srv.GetPositions.Request()), 10.0, "get_positions")
        return {p.name: position_from_msg(p) for p in response.positions}

    def lab_state(self) -> LabState:
        stations = {}
        for name in self.site.stations:
            status = self._status.get(name)
            if status is None:
                stations[name] = StationInfo(name, "", 0, "no status yet", "unknown")
                continue
            furnaces = [
                FurnaceInfo(f.name, f.door == msg.FurnaceState.DOOR_FAULT, f.program_running, f.temperature_c)
                for f in status.furnaces
            ]
            mills = [
                mill_info(d.name, d.state, {kv.key: kv.value for kv in d.values})
                for d in status.devices
                if d.kind == "mill" and d.connected
            ]
            stations[name] = StationInfo(
                name, status.kind, status.mode, status.message, status.lifecycle_state, furnaces, mills=mills
            )
        for name, alive in self._alive.items():
            if name in stations:
                stations[name].alive = alive
        estop = self._estop
        return LabState(bool(estop and estop.engaged), estop.reason if estop else "", stations)

    def estimate_s(self, op: OpRecord) -> float:
        return self.estimator.estimate_s(op)
