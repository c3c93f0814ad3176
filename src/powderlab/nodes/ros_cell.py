"""The Cell of a station node: positions from the transfer node's service, moves by its action."""

from __future__ import annotations

import contextlib
import threading
import uuid
from typing import Any

from powderlab_interfaces import msg, srv
from rclpy.callback_groups import CallbackGroup
from rclpy.node import Node
from unique_identifier_msgs.msg import UUID

from powderlab.core.errors import (
    DeviceDisconnectedError,
    ErrorCode,
    OperationError,
    StationUnavailableError,
    UnknownResourceError,
)
from powderlab.core.labware import Labware, LabwareKind, parse_labware_kind
from powderlab.core.positions import PositionSnapshot, PositionState
from powderlab.core.samples import SampleRef
from powderlab.drivers.sim.lockstep import LockstepLink
from powderlab.nodes.action_client import LockedActionClient
from powderlab.nodes.conversions import MessageCodec, action_type
from powderlab.nodes.futures import wait_future
from powderlab.stations.context import OperationContext
from powderlab.stations.operations import operation
from powderlab.stations.transfer import TransferRequest

TRANSFER_TIMEOUT_S = 24 * 3600.0  # a transfer may wait for an arm; the transfer node bounds that itself


def position_from_msg(message: msg.PositionState) -> PositionSnapshot:
    kinds = (
        frozenset()
        if message.kind in ("", "any")
        else frozenset(parse_labware_kind(k) for k in message.kind.split(","))
    )
    labware = Labware(message.labware_id, LabwareKind(message.labware_kind)) if message.labware_id else None
    return PositionSnapshot(
        message.name, kinds, PositionState(message.state), labware, message.sample_id, message.locked_by
    )


class RosCell:
    """Positions and transfers through the transfer node (`<transfer>/get_positions`, `<transfer>/transfer`)."""

    def __init__(self, node: Node, transfer_node: str, callback_group: CallbackGroup, timeout_s: float = 10.0) -> None:
        self._node = node
        self._timeout_s = timeout_s
        self.lockstep: LockstepLink | None = None  # on the twin: the transfer is a child lease (ADR 0082)
        self._transfer_node = transfer_node
        self._positions = node.create_client(
            srv.GetPositions, f"{transfer_node}/get_positions", callback_group=callback_group
        )
        self._transfer = LockedActionClient(
            node, action_type(operation("transfer")), f"{transfer_node}/transfer", callback_group=callback_group
        )

    def destroy(self) -> None:
        self._node.destroy_client(self._positions)
        self._transfer.destroy()

    def _query(self, names: list[str]) -> list[PositionSnapshot]:
        if not self._positions.wait_for_service(timeout_sec=self._timeout_s):
            raise DeviceDisconnectedError(
                self._transfer_node, "position service not available; is the transfer node active?"
            )
        response = wait_future(
            self._positions.call_async(srv.GetPositions.Request(names=names)), self._timeout_s, "get_positions"
        )
        if not response.success:
            raise UnknownResourceError("position", ",".join(names), [response.message])
        return [position_from_msg(p) for p in response.positions]

    def position(self, name: str) -> PositionSnapshot:
        return self._query([name])[0]

    def positions(self) -> list[PositionSnapshot]:
        return self._query([])

    def transfer(self, sample: SampleRef, source: str, destination: str, context: OperationContext) -> None:
        if not self._transfer.wait_for_server(timeout_sec=self._timeout_s):
            raise DeviceDisconnectedError(self._transfer_node, "transfer action not available; is it active?")
        goal = MessageCodec().goal(TransferRequest(sample, source, destination))
        goal_id = uuid.uuid4()
        lease = self.lockstep.child(goal_id.hex) if self.lockstep is not None else contextlib.nullcontext()
        with lease:
            result = self._send_transfer(goal, goal_id, context)
        if result.error_code != ErrorCode.NONE:
            raise OperationError(
                f"transfer {source} -> {destination}: {result.error_msg}", ErrorCode(result.error_code)
            )

    def _send_transfer(self, goal: Any, goal_id: uuid.UUID, context: OperationContext) -> Any:
        """Send the transfer goal and wait for its result (forwarding a cancel)."""
        future = self._transfer.send_goal_async(goal, goal_uuid=UUID(uuid=list(goal_id.bytes)))
        handle = wait_future(future, self._timeout_s, "transfer goal")
        if not handle.accepted:
            raise StationUnavailableError(f"{self._transfer_node} rejected the transfer (not active)")
        result_future = handle.get_result_async()

        def forward_cancel() -> None:
            while not result_future.done():
                if context.stop_event.wait(0.05):
                    handle.cancel_goal_async()
                    return

        watcher = threading.Thread(target=forward_cancel, daemon=True)
        watcher.start()
        response = wait_future(result_future, TRANSFER_TIMEOUT_S, "transfer result")
        watcher.join(timeout=1.0)
        return response.result
