"""Arm contract: every backend."""

import math

import pytest

from powderlab.core.errors import ErrorCode, OutOfRangeError, ProtectiveStopError, ValidationError
from powderlab.drivers.arm import Height, NotReachableError

DEVICE_KIND = "arm"


def test_moves_to_positions_it_serves(harness):
    arm = harness.arm()
    arm.move_home()
    home = arm.joint_positions()
    assert len(home) == 6
    arm.move_to("storage/1", Height.APPROACH)
    above = arm.joint_positions()
    arm.move_to("storage/1", Height.GRASP)
    assert arm.joint_positions() != above != home


def test_unreachable_position_is_refused_before_moving(harness):
    arm = harness.arm()
    arm.move_home()
    before = arm.joint_positions()
    with pytest.raises(NotReachableError) as error:
        arm.move_to("furnace_3/slot_2", Height.APPROACH)
    assert error.value.code is ErrorCode.NOT_REACHABLE
    assert arm.joint_positions() == pytest.approx(before, abs=1e-3)


def test_joint_targets_are_checked(harness):
    arm = harness.arm()
    with pytest.raises(ValidationError):
        arm.move_joints([0.0, 0.0, 0.0])
    with pytest.raises(OutOfRangeError):
        arm.move_joints([0.0, 0.0, 0.0, 0.0, 0.0, 10 * math.pi])
    with pytest.raises(OutOfRangeError):
        arm.move_home(speed=2.0)


def test_gripper_commands_are_idempotent(harness):
    arm = harness.arm()
    assert not arm.set_gripper(False).closed
    assert not arm.set_gripper(False).closed
    assert arm.set_gripper(True).closed
    assert arm.gripper().closed
    arm.set_gripper(False)


def test_protective_stop_blocks_motion_until_reset(harness):
    arm = harness.arm()
    harness.protective_stop()
    with pytest.raises(ProtectiveStopError):
        arm.move_home()
    assert arm.status().fault_code == ErrorCode.PROTECTIVE_STOP
    arm.reset()
    arm.move_home()
    arm.stop()
    arm.safe_stop()


def test_cartesian_moves_follow_the_ur5e_kinematics(harness):
    from powderlab.drivers.kinematics import Pose

    arm = harness.arm()
    arm.move_joints([0.3, -1.2, 1.4, -1.8, -1.57, 0.2])
    start = arm.tool_pose()
    target = Pose(start.x + 0.05, start.y - 0.03, start.z + 0.02, start.rx, start.ry, start.rz)
    arm.move_tool(target)
    reached = arm.tool_pose()
    assert (reached.x, reached.y, reached.z) == pytest.approx((target.x, target.y, target.z), abs=2e-3)
    with pytest.raises(Exception) as error:
        arm.move_tool(Pose(3.0, 0.0, 0.5))
    assert getattr(error.value, "code", None) == ErrorCode.NOT_REACHABLE
