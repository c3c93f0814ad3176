"""Arm with gripper contract (six-axis, UR5e kinematics). Joints in rad, speed as a fraction.

The arm knows how to reach the positions it serves (site profile `serves` patterns) at two
heights: "approach" above the item and "grasp" at it. Errors: NotReachable (a position outside
its reach: UnknownResourceError with code NOT_REACHABLE), ProtectiveStopError, DeviceError
(collision, gripper fault), DeviceDisconnectedError, DeviceTimeoutError.
"""

from __future__ import annotations

import abc
import fnmatch
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

from powderlab.core.errors import ErrorCode, UnknownResourceError
from powderlab.drivers.base import Device
from powderlab.drivers.kinematics import Pose, forward, inverse

JOINT_COUNT = 6


class Height(StrEnum):
    """Where above a position the tool goes."""

    APPROACH = "approach"
    GRASP = "grasp"


@dataclass(frozen=True)
class GripperState:
    """Parallel gripper: opening 0 (closed) .. 1 (open), and whether it holds something."""

    opening: float
    closed: bool
    object_detected: bool


class NotReachableError(UnknownResourceError):
    """The arm cannot reach a position."""

    code = ErrorCode.NOT_REACHABLE


class Arm(Device):
    """A six-axis arm with a parallel gripper."""

    kind: ClassVar[str] = "arm"

    @property
    def serves(self) -> tuple[str, ...]:
        return tuple(self.config.get("serves", ()))

    def reaches(self, position: str) -> bool:
        return any(fnmatch.fnmatchcase(position, pattern) for pattern in self.serves)

    def check_reach(self, position: str) -> None:
        if not self.reaches(position):
            raise NotReachableError(f"position for arm '{self.name}'", position, self.serves)

    @abc.abstractmethod
    def joint_positions(self) -> list[float]:
        """The six joint angles in rad."""

    @abc.abstractmethod
    def move_joints(self, joints: list[float], speed: float = 0.5) -> None:
        """Move to joint angles (rad) at a fraction of the maximum speed; blocks until there."""

    @abc.abstractmethod
    def move_to(self, position: str, height: Height, speed: float = 0.5) -> None:
        """Move the tool to a position at a height; blocks until there."""

    @abc.abstractmethod
    def move_home(self, speed: float = 0.5) -> None:
        """Move to the home pose, clear of every station."""

    @abc.abstractmethod
    def gripper(self) -> GripperState:
        """The gripper's state."""

    @abc.abstractmethod
    def set_gripper(self, closed: bool) -> GripperState:
        """Close or open the gripper; returns the state after the motion. Idempotent."""

    def tool_pose(self) -> Pose:
        """The tool flange pose in the arm's base frame (UR5e kinematics from the joints)."""
        return Pose.from_matrix(forward(self.joint_positions()))

    def move_tool(self, pose: Pose, speed: float = 0.5) -> None:
        """Move the tool flange to a Cartesian pose (base frame); NOT_REACHABLE when it cannot.

        The default solves the shared UR5e inverse kinematics near the current joints and moves
        there; a backend whose controller takes Cartesian targets natively may override it.
        """
        self.move_joints(inverse(pose, self.joint_positions()), speed)

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop motion at once (protective stop from the controller's side). Idempotent."""

    @abc.abstractmethod
    def reset(self) -> None:
        """Clear a protective stop so the arm accepts motion again."""
