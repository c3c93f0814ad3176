"""UR5e kinematics from the published DH parameters (Universal Robots, "DH parameters for
calculations of kinematics and dynamics"). Twin and real arm share them, so a Cartesian target
means the same joints on both.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import least_squares
from scipy.spatial.transform import Rotation

from powderlab.core.errors import ErrorCode, ValidationError

# Standard DH: a (m), d (m), alpha (rad) per joint.
UR5E_A = np.array([0.0, -0.425, -0.3922, 0.0, 0.0, 0.0])
UR5E_D = np.array([0.1625, 0.0, 0.0, 0.1333, 0.0997, 0.0996])
UR5E_ALPHA = np.array([np.pi / 2, 0.0, 0.0, np.pi / 2, -np.pi / 2, 0.0])
JOINT_LIMIT_RAD = 2 * np.pi
REACH_M = 0.85


@dataclass(frozen=True)
class Pose:
    """Tool pose in the arm's base frame: position (m) and rotation vector (rad)."""

    x: float
    y: float
    z: float
    rx: float = 0.0
    ry: float = 0.0
    rz: float = 0.0

    def matrix(self) -> np.ndarray:
        transform = np.eye(4)
        transform[:3, :3] = Rotation.from_rotvec([self.rx, self.ry, self.rz]).as_matrix()
        transform[:3, 3] = [self.x, self.y, self.z]
        return transform

    @staticmethod
    def from_matrix(transform: np.ndarray) -> Pose:
        rotation = Rotation.from_matrix(transform[:3, :3]).as_rotvec()
        return Pose(*(float(v) for v in transform[:3, 3]), *(float(v) for v in rotation))


def _dh(a: float, d: float, alpha: float, theta: float) -> np.ndarray:
    ct, st, ca, sa = np.cos(theta), np.sin(theta), np.cos(alpha), np.sin(alpha)
    return np.array([[ct, -st * ca, st * sa, a * ct], [st, ct * ca, -ct * sa, a * st], [0, sa, ca, d], [0, 0, 0, 1]])


def forward(joints: list[float] | np.ndarray) -> np.ndarray:
    """The tool flange's 4x4 transform in the base frame."""
    q = np.asarray(joints, dtype=float)
    if q.shape != (6,):
        raise ValidationError("joints", f"expected 6 joint angles, got {q.size}")
    transform = np.eye(4)
    for i in range(6):
        transform = transform @ _dh(UR5E_A[i], UR5E_D[i], UR5E_ALPHA[i], q[i])
    return transform


def inverse(target: Pose, seed: list[float] | np.ndarray, tolerance_m: float = 1e-4) -> list[float]:
    """Joint angles near `seed` that put the flange at `target` (numerical, within joint limits).

    Raises ValidationError with code NOT_REACHABLE when the pose cannot be reached.
    """
    goal = target.matrix()
    distance = float(np.linalg.norm(goal[:3, 3] - [0.0, 0.0, UR5E_D[0]]))
    if distance > REACH_M:
        raise ValidationError(
            "pose",
            f"{distance:.3f} m from the shoulder is beyond the UR5e's reach of {REACH_M} m",
            code=ErrorCode.NOT_REACHABLE,
        )

    def residual(q: np.ndarray) -> np.ndarray:
        current = forward(q)
        position = current[:3, 3] - goal[:3, 3]
        rotation = Rotation.from_matrix(goal[:3, :3].T @ current[:3, :3]).as_rotvec() * 0.1
        return np.concatenate([position, rotation])

    solution = least_squares(
        residual, np.asarray(seed, dtype=float), bounds=(-JOINT_LIMIT_RAD, JOINT_LIMIT_RAD), xtol=1e-10, ftol=1e-12
    )
    error = residual(solution.x)
    if np.linalg.norm(error[:3]) > tolerance_m or np.linalg.norm(error[3:]) * 10 > 1e-3:
        raise ValidationError(
            "pose",
            f"no joint solution within {tolerance_m * 1000:.1f} mm near the current joints",
            code=ErrorCode.NOT_REACHABLE,
        )
    return [float(v) for v in solution.x]
