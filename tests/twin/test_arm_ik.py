"""Closed-form UR5e inverse kinematics: exact against forward kinematics, branch nearest the seed."""

from __future__ import annotations

import numpy as np
import pytest

from powderlab.core.errors import ErrorCode, ValidationError
from powderlab.core.site import SiteProfile
from powderlab.drivers.kinematics import analytic_solutions, forward
from powderlab.twin.world import World


def wrapped(a: np.ndarray, b: np.ndarray) -> float:
    """Largest joint difference modulo a full turn."""
    return float(np.max(np.abs((a - b + np.pi) % (2 * np.pi) - np.pi)))


def test_every_solution_reaches_the_pose_and_the_original_joints_are_among_them() -> None:
    rng = np.random.default_rng(7)
    for _ in range(500):
        joints = rng.uniform(-np.pi, np.pi, 6)
        if abs(np.sin(joints[4])) < 1e-3:
            continue  # wrist singularity: joint 6 is not determined (tested below)
        goal = forward(joints)
        solutions = analytic_solutions(goal)
        assert 1 <= len(solutions) <= 8
        for q in solutions:
            assert np.max(np.abs(forward(q) - goal)) < 1e-6
        assert min(wrapped(q, joints) for q in solutions) < 1e-6


def test_wrist_singularity_still_reaches_the_pose() -> None:
    joints = np.array([0.3, -1.2, 1.4, -1.7, 0.0, 0.5])
    goal = forward(joints)
    solutions = analytic_solutions(goal)
    assert solutions
    for q in solutions:
        assert np.max(np.abs(forward(q) - goal)) < 1e-6


def test_out_of_reach_has_no_solution() -> None:
    goal = np.eye(4)
    goal[:3, 3] = [1.5, 0.0, 0.2]
    assert analytic_solutions(goal) == []


@pytest.fixture(scope="module")
def world():
    world = World(SiteProfile.load("default"), mode="kinematic")
    yield world
    world.close()


def test_twin_arm_picks_the_solution_nearest_the_seed(world) -> None:
    arm = next(iter(world.arms.values()))
    rng = np.random.default_rng(3)
    for point in ([0.45, 0.1, 0.15], [0.3, -0.35, 0.25], [-0.4, 0.2, 0.1], [0.1, 0.5, 0.3]):
        tcp_world = np.asarray(arm.placement.xyz) + _rotate(np.array(point), arm.placement.yaw)
        first = arm.solve(tcp_world)
        assert np.linalg.norm(forward(first)[:3, 3] - _flange_target(arm, tcp_world)) < 1e-6
        # every branch, and the seed next to one of them: solve() returns that branch
        goal = arm.flange_pose(tcp_world).matrix()
        for branch in analytic_solutions(goal):
            seed = arm.nearest_turn(branch, first) + rng.uniform(-0.05, 0.05, 6)
            chosen = arm.solve(tcp_world, seed)
            assert np.max(np.abs(chosen - arm.nearest_turn(branch, seed))) < 1e-9
            assert np.all(np.abs(chosen) <= 2 * np.pi + 1e-9)


def test_twin_arm_refuses_an_unreachable_point(world) -> None:
    arm = next(iter(world.arms.values()))
    far = np.asarray(arm.placement.xyz) + np.array([2.0, 0.0, 0.2])
    with pytest.raises(ValidationError) as caught:
        arm.solve(far)
    assert caught.value.code == ErrorCode.NOT_REACHABLE


def _rotate(point: np.ndarray, yaw: float) -> np.ndarray:
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([c * point[0] - s * point[1], s * point[0] + c * point[1], point[2]])


def _flange_target(arm, tcp_world: np.ndarray) -> np.ndarray:
    pose = arm.flange_pose(tcp_world)
    return np.array([pose.x, pose.y, pose.z])
