"""Teleoperation of the arms, inside the transfer station's rules.

A jog moves one arm by one short increment and returns: `speed` (-1..1) times the jog speed
limit times `jog_step_s`. Motion therefore stops when the commands stop (a dead-man hold by
construction: no held action can outlive its sender). Every jog and arm command is a station
operation: it is refused while the station is e-stopped, paused or in fault, and it takes the arm
as a resource, so an arm busy in a transfer refuses teleoperation (and a transfer waits for an
arm that is being jogged).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar

import numpy as np
from scipy.spatial.transform import Rotation

from powderlab.core.errors import PositionOccupiedError, UnknownResourceError, ValidationError
from powderlab.core.positions import PositionSnapshot
from powderlab.core.units import require_int_range, require_range
from powderlab.drivers.arm import Arm, Height
from powderlab.drivers.kinematics import Pose
from powderlab.stations.base import ManualRequest, ManualResult
from powderlab.stations.context import OperationContext

JOINT_COUNT = 6
TOOL_AXES = ("x", "y", "z", "rx", "ry", "rz")
ARM_COMMANDS = ("gripper_open", "gripper_close", "move_home", "move_to", "stop")


class JogFrame(IntEnum):
    """What a jog's axis means; values equal powderlab_interfaces/JogArm FRAME_*."""

    JOINT = 0  # axis 0..5: joint 1..6
    TOOL = 1  # axis 0..5: x, y, z, rx, ry, rz of the tool in the arm's base frame


@dataclass(frozen=True)
class JogRequest:
    """One jog increment of one arm."""

    arm: str
    frame: JogFrame
    axis: int
    speed: float  # -1..1: direction and fraction of the speed limit
    source: str = ""


@dataclass(frozen=True)
class ArmState:
    """An arm after a command: joints (rad) and tool pose (base frame)."""

    arm: str
    joints: list[float]
    tool_pose: Pose


@dataclass(frozen=True)
class JogLimits:
    """Speed limits and step length of teleoperation (transfer station parameters)."""

    joint_speed_rad_s: float
    linear_speed_m_s: float
    angular_speed_rad_s: float
    step_s: float
    move_speed: float  # fraction of the arm's maximum speed for each step's motion

    @staticmethod
    def from_parameters(parameters: dict[str, Any]) -> JogLimits:
        return JogLimits(
            require_range("jog_joint_speed_rad_s", float(parameters["jog_joint_speed_rad_s"]), 0.0, 3.2, "rad/s"),
            require_range("jog_linear_speed_m_s", float(parameters["jog_linear_speed_m_s"]), 0.0, 0.25, "m/s"),
            require_range("jog_angular_speed_rad_s", float(parameters["jog_angular_speed_rad_s"]), 0.0, 1.6, "rad/s"),
            require_range("jog_step_s", float(parameters["jog_step_s"]), 0.01, 0.5, "s"),
            require_range("jog_move_speed", float(parameters["jog_move_speed"]), 0.01, 1.0),
        )


def jog_target(joints: list[float], pose: Pose, request: JogRequest, limits: JogLimits) -> list[float] | Pose:
    """Where one jog step goes: new joint angles (joint frame) or a new tool pose (tool frame)."""
    speed = require_range("speed", float(request.speed), -1.0, 1.0)
    axis = require_int_range("axis", request.axis, 0, JOINT_COUNT - 1)
    if request.frame is JogFrame.JOINT:
        target = list(joints)
        target[axis] += speed * limits.joint_speed_rad_s * limits.step_s
        return target
    if request.frame is not JogFrame.TOOL:
        raise ValidationError("frame", f"{request.frame} is not a jog frame; allowed: 0 (joint), 1 (tool)")
    if axis < 3:
        offset = np.zeros(3)
        offset[axis] = speed * limits.linear_speed_m_s * limits.step_s
        return Pose(pose.x + offset[0], pose.y + offset[1], pose.z + offset[2], pose.rx, pose.ry, pose.rz)
    turn = np.zeros(3)
    turn[axis - 3] = speed * limits.angular_speed_rad_s * limits.step_s
    rotation = Rotation.from_rotvec(turn) * Rotation.from_rotvec([pose.rx, pose.ry, pose.rz])
    rx, ry, rz = (float(v) for v in rotation.as_rotvec())
    return Pose(pose.x, pose.y, pose.z, rx, ry, rz)


class ArmTeleop:
    """Jog and manual arm commands for the transfer station (mixed into TransferStation)."""

    manual: ClassVar[dict[str, str]] = dict.fromkeys(ARM_COMMANDS, "arm_command")
    extra_operations: ClassVar[dict[str, str]] = {"jog": "jog"}
    teleop_parameters: ClassVar[dict[str, Any]] = {
        "jog_joint_speed_rad_s": 0.5,  # joint jog speed limit
        "jog_linear_speed_m_s": 0.05,  # Cartesian jog speed limit of the tool
        "jog_angular_speed_rad_s": 0.25,  # tool rotation jog speed limit
        "jog_step_s": 0.1,  # one jog command moves at most this long at the limit, then stops
        "jog_move_speed": 0.1,  # arm speed fraction of each step's motion
    }

    # provided by TransferStation
    parameters: dict[str, Any]

    def arms(self) -> dict[str, Arm]:  # pragma: no cover - TransferStation's
        raise NotImplementedError

    def gripper_item(self, arm: str) -> PositionSnapshot:  # pragma: no cover - TransferStation's
        raise NotImplementedError

    def move_arm(  # pragma: no cover - TransferStation's: one motion granted by its arm coordinator
        self, name: str, context: OperationContext, goal: str, height: Height = Height.APPROACH, **kw: Any
    ) -> None:
        raise NotImplementedError

    def _arm(self, name: str) -> Arm:
        arms = self.arms()
        if name not in arms:
            raise UnknownResourceError("arm", name, arms)
        return arms[name]

    @staticmethod
    def arm_state(name: str, arm: Arm) -> ArmState:
        return ArmState(name, arm.joint_positions(), arm.tool_pose())

    def jog(self, request: JogRequest, context: OperationContext) -> ManualResult:
        """Move one arm by one increment (JogLimits); refused while the arm is held."""
        arm = self._arm(request.arm)
        limits = JogLimits.from_parameters(self.parameters)
        context.hold(request.arm)  # no wait: busy in a transfer -> StationUnavailableError now
        context.check()
        target = jog_target(arm.joint_positions(), arm.tool_pose(), request, limits)
        # A jog moves the arm a few millimetres from where it stands (the twin and the controller
        # still refuse a collision): it stays in the shared-space zones it holds, so it needs no
        # grant from the arm coordinator, and both arms can be jogged at once (ADR 0080).
        if isinstance(target, Pose):
            arm.move_tool(target, limits.move_speed)
            what = f"tool {TOOL_AXES[request.axis]}"
        else:
            arm.move_joints(target, limits.move_speed)
            what = f"joint {request.axis + 1}"
        state = self.arm_state(request.arm, arm)
        return ManualResult(f"{request.arm} {what} {'+' if request.speed >= 0 else '-'}", state)

    def arm_command(self, request: ManualRequest, context: OperationContext) -> ManualResult:
        """Gripper open / close, move home, move to a served position (approach height), stop."""
        arm = self._arm(request.target)
        if request.command == "stop":  # never waits for the arm's lock: stopping is always allowed
            arm.stop()
            return ManualResult(f"{request.target} stopped", self.arm_state(request.target, arm))
        context.hold(request.target)
        speed = float(self.parameters["jog_move_speed"])
        if request.command == "gripper_open":
            item = self.gripper_item(request.target)
            if item.labware is not None and request.argument != "force":
                raise PositionOccupiedError(  # a refusal, not a fault: the station stays usable
                    item.name,
                    f"holds {item.labware.labware_id} according to the position table; opening would drop it. "
                    "Place it with a transfer, or take it out by hand, confirm where it is (set position) and "
                    "open with argument 'force'",
                )
            arm.set_gripper(False)
            message = f"{request.target} gripper open"
        elif request.command == "gripper_close":
            state = arm.set_gripper(True)
            message = f"{request.target} gripper closed" + (" (object detected)" if state.object_detected else "")
        elif request.command == "move_home":
            self.move_arm(request.target, context, "home", speed=speed, wait_s=0.0)
            message = f"{request.target} at home"
        else:
            if not request.argument:
                raise ValidationError("argument", f"move_to needs a position; {request.target} serves {arm.serves}")
            arm.check_reach(request.argument)
            self.move_arm(request.target, context, request.argument, Height.APPROACH, speed=speed, wait_s=0.0)
            message = f"{request.target} above {request.argument}"
        return ManualResult(message, self.arm_state(request.target, arm))
