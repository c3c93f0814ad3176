"""The Robotiq 2F-style gripper of arm_b on Modbus RTU (a pty), through the arm driver."""

from __future__ import annotations

import pytest

from powderlab.core.errors import DeviceError, ProtectiveStopError
from powderlab.drivers import real
from powderlab.drivers.real import robotiq_map as r


@pytest.fixture
def arm_b(lab, clock):
    emulated, variables = lab
    arm = real.build_device(emulated.profile.station("transfer").device("arm_b"), clock, {"variables": variables})
    arm.connect()
    yield emulated, arm
    arm.disconnect()


def test_gripper_activates_grasps_and_opens(arm_b):
    emulated, arm = arm_b
    bank = emulated.models.grippers["arm_b"]
    assert bank.sta == r.STA_ACTIVE  # activated on connect
    closed = arm.set_gripper(True)
    assert closed.closed and closed.object_detected
    assert arm.set_gripper(True).object_detected  # idempotent
    assert not arm.set_gripper(False).closed
    bank.grasp_finds_object = False
    empty = arm.set_gripper(True)
    assert empty.closed and not empty.object_detected and empty.opening == pytest.approx(0.0)
    arm.set_gripper(False)


def test_gripper_fault_and_crc_errors(arm_b):
    emulated, arm = arm_b
    emulated.ptys["arm_b_gripper"].corrupt_next = True
    assert arm.gripper().opening == pytest.approx(1.0)  # a corrupted reply is retried
    emulated.models.grippers["arm_b"].fault = 0x0E
    with pytest.raises(DeviceError) as error:
        arm.set_gripper(True)
    assert "0x0E" in str(error.value) and "overcurrent" in str(error.value)


def test_protective_stop_blocks_the_tool_gripper(arm_b):
    emulated, arm = arm_b
    emulated.models.arms["arm_b"].trigger_protective_stop()
    emulated.sync()
    arm.link.wait_for(lambda: bool(arm.link.cached(arm.k_pstop)), 5.0, arm.clock, "the protective stop")
    with pytest.raises(ProtectiveStopError):
        arm.set_gripper(True)
    arm.reset()
