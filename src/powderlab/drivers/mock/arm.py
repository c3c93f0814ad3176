"""Mock arm: moves instantly to deterministic joint angles for each position and height."""

from __future__ import annotations

import math
import zlib

from powderlab.core.errors import ProtectiveStopError, ValidationError
from powderlab.core.units import require_range
from powderlab.drivers.arm import JOINT_COUNT, Arm, GripperState, Height
from powderlab.drivers.base import DeviceStatus
from powderlab.drivers.mock.connection import MockConnection

HOME = [0.0, -math.pi / 2, math.pi / 2, -math.pi / 2, -math.pi / 2, 0.0]
JOINT_LIMIT_RAD = 2 * math.pi


class MockArm(MockConnection, Arm):
    """Mirrors commands to state; the gripper detects an object whenever it closes.

    Moves are instant unless move_time_s is set (sim seconds per move, on the injected clock).
    """

    STATE_KEYS = {
        "move_time_s": "set_move_time",
        "grasp_finds_object": "set_grasp_finds_object",
        "protective_stop": "set_protective_stop",
    }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._joints = list(HOME)
        self._closed = False
        self._protective_stop = False
        self.grasp_finds_object = True
        self.move_time_s = 0.0
        self.at = "home"

    # --- test hooks ---
    def trigger_protective_stop(self) -> None:
        self._protective_stop = True

    def set_protective_stop(self, stopped: bool) -> None:
        self._protective_stop = bool(stopped)

    def set_move_time(self, seconds: float) -> None:
        self.move_time_s = float(seconds)

    def set_grasp_finds_object(self, finds: bool) -> None:
        self.grasp_finds_object = bool(finds)

    # --- contract ---
    def safe_stop(self) -> None:
        """Mock motion is instant: there is never motion to stop."""

    def _check_motion(self, speed: float) -> None:
        self.require_connected()
        require_range("speed", speed, 0.01, 1.0)
        if self._protective_stop:
            raise ProtectiveStopError(self.name, "in protective stop; clear the cause and reset the arm")

    def joint_positions(self) -> list[float]:
        self.require_connected()
        return list(self._joints)

    def move_joints(self, joints: list[float], speed: float = 0.5) -> None:
        self._check_motion(speed)
        if len(joints) != JOINT_COUNT:
            raise ValidationError("joints", f"expected {JOINT_COUNT} joint angles, got {len(joints)}")
        for index, angle in enumerate(joints):
            require_range(f"joint {index + 1}", angle, -JOINT_LIMIT_RAD, JOINT_LIMIT_RAD, "rad")
        self._joints, self.at = [float(a) for a in joints], "joints"

    def move_to(self, position: str, height: Height, speed: float = 0.5) -> None:
        self._check_motion(speed)
        self.check_reach(position)
        self.clock.sleep(self.move_time_s)
        seed = zlib.crc32(f"{position}:{Height(height).value}".encode())
        self._joints = [((seed >> (5 * i)) % 628) / 100.0 - math.pi for i in range(JOINT_COUNT)]
        self.at = f"{position}@{Height(height).value}"

    def move_home(self, speed: float = 0.5) -> None:
        self._check_motion(speed)
        self._joints, self.at = list(HOME), "home"

    def gripper(self) -> GripperState:
        self.require_connected()
        return GripperState(0.0 if self._closed else 1.0, self._closed, self._closed and self.grasp_finds_object)

    def set_gripper(self, closed: bool) -> GripperState:
        self.require_connected()
        if self._protective_stop:
            raise ProtectiveStopError(self.name, "in protective stop; clear the cause and reset the arm")
        self._closed = closed
        return self.gripper()

    def stop(self) -> None:
        self.require_connected()

    def reset(self) -> None:
        self.require_connected()
        self._protective_stop = False

    def status(self) -> DeviceStatus:
        values: dict[str, float | str | bool] = {f"joint_{i + 1}": round(a, 4) for i, a in enumerate(self._joints)}
        values.update({"gripper_closed": self._closed, "at": self.at})
        state = "protective_stop" if self._protective_stop else "idle"
        code = ProtectiveStopError.code if self._protective_stop else 0
        return DeviceStatus(self.name, self.kind, self._connected, state, fault_code=code, values=values)
