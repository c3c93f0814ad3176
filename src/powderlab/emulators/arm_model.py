"""The physics and controller logic of an emulated six-axis arm with a parallel gripper.

Motion is a straight line in joint space over move_time_s of the emulator clock; commands get
an id and end as DONE or FAILED with an ErrorCode (the way a robot controller reports a task),
the protective stop blocks motion until reset. Thread-safe: the OPC UA server and test hooks
both touch it.
"""

from __future__ import annotations

import math
import threading
import zlib
from dataclasses import dataclass
from enum import IntEnum

from powderlab.core.clock import Clock
from powderlab.core.errors import ErrorCode, PowderLabError
from powderlab.drivers.kinematics import JOINT_LIMIT_RAD, Pose, inverse

HOME = [0.0, -math.pi / 2, math.pi / 2, -math.pi / 2, -math.pi / 2, 0.0]


class CommandState(IntEnum):
    """State of the controller's last command (CommandStatus[1])."""

    IDLE = 0
    RUNNING = 1
    DONE = 2
    FAILED = 3


@dataclass
class _Motion:
    start: list[float]
    target: list[float]
    started_at: float
    duration_s: float


class ArmModel:
    """One emulated arm controller."""

    def __init__(self, name: str, clock: Clock, move_time_s: float = 1.0, gripper_time_s: float = 0.3) -> None:
        self.name = name
        self.clock = clock
        self.move_time_s = move_time_s
        self.gripper_time_s = gripper_time_s
        self.joints = list(HOME)
        self.gripper_closed = False
        self.object_detected = False
        self.grasp_finds_object = True
        self.protective_stop = False
        self.emergency_stop = False
        self.command_id = 0
        self.command_state = CommandState.IDLE
        self.command_code = 0
        self.command_message = ""
        self._motion: _Motion | None = None
        self._gripper_done_at: float | None = None
        self._lock = threading.RLock()

    # --- test hooks (the world) ---
    def trigger_protective_stop(self) -> None:
        with self._lock:
            self.protective_stop = True
            if self._motion is not None:
                self._motion = None
                self._finish(ErrorCode.PROTECTIVE_STOP, "protective stop during motion")

    # --- commands (each returns the command id) ---
    def _begin(self) -> int:
        self.command_id += 1
        self.command_state, self.command_code, self.command_message = CommandState.RUNNING, 0, ""
        return self.command_id

    def _finish(self, code: int, message: str = "") -> None:
        self.command_state = CommandState.DONE if code == 0 else CommandState.FAILED
        self.command_code, self.command_message = int(code), message

    def _refuse(self, code: int, message: str) -> int:
        command = self._begin()
        self._finish(code, message)
        return command

    def _start_motion(self, target: list[float], speed: float) -> int:
        if self.protective_stop or self.emergency_stop:
            return self._refuse(ErrorCode.PROTECTIVE_STOP, "in protective stop; clear the cause and reset")
        if self._motion is not None:
            return self._refuse(ErrorCode.DEVICE_FAULT, "a motion is running; stop it first")
        if len(target) != 6 or not 0.01 <= speed <= 1.0:
            return self._refuse(ErrorCode.OUT_OF_RANGE, "six joint angles and speed 0.01 to 1 expected")
        if any(abs(a) > JOINT_LIMIT_RAD for a in target):
            return self._refuse(ErrorCode.OUT_OF_RANGE, f"joint target outside +-{JOINT_LIMIT_RAD:.3f} rad")
        command = self._begin()
        duration = self.move_time_s * 0.5 / speed
        self._motion = _Motion(list(self.joints), [float(a) for a in target], self.clock.now(), duration)
        return command

    def move_joints(self, joints: list[float], speed: float) -> int:
        with self._lock:
            return self._start_motion(list(joints), speed)

    def move_cartesian(self, pose: list[float], speed: float) -> int:
        with self._lock:
            if len(pose) != 6:
                return self._refuse(ErrorCode.INVALID_GOAL, "pose needs x, y, z, rx, ry, rz")
            try:
                target = inverse(Pose(*pose), self.joints)
            except PowderLabError as error:
                return self._refuse(error.code, str(error))
            return self._start_motion(target, speed)

    @staticmethod
    def path_target(path: str) -> list[float]:
        """The taught end pose of a named waypoint path (deterministic per name)."""
        if path == "home":
            return list(HOME)
        seed = zlib.crc32(path.encode())
        return [((seed >> (5 * i)) % 628) / 100.0 - math.pi for i in range(6)]

    def move_path(self, path: str, speed: float) -> int:
        with self._lock:
            if not path:
                return self._refuse(ErrorCode.UNKNOWN_RESOURCE, "no path name given")
            return self._start_motion(self.path_target(path), speed)

    def set_gripper(self, closed: bool) -> int:
        with self._lock:
            if self.protective_stop:
                return self._refuse(ErrorCode.PROTECTIVE_STOP, "in protective stop; clear the cause and reset")
            command = self._begin()
            self.gripper_closed = bool(closed)
            self.object_detected = bool(closed) and self.grasp_finds_object
            self._gripper_done_at = self.clock.now() + self.gripper_time_s
            return command

    def stop(self) -> None:
        with self._lock:
            if self._motion is not None:
                self._motion = None
                self._finish(ErrorCode.CANCELED, "stopped")

    def reset_protective_stop(self) -> None:
        with self._lock:
            self.protective_stop = False

    # --- time ---
    def tick(self) -> None:
        """Advance motion and the gripper to the clock's now."""
        with self._lock:
            now = self.clock.now()
            if self._motion is not None:
                motion = self._motion
                fraction = 1.0 if motion.duration_s <= 0 else min(1.0, (now - motion.started_at) / motion.duration_s)
                self.joints = [s + (t - s) * fraction for s, t in zip(motion.start, motion.target, strict=True)]
                if fraction >= 1.0:
                    self._motion = None
                    self._finish(0)
            if self._gripper_done_at is not None and now >= self._gripper_done_at:
                self._gripper_done_at = None
                if self.command_state is CommandState.RUNNING and self._motion is None:
                    self._finish(0)

    @property
    def moving(self) -> bool:
        return self._motion is not None

    @property
    def controller_state(self) -> str:
        if self.protective_stop or self.emergency_stop:
            return "Error"
        return "Moving" if self._motion is not None else "Idle"
