"""Arm over OPC UA (Robotics companion specification layout; see emulators.opcua_server).

State (axes' actual positions, controller state, command status, safety state, gripper) comes
through one subscription; commands are method calls that return a command id, and the driver
waits for that id to end in the controller's CommandStatus (DONE, or FAILED with an ErrorCode),
with a timeout on the device clock. Positions are taught waypoint paths named
`<position>@<height>` on the controller; `home` is the home path. A link lost during a motion
raises DeviceDisconnectedError: the arm's pose is then unknown, never assumed reached.
"""

from __future__ import annotations

from pathlib import Path

from asyncua import ua

from powderlab.core.clock import Clock
from powderlab.core.errors import ErrorCode, PowderLabError, ProtectiveStopError, ValidationError
from powderlab.core.site import DeviceConfig
from powderlab.core.units import require_range
from powderlab.drivers.arm import JOINT_COUNT, Arm, GripperState, Height
from powderlab.drivers.base import DeviceStatus
from powderlab.drivers.kinematics import JOINT_LIMIT_RAD, Pose
from powderlab.drivers.real.commands import DONE, FAILED, error_from_code
from powderlab.drivers.real.opcua_link import OpcUaLink
from powderlab.drivers.real.opcua_settings import opcua_settings
from powderlab.drivers.real.robotiq import RobotiqGripper


class OpcUaArm(Arm):
    """A six-axis arm behind an OPC UA robot controller; the gripper through the controller."""

    def __init__(self, config: DeviceConfig, clock: Clock | None = None, base_dir: Path | None = None) -> None:
        super().__init__(config, clock)
        connection = self.config.connection
        self.node = str(connection.get("node", self.name))
        self.move_timeout_s = float(connection.get("move_timeout_s", 60.0))
        self.axes = [f"{self.node}.Axes.Axis_{i + 1}.ParameterSet.ActualPosition" for i in range(JOINT_COUNT)]
        c = f"{self.node}.Controller"
        self.k_status, self.k_message, self.k_state = f"{c}.CommandStatus", f"{c}.CommandMessage", f"{c}.State"
        self.k_pstop, self.k_estop = f"{self.node}.Safety.ProtectiveStop", f"{self.node}.Safety.EmergencyStop"
        self.k_closed, self.k_object = f"{self.node}.Gripper.Closed", f"{self.node}.Gripper.ObjectDetected"
        watched = [
            *self.axes,
            self.k_status,
            self.k_message,
            self.k_state,
            self.k_pstop,
            self.k_estop,
            self.k_closed,
            self.k_object,
            f"{self.node}.ParameterSet.OnPath",
        ]
        self.link = OpcUaLink(self.name, opcua_settings(self.name, connection, base_dir), watched)
        self._last_fault: tuple[int, str] = (0, "")
        gripper = connection.get("gripper") or {}
        if gripper and gripper.get("protocol") != "robotiq-modbus":
            raise ValidationError(f"{self.name}: connection.gripper.protocol", "allowed: robotiq-modbus")
        self.tool_gripper = RobotiqGripper(self.name, gripper, self.clock) if gripper else None

    # --- connection ---
    def connect(self) -> None:
        self.link.connect()
        if self.tool_gripper is not None:
            try:
                self.tool_gripper.connect()
            except PowderLabError:
                self.link.disconnect()
                raise

    def disconnect(self) -> None:
        if self.tool_gripper is not None:
            self.tool_gripper.disconnect()
        self.link.disconnect()

    @property
    def connected(self) -> bool:
        return self.link.connected and (self.tool_gripper is None or self.tool_gripper.connected)

    # --- commands ---
    def _command(self, method: str, *args: ua.Variant, timeout_s: float | None = None) -> None:
        self.require_connected()
        (command_id,) = self.link.call(f"{self.node}.Controller", f"{self.node}.Controller.{method}", *args)

        def ended() -> bool:
            status = self.link.cached(self.k_status) or [0, 0, 0]
            return int(status[0]) == int(command_id) and int(status[1]) in (DONE, FAILED)

        self.link.wait_for(ended, timeout_s or self.move_timeout_s, self.clock, f"{method} (command {command_id})")
        _, state, code = self.link.cached(self.k_status)
        if int(state) == FAILED:
            message = self.link.read([self.k_message])[0]
            self._last_fault = (int(code), str(message))
            raise error_from_code(self.name, int(code), str(message))
        self._last_fault = (0, "")
        self.link.read(self.axes)  # the final pose, consistent with the command's end

    @staticmethod
    def _speed(speed: float) -> ua.Variant:
        require_range("speed", speed, 0.01, 1.0)
        return ua.Variant(float(speed), ua.VariantType.Double)

    def joint_positions(self) -> list[float]:
        self.require_connected()
        return [float(self.link.value(axis)) for axis in self.axes]

    def move_joints(self, joints: list[float], speed: float = 0.5) -> None:
        speed_variant = self._speed(speed)
        if len(joints) != JOINT_COUNT:
            raise ValidationError("joints", f"expected {JOINT_COUNT} joint angles, got {len(joints)}")
        for index, angle in enumerate(joints):
            require_range(f"joint {index + 1}", angle, -JOINT_LIMIT_RAD, JOINT_LIMIT_RAD, "rad")
        self._command("MoveJoints", ua.Variant([float(a) for a in joints], ua.VariantType.Double), speed_variant)

    def move_tool(self, pose: Pose, speed: float = 0.5) -> None:
        """Cartesian target solved by the controller (MoveCartesian); NOT_REACHABLE comes back as status."""
        target = [pose.x, pose.y, pose.z, pose.rx, pose.ry, pose.rz]
        self._command(
            "MoveCartesian", ua.Variant([float(v) for v in target], ua.VariantType.Double), self._speed(speed)
        )

    def move_to(self, position: str, height: Height, speed: float = 0.5) -> None:
        speed_variant = self._speed(speed)
        self.check_reach(position)
        path = f"{position}@{Height(height).value}"
        self._command("MovePath", ua.Variant(path, ua.VariantType.String), speed_variant)

    def move_home(self, speed: float = 0.5) -> None:
        self._command("MovePath", ua.Variant("home", ua.VariantType.String), self._speed(speed))

    def gripper(self) -> GripperState:
        self.require_connected()
        if self.tool_gripper is not None:
            return self.tool_gripper.state()
        closed = bool(self.link.value(self.k_closed))
        return GripperState(0.0 if closed else 1.0, closed, bool(self.link.value(self.k_object)))

    def set_gripper(self, closed: bool) -> GripperState:
        if self.tool_gripper is not None:
            self.require_connected()
            if self.link.cached(self.k_pstop):
                raise ProtectiveStopError(self.name, "in protective stop; clear the cause and reset the arm")
            return self.tool_gripper.set_closed(closed)
        self._command("SetGripper", ua.Variant(bool(closed), ua.VariantType.Boolean), timeout_s=15.0)
        self.link.read([self.k_closed, self.k_object])
        return self.gripper()

    def stop(self) -> None:
        self.require_connected()
        self.link.call(f"{self.node}.Controller", f"{self.node}.Controller.Stop")

    def safe_stop(self) -> None:
        if self.connected:
            self.stop()

    def reset(self) -> None:
        """Stop whatever motion the controller may still run (its state after a lost link is unknown), then
        clear the protective stop."""
        self.require_connected()
        self.link.call(f"{self.node}.Controller", f"{self.node}.Controller.Stop")
        self.link.call(f"{self.node}.Controller", f"{self.node}.Controller.ResetProtectiveStop")
        self.link.read([self.k_pstop])
        self._last_fault = (0, "")

    def status(self) -> DeviceStatus:
        link = self.link
        values: dict[str, float | str | bool] = {
            f"joint_{i + 1}": round(float(link.cached(axis, 0.0)), 4) for i, axis in enumerate(self.axes)
        }
        values.update({"gripper_closed": bool(link.cached(self.k_closed, False)), "endpoint": link.settings.endpoint})
        if not link.connected:
            return DeviceStatus(self.name, self.kind, False, "disconnected", fault=link.last_error, values=values)
        code, fault = self._last_fault
        if link.cached(self.k_pstop):
            code, fault = int(ErrorCode.PROTECTIVE_STOP), "protective stop"
        state = (
            "protective_stop" if code == ErrorCode.PROTECTIVE_STOP else str(link.cached(self.k_state, "Idle")).lower()
        )
        return DeviceStatus(self.name, self.kind, True, state, fault_code=code, fault=fault, values=values)
