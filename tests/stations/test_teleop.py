"""Teleoperation and manual commands inside the stations' rules (plain Python, mock devices)."""

import math

import pytest

from powderlab.core.errors import ErrorCode
from powderlab.stations.base import ManualRequest
from powderlab.stations.teleop import JogFrame, JogRequest


def jog(lab, arm="arm_a", frame=JogFrame.JOINT, axis=0, speed=1.0):
    return lab["transfer"].run("jog", JogRequest(arm, frame, axis, speed, "pytest"))


def test_a_joint_jog_moves_one_bounded_increment(lab):
    arm = lab.transfer.arms()["arm_a"]
    before = arm.joint_positions()
    outcome = jog(lab, axis=1, speed=0.5)
    assert outcome.ok, outcome.message
    after = arm.joint_positions()
    step = 0.5 * 0.5 * 0.1  # speed x jog_joint_speed_rad_s x jog_step_s
    assert after[1] - before[1] == pytest.approx(step)
    assert [a for i, a in enumerate(after) if i != 1] == [b for i, b in enumerate(before) if i != 1]
    assert outcome.result.joints == after and "joint 2 +" in outcome.message


def test_a_tool_jog_moves_the_flange_in_a_straight_line_within_the_limit(lab):
    arm = lab.transfer.arms()["arm_b"]
    start = arm.tool_pose()
    outcome = jog(lab, arm="arm_b", frame=JogFrame.TOOL, axis=2, speed=-1.0)
    assert outcome.ok, outcome.message
    end = arm.tool_pose()
    assert end.z - start.z == pytest.approx(-0.05 * 0.1, abs=1e-4)  # jog_linear_speed_m_s x jog_step_s
    assert math.hypot(end.x - start.x, end.y - start.y) < 1e-4


def test_a_tool_rotation_jog_turns_about_the_base_axis(lab):
    arm = lab.transfer.arms()["arm_a"]
    start = arm.tool_pose()
    assert jog(lab, frame=JogFrame.TOOL, axis=5, speed=1.0).ok
    end = arm.tool_pose()
    assert (end.x, end.y, end.z) == pytest.approx((start.x, start.y, start.z), abs=1e-4)
    assert (end.rx, end.ry, end.rz) != pytest.approx((start.rx, start.ry, start.rz), abs=1e-4)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"speed": 1.5}, "speed"), ({"axis": 6}, "axis"), ({"arm": "arm_z"}, "arm_a")],
)
def test_bad_jog_requests_name_what_is_allowed(lab, kwargs, field):
    outcome = jog(lab, **kwargs)
    assert not outcome.ok and field in outcome.message


def test_an_arm_busy_in_a_transfer_refuses_jogging(lab):
    locks = lab["transfer"].locks
    locks.describe("transfer.transfer.7", "transfer (S1)")  # what a running transfer holds
    assert locks.try_acquire(["arm_a"], "transfer.transfer.7")
    refused = jog(lab)
    assert refused.code is ErrorCode.STATION_UNAVAILABLE
    assert "'arm_a' is busy with transfer (S1)" in refused.message
    assert lab["transfer"].command(ManualRequest("gripper_open", "arm_a")).code is ErrorCode.STATION_UNAVAILABLE
    assert jog(lab, arm="arm_b").ok  # the other arm is free
    locks.release("transfer.transfer.7")
    assert jog(lab).ok


def test_estop_refuses_jogging_until_reset(lab):
    lab.estop("pytest")
    outcome = jog(lab)
    assert outcome.code is ErrorCode.ESTOPPED
    lab.reset()
    assert jog(lab).ok


def test_gripper_refuses_to_drop_what_the_table_says_it_holds(lab):
    transfer = lab["transfer"]
    crucible = transfer.table.get("storage/1").labware
    transfer.table.set("storage/1", None)
    transfer.table.place("arm_a/gripper", crucible)
    refused = transfer.command(ManualRequest("gripper_open", "arm_a", "", "pytest"))
    assert (
        refused.code is ErrorCode.POSITION_OCCUPIED and "crucible_01" in refused.message and "force" in refused.message
    )
    forced = transfer.command(ManualRequest("gripper_open", "arm_a", "force", "pytest"))
    assert forced.ok, forced.message


def test_arm_commands(lab):
    transfer = lab["transfer"]
    arm = transfer.arms()["arm_b"]
    assert transfer.command(ManualRequest("gripper_close", "arm_b")).ok and arm.gripper().closed
    assert transfer.command(ManualRequest("gripper_open", "arm_b")).ok and not arm.gripper().closed
    moved = transfer.command(ManualRequest("move_to", "arm_b", "furnace_1/slot_1"))
    assert moved.ok and arm.at == "furnace_1/slot_1@approach"
    unreachable = transfer.command(ManualRequest("move_to", "arm_b", "storage/1"))
    assert unreachable.code is ErrorCode.NOT_REACHABLE and "furnace_*" in unreachable.message
    assert transfer.command(ManualRequest("move_home", "arm_b")).ok and arm.at == "home"
    assert transfer.command(ManualRequest("stop", "arm_b")).ok
    unknown = transfer.command(ManualRequest("transfer", "arm_b"))  # an action is not a manual command
    assert unknown.code is ErrorCode.UNKNOWN_RESOURCE and "gripper_open" in unknown.message


def test_furnace_doors_obey_their_interlocks(lab):
    furnaces = lab["furnaces"]
    opened = furnaces.command(ManualRequest("open_door", "furnace_1", "", "pytest"))
    assert opened.ok and opened.message == "furnace_1 door open"
    assert furnaces.command(ManualRequest("close_door", "furnace_1")).message == "furnace_1 door closed"
    furnaces.furnace("furnace_2").set_temperature(450.0)
    hot = furnaces.command(ManualRequest("open_door", "furnace_2"))
    assert hot.code is ErrorCode.INTERLOCK and "450" in hot.message and "200" in hot.message
    unknown = furnaces.command(ManualRequest("open_door", "furnace_9"))
    assert unknown.code is ErrorCode.UNKNOWN_RESOURCE and "furnace_4" in unknown.message


def test_tare_and_pause(lab):
    dosing = lab["dosing"]
    dosing.balance.add_load(1234.5)
    tared = dosing.command(ManualRequest("tare", "", "", "pytest"))
    assert tared.ok and "1234.50" in tared.message and dosing.balance.read().mass_mg == 0.0
    dosing.pause()
    paused = dosing.command(ManualRequest("tare"))
    assert paused.code is ErrorCode.STATION_UNAVAILABLE and "paused" in paused.message
