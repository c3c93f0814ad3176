"""How the campaign talks to a lab: in process (LocalLabPort) or over ROS (nodes.ros_lab_port)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from powderlab.autonomy.state import OpRecord
from powderlab.core.positions import PositionSnapshot
from powderlab.core.xrd import XrdPattern


@dataclass
class Completion:
    """How an operation ended, as the lab reports it.

    known=False: the lab does not know the goal (never received, or its result expired); the
    campaign then reconciles from the position table (see the ADR on write-ahead of intent).
    unknown_goal=True (with known=False): the lab answered that it has no such goal, rather than
    not answering at all; a goal younger than the stations keep results for then never ran.
    station_restarted=True (with known=False): the station's process restarted after it had accepted
    the goal (killed, respawned): the goal may have run part-way, so it must not be taken as never run.
    """

    op_id: str
    code: int
    message: str
    result: dict[str, Any] = field(default_factory=dict)
    pattern: XrdPattern | None = None
    started_s: float | None = None
    ended_s: float | None = None
    known: bool = True
    unknown_goal: bool = False
    station_restarted: bool = False


@dataclass
class FurnaceInfo:
    """One furnace as its station reports it."""

    name: str
    door_fault: bool
    program_running: bool
    temperature_c: float


@dataclass
class MillInfo:
    """A mill's last run as its device reports it (the controller keeps it across a station restart).

    started_s is on the lab's clock; None when the device does not tell (a backend whose state died with
    the station's process, or a controller that keeps no run): a lost mill goal is then not reconciled.
    """

    name: str
    running: bool
    started_s: float | None = None
    elapsed_s: float = 0.0
    duration_s: float = 0.0


def mill_info(name: str, state: str, values: dict[str, Any]) -> MillInfo:
    """A MillInfo from a mill's device status (state word and values, as numbers or as strings over ROS)."""

    def number(key: str) -> float | None:
        try:
            return float(values[key])
        except (KeyError, TypeError, ValueError):
            return None

    started = number("started_s")
    return MillInfo(
        name,
        state == "running",
        started if started is not None and started >= 0 else None,
        number("elapsed_s") or 0.0,
        number("duration_s") or 0.0,
    )


@dataclass
class StationInfo:
    """One station as it reports itself."""

    name: str
    kind: str
    mode: int  # StationMode
    message: str = ""
    lifecycle: str = "active"
    furnaces: list[FurnaceInfo] = field(default_factory=list)
    # The lab manager's heartbeat (lab/health): False while the station does not answer (a pulled
    # cable, a dead process). Its last status (mode, lifecycle) is then stale.
    alive: bool = True
    mills: list[MillInfo] = field(default_factory=list)


@dataclass
class LabState:
    """What the suspenders look at."""

    estop: bool = False
    estop_reason: str = ""
    stations: dict[str, StationInfo] = field(default_factory=dict)


class LabPort(Protocol):
    """The campaign's only way to the lab. One implementation per transport."""

    def now(self) -> float:
        """The lab's clock (sim time on the twin and in the discrete-event executor)."""
        ...

    def start(self, op: OpRecord) -> None:
        """Send the goal (op.id is its goal id); the outcome arrives through wait()."""
        ...

    def adopt(self, op: OpRecord) -> None:
        """Follow a goal sent before a restart; its outcome (or known=False) arrives through wait()."""
        ...

    def cancel(self, op_id: str) -> None:
        """Ask the lab to cancel a running goal."""
        ...

    def wait(self, timeout_s: float) -> list[Completion]:
        """Outcomes since the last call; blocks up to timeout_s of lab time until there is one."""
        ...

    def positions(self) -> dict[str, PositionSnapshot]:
        """The cell's position table (owned by the transfer station)."""
        ...

    def lab_state(self) -> LabState:
        """E-stop and station modes."""
        ...

    def estimate_s(self, op: OpRecord) -> float:
        """How long the station expects the operation to take."""
        ...
