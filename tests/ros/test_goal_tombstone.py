"""The port tombstones a goal at its station before settling it as unknown (ADR 0102); port logic on fakes."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from powderlab.autonomy.port import Completion
from powderlab.autonomy.state import OpRecord
from powderlab.core.errors import ErrorCode
from powderlab.nodes.ros_lab_port import RosLabPort


class Done:
    """A future that has its result already."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def result(self) -> Any:
        return self.value

    def add_done_callback(self, callback) -> None:
        callback(self)


class TombstoneService:
    """The station's tombstone_goal service: answers as the station's GoalLedger would."""

    def __init__(self, started: bool, reachable: bool = True) -> None:
        self.started, self.reachable, self.requests = started, reachable, []

    def wait_for_service(self, timeout_sec: float) -> bool:
        return self.reachable

    def call_async(self, request: Any) -> Done:
        self.requests.append(request)
        if self.started:
            return Done(SimpleNamespace(success=False, error_code=0, message="has started"))
        return Done(SimpleNamespace(success=True, error_code=0, message="will never run"))


def port_with(service: TombstoneService) -> tuple[RosLabPort, list, list]:
    """A RosLabPort with only what settling needs: its outcomes and re-asks are recorded."""
    port = RosLabPort.__new__(RosLabPort)
    logger = SimpleNamespace(info=lambda *_: None, warn=lambda *_: None)
    port.node = SimpleNamespace(create_client=lambda *a, **k: service, get_logger=lambda: logger)
    port.group, port._tombstone_clients = None, {}
    finished: list[Completion] = []
    asked: list[tuple] = []
    port._finish = finished.append  # type: ignore[method-assign]
    port._ask_result = lambda op, **kw: asked.append((op.id, kw))  # type: ignore[method-assign]
    return port, finished, asked


def unknown(op: OpRecord) -> Completion:
    return Completion(op.id, int(ErrorCode.UNKNOWN), "unknown", known=False, unknown_goal=True)


OP = OpRecord("ab" * 16, "dosing", "dose", {}, "dose")


def test_a_goal_is_tombstoned_at_its_station_before_it_is_settled_unknown():
    service = TombstoneService(started=False)
    port, finished, asked = port_with(service)
    port._settle(OP, unknown(OP), tombstone=True)
    assert [r.target for r in service.requests] == [OP.id] and service.requests[0].command == "tombstone_goal"
    assert [c.op_id for c in finished] == [OP.id] and not finished[0].known and not asked


def test_a_goal_that_started_at_the_station_meanwhile_is_followed_not_settled():
    port, finished, asked = port_with(TombstoneService(started=True))
    port._settle(OP, unknown(OP), tombstone=True)
    assert not finished  # not "unknown": the station runs it
    assert asked == [(OP.id, {"restart_known": True, "settle": False})]  # its result is asked once more


def test_an_unreachable_tombstone_service_leaves_the_goal_unknown_as_before():
    service = TombstoneService(started=False, reachable=False)
    port, finished, _ = port_with(service)
    port._settle(OP, unknown(OP), tombstone=True)
    assert not service.requests and [c.op_id for c in finished] == [OP.id]
