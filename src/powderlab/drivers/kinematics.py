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


def analytic_solutions(target: Pose | np.ndarray) -> list[np.ndarray]:
    """Every closed-form joint solution (up to 8) that puts the flange at `target` (a Pose or 4x4).

    The UR arms' spherical-offset wrist has an analytic inverse (K. Hawkins, "Analytic inverse
    kinematics for the Universal Robots UR-5/UR-10 arms", 2013): shoulder (2 branches), wrist
    (2), elbow (2). Angles come in (-pi, pi]; the caller picks a branch and a turn. An empty list:
    the pose is out of reach. At a wrist singularity (joint 5 at 0 or pi) joint 6 is set to 0.
    """
    goal = target.matrix() if isinstance(target, Pose) else np.asarray(target, dtype=float)
    (t00, t01, t02, t03), (t10, t11, t12, t13), (t20, t21, t22, t23) = goal[:3].tolist()
    d1, d4, d5, d6 = float(UR5E_D[0]), float(UR5E_D[3]), float(UR5E_D[4]), float(UR5E_D[5])
    a2, a3 = float(UR5E_A[1]), float(UR5E_A[2])
    solutions: list[np.ndarray] = []
    # joint 1: the wrist centre (flange minus d6 along its z) seen from the base, offset by d4
    a, b = d6 * t12 - t13, d6 * t02 - t03
    radius = np.hypot(a, b)
    if radius < d4 - 1e-12:
        return solutions
    shoulder = np.arccos(min(1.0, d4 / radius))
    for q1 in (np.arctan2(-b, a) + shoulder, np.arctan2(-b, a) - shoulder):
        s1, c1 = np.sin(q1), np.cos(q1)
        wrist = (t03 * s1 - t13 * c1 - d4) / d6
        if abs(wrist) > 1.0 + 1e-9:
            continue
        for q5 in (np.arccos(np.clip(wrist, -1.0, 1.0)), -np.arccos(np.clip(wrist, -1.0, 1.0))):
            s5, c5 = np.sin(q5), np.cos(q5)
            if abs(s5) < 1e-10:
                q6 = 0.0
            else:
                sign = 1.0 if s5 > 0 else -1.0
                q6 = np.arctan2(-sign * (t01 * s1 - t11 * c1), sign * (t00 * s1 - t10 * c1))
            s6, c6 = np.sin(q6), np.cos(q6)
            # joints 2-4: a planar 3R chain to the frame of joint 4
            x04x = -s5 * (t02 * c1 + t12 * s1) - c5 * (s6 * (t01 * c1 + t11 * s1) - c6 * (t00 * c1 + t10 * s1))
            x04y = c5 * (t20 * c6 - t21 * s6) - t22 * s5
            p13x = d5 * (s6 * (t00 * c1 + t10 * s1) + c6 * (t01 * c1 + t11 * s1)) - d6 * (t02 * c1 + t12 * s1)
            p13x += t03 * c1 + t13 * s1
            p13y = t23 - d1 - d6 * t22 + d5 * (t21 * c6 + t20 * s6)
            c3 = (p13x * p13x + p13y * p13y - a2 * a2 - a3 * a3) / (2.0 * a2 * a3)
            if abs(c3) > 1.0 + 1e-9:
                continue
            for q3 in (np.arccos(np.clip(c3, -1.0, 1.0)), -np.arccos(np.clip(c3, -1.0, 1.0))):
                s3, c3_ = np.sin(q3), np.cos(q3)
                denominator = a2 * a2 + a3 * a3 + 2.0 * a2 * a3 * c3_
                k1, k2 = a2 + a3 * c3_, a3 * s3
                q2 = np.arctan2((k1 * p13y - k2 * p13x) / denominator, (k1 * p13x + k2 * p13y) / denominator)
                c23, s23 = np.cos(q2 + q3), np.sin(q2 + q3)
                q4 = np.arctan2(c23 * x04y - s23 * x04x, x04x * c23 + x04y * s23)
                solutions.append(np.array([q1, q2, q3, q4, q5, q6], dtype=float))
    return solutions
