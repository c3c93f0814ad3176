"""The dashboard's commands: each one a call to the lab's own ROS services and actions.

Nothing here moves hardware itself: jogs go to the transfer station's `jog` service, manual
commands to `<station>/manual`, position confirmations to `transfer/set_position`, e-stop and
reset to the lab manager, so the stations' rules (e-stop, pause, locks, interlocks) apply to a
technician exactly as to the autonomy node. Every command is recorded with its user (CommandLog)
and carries the user as `source`, so it reaches the station's log too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from powderlab.core.errors import ErrorCode, PowderLabError, ValidationError
from powderlab.dashboard.audit import CommandLog

FRAMES = {"joint": 0, "tool": 1}
ARM_COMMANDS = ("gripper_open", "gripper_close", "move_home", "move_to", "stop")
MANAGE = {"pause": 1, "resume": 2}


@dataclass
class CommandResult:
    """How a command ended, for the browser."""

    ok: bool
    message: str
    code: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "message": self.message, "code": self.code}


def _field(body: dict[str, Any], name: str, kind: type = str, default: Any = None) -> Any:
    value = body.get(name, default)
    if value is None:
        raise ValidationError(name, "is required")
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValidationError(name, f"{value!r} is not a number")
        return float(value)
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError(name, f"{value!r} is not an integer")
        return value
    if not isinstance(value, str):
        raise ValidationError(name, f"{value!r} is not text")
    return value


class CommandDispatcher:
    """Validates a command from the browser, runs it through the lab client, logs it."""

    def __init__(
        self,
        client: Any,
        monitor: Any,
        log: CommandLog,
        campaign_pause_service: str = "autonomy/set_paused",
    ) -> None:
        self.client = client
        self.monitor = monitor
        self.log = log
        self.campaign_pause_service = campaign_pause_service
        self.handlers: dict[str, Callable[[str, dict[str, Any]], CommandResult]] = {
            "estop": self._estop,
            "reset": self._reset,
            "pause": self._manage,
            "resume": self._manage,
            "campaign_pause": self._campaign,
            "campaign_resume": self._campaign,
            "jog": self._jog,
            "arm": self._arm,
            "manual": self._manual,
            "set_position": self._set_position,
            "measure_xrd": self._measure_xrd,
        }

    def run(self, user: str, body: dict[str, Any]) -> CommandResult:
        """Run one command for user; never raises for bad input (it becomes the result)."""
        command = body.get("command")
        arguments = {k: v for k, v in body.items() if k != "command"}
        if command not in self.handlers:
            result = CommandResult(
                False,
                f"unknown command {command!r}; allowed: {', '.join(sorted(self.handlers))}",
                ErrorCode.INVALID_GOAL,
            )
        else:
            try:
                result = self.handlers[command](user, body)
            except PowderLabError as error:
                result = CommandResult(False, str(error), int(error.code))
        self.log.record(user, str(command), arguments, result.ok, result.message)
        return result

    # --- which station does what ---

    def station_of_kind(self, kind: str, default: str) -> str:
        for name, station in self.monitor.snapshot()["stations"].items():
            if station["kind"] == kind:
                return name
        return default

    # --- handlers ---

    def _estop(self, user: str, body: dict[str, Any]) -> CommandResult:
        reason = str(body.get("reason") or f"e-stop pressed on the dashboard by {user}")
        ok, message = self.client.estop(reason, source=f"dashboard:{user}")
        return CommandResult(ok, message)

    def _reset(self, user: str, body: dict[str, Any]) -> CommandResult:
        ok, message = self.client.reset(source=f"dashboard:{user}")
        return CommandResult(ok, message)

    def _manage(self, user: str, body: dict[str, Any]) -> CommandResult:
        stations = body.get("stations") or []
        if not isinstance(stations, list) or not all(isinstance(s, str) for s in stations):
            raise ValidationError("stations", "must be a list of station names (empty: every station)")
        ok, message = self.client.manage(MANAGE[body["command"]], stations, timeout_s=30.0, source=f"dashboard:{user}")
        return CommandResult(ok, message)

    def _campaign(self, user: str, body: dict[str, Any]) -> CommandResult:
        paused = body["command"] == "campaign_pause"
        try:
            ok, message = self.client.set_bool(self.campaign_pause_service, paused, timeout_s=10.0)
        except PowderLabError as error:
            return CommandResult(False, f"no campaign to {'pause' if paused else 'resume'}: {error}", int(error.code))
        return CommandResult(ok, message)

    def _jog(self, user: str, body: dict[str, Any]) -> CommandResult:
        frame = _field(body, "frame")
        if frame not in FRAMES:
            raise ValidationError("frame", f"{frame!r} is not a jog frame; allowed: joint, tool")
        response = self.client.jog(
            _field(body, "arm"),
            FRAMES[frame],
            _field(body, "axis", int),
            _field(body, "speed", float),
            source=f"dashboard:{user}",
            station=self.station_of_kind("transfer", "transfer"),
        )
        return CommandResult(response.success, response.message, response.error_code)

    def _arm(self, user: str, body: dict[str, Any]) -> CommandResult:
        action = _field(body, "action")
        if action not in ARM_COMMANDS:
            raise ValidationError("action", f"{action!r} is not an arm command; allowed: {', '.join(ARM_COMMANDS)}")
        response = self.client.manual(
            self.station_of_kind("transfer", "transfer"),
            action,
            _field(body, "arm"),
            _field(body, "argument", str, ""),
            source=f"dashboard:{user}",
        )
        return CommandResult(response.success, response.message, response.error_code)

    def _manual(self, user: str, body: dict[str, Any]) -> CommandResult:
        station = _field(body, "station")
        known = self.monitor.snapshot()["stations"]
        if known and station not in known:
            raise ValidationError("station", f"unknown station {station!r}; known: {', '.join(sorted(known))}")
        response = self.client.manual(
            station,
            _field(body, "action"),
            _field(body, "target", str, ""),
            _field(body, "argument", str, ""),
            source=f"dashboard:{user}",
        )
        return CommandResult(response.success, response.message, response.error_code)

    def _set_position(self, user: str, body: dict[str, Any]) -> CommandResult:
        ok, message = self.client.set_position(
            _field(body, "position"),
            _field(body, "labware_id", str, ""),
            _field(body, "labware_kind", str, ""),
            _field(body, "sample_id", str, ""),
            source=f"dashboard:{user}",
            station=self.station_of_kind("transfer", "transfer"),
        )
        return CommandResult(ok, message)

    def _measure_xrd(self, user: str, body: dict[str, Any]) -> CommandResult:
        """Start a scan: the XRD station's measure goal for the crucible at `source` (result logged)."""
        source = _field(body, "source")
        positions = {p["name"]: p for p in self.monitor.snapshot()["positions"]}
        if source not in positions or not positions[source]["labware_id"]:
            raise ValidationError("source", f"{source!r} holds no crucible; pick an occupied position")
        position = positions[source]
        station = self.station_of_kind("xrd", "xrd")
        run = self.client.measure_xrd(
            station, position["labware_id"], position["sample_id"], source, _field(body, "destination", str, "")
        )

        def finished(future: Any) -> None:
            result = future.result().result
            self.log.record(user, "measure_xrd (result)", {"source": source}, result.error_code == 0, result.error_msg)

        run.result_future.add_done_callback(finished)
        return CommandResult(True, f"{station}: measuring {position['labware_id']} from {source}")
