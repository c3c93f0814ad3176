"""Each fault scenario in sim/faults surfaces through the drivers with the real device's error."""

import pytest

from powderlab.core.errors import ErrorCode
from powderlab.core.recipes import HeatingProfile, HeatingSegment, PowderDose, ScanSettings, SegmentKind
from powderlab.core.samples import SampleRef
from powderlab.stations.base import StationMode
from powderlab.stations.dosing import DoseRequest
from powderlab.stations.furnace import HeatRequest, LoadRequest
from powderlab.stations.transfer import TransferRequest
from powderlab.stations.xrd import MeasureRequest
from powderlab.twin.devices import TECHNICIAN, TwinArm, TwinBalance, TwinFurnace, TwinMill, TwinPowderDispenser
from powderlab.twin.devices.base import FaultTarget, UnsupportedFaultError
from powderlab.twin.faults import KINDS, Fault, Scenario, parse_scenario

SAMPLE = SampleRef("S1", "crucible_01")
PROFILE = HeatingProfile(
    (
        HeatingSegment(SegmentKind.RAMP, target_c=500.0, rate_c_per_min=20.0),
        HeatingSegment(SegmentKind.DWELL, duration_min=10.0),
    )
)


def to_balance(lab):
    outcome = lab["transfer"].run("transfer", TransferRequest(SAMPLE, "storage/1", "dosing/balance"))
    assert outcome.ok, outcome.message


def test_every_fault_kind_has_a_scenario_file():
    assert {Scenario.load(kind).faults[0].kind for kind in KINDS} == set(KINDS)


def test_dropped_crucible(kinematic_lab):
    kinematic_lab.world.faults.schedule("dropped_crucible")
    outcome = kinematic_lab["transfer"].run("transfer", TransferRequest(SAMPLE, "storage/1", "dosing/balance"))
    assert outcome.code is ErrorCode.DEVICE_FAULT and "lost the object" in outcome.message
    assert kinematic_lab["transfer"].mode is StationMode.FAULT
    crucible = kinematic_lab.world.items["crucible_01"]
    assert crucible.dropped and crucible.position is None
    assert kinematic_lab.world.item_pose(crucible)[0][2] < 0.005  # on the table, not in the gripper


def test_stuck_door_refuses_the_load_before_the_arm_moves(kinematic_lab):
    kinematic_lab.world.faults.schedule("stuck_door")
    arm = kinematic_lab["transfer"].arms()["arm_a"]
    before = arm.joint_positions()
    outcome = kinematic_lab["furnaces"].run("load_furnace", LoadRequest(SAMPLE, "storage/1", furnace="furnace_1"))
    assert outcome.code is ErrorCode.DEVICE_FAULT and "jammed" in outcome.message
    assert kinematic_lab["furnaces"].mode is StationMode.FAULT
    assert arm.joint_positions() == before
    assert kinematic_lab.world.items["crucible_01"].position == "storage/1"


def test_balance_drift(kinematic_lab):
    to_balance(kinematic_lab)
    kinematic_lab.world.faults.schedule("balance_drift")
    outcome = kinematic_lab["dosing"].run("dose", DoseRequest(SAMPLE, (PowderDose("TiO2", 200.0),)))
    assert outcome.code is ErrorCode.BALANCE_UNSTABLE and "no stable reading" in outcome.message
    assert kinematic_lab["dosing"].mode is StationMode.IDLE  # a retryable error, not a device fault


def test_thermocouple_failure_during_heating(kinematic_lab):
    kinematic_lab.world.faults.schedule("thermocouple_failure")
    outcome = kinematic_lab["furnaces"].run("heat", HeatRequest("furnace_1", PROFILE))
    assert outcome.code is ErrorCode.DEVICE_FAULT and "thermocouple" in outcome.message
    assert kinematic_lab["furnaces"].mode is StationMode.FAULT
    assert not kinematic_lab.world.devices["furnace_1"].program().running  # the controller stopped heating


def test_protective_stop(kinematic_lab):
    kinematic_lab.world.faults.schedule("protective_stop")
    outcome = kinematic_lab["transfer"].run("transfer", TransferRequest(SAMPLE, "storage/1", "dosing/balance"))
    assert outcome.code is ErrorCode.PROTECTIVE_STOP
    assert kinematic_lab["transfer"].mode is StationMode.FAULT
    status = kinematic_lab["transfer"].arms()["arm_a"].status()
    assert status.fault_code == ErrorCode.PROTECTIVE_STOP and status.state == "protective_stop"


def test_clogged_dosing_head(kinematic_lab):
    to_balance(kinematic_lab)
    kinematic_lab.world.faults.schedule("clogged_head")
    outcome = kinematic_lab["dosing"].run("dose", DoseRequest(SAMPLE, (PowderDose("TiO2", 200.0),)))
    assert outcome.code is ErrorCode.DEVICE_FAULT and "blocked" in outcome.message
    assert kinematic_lab["dosing"].mode is StationMode.FAULT
    assert kinematic_lab.world.items["crucible_01"].truth.precursors_mg.get("TiO2", 0.0) < 10.0


def test_diffractometer_communication_loss(kinematic_lab):
    kinematic_lab.world.spawn("crucible_x", "crucible", "xrd/recovery", 25_000.0).truth.add_powder("TiO2", 100.0)
    kinematic_lab.lab.transfer.set_position("xrd/recovery", "crucible_x", "crucible")
    kinematic_lab.world.faults.schedule("comm_loss")
    scan = ScanSettings(10.0, 60.0, 0.05, 60.0)
    outcome = kinematic_lab["xrd"].run("measure_xrd", MeasureRequest(SampleRef("S9", "crucible_x"), "", "", scan))
    assert outcome.code is ErrorCode.TIMEOUT and "communication lost" in outcome.message
    status = kinematic_lab["xrd"].diffractometer.status()
    assert status.state == "no_answer" and status.fault_code == ErrorCode.TIMEOUT


@pytest.mark.parametrize("kind", ["stuck_door", "protective_stop"])
def test_a_repaired_device_works_again(kinematic_lab, kind):
    world = kinematic_lab.world
    world.faults.schedule(kind)
    device = Scenario.load(kind).faults[0].device
    world.faults.clear(device)
    if kind == "protective_stop":
        assert kinematic_lab["transfer"].run("transfer", TransferRequest(SAMPLE, "storage/1", "dosing/balance")).ok
    else:
        assert kinematic_lab["furnaces"].run("load_furnace", LoadRequest(SAMPLE, "storage/1", furnace="furnace_1")).ok


def test_fault_kinds_are_the_fault_api():
    assert set(FaultTarget.FAULT_METHODS) == set(KINDS)
    assert TwinFurnace.supported_faults() == ["comm_loss", "stuck_door", "thermocouple_failure"]
    assert TwinArm.supported_faults() == ["comm_loss", "dropped_crucible", "protective_stop"]
    assert TwinBalance.supported_faults() == ["comm_loss", "balance_drift"]
    assert TwinPowderDispenser.supported_faults() == ["comm_loss", "clogged_head"]
    assert TwinMill.supported_faults() == ["comm_loss"]


def test_a_fault_a_device_does_not_support_is_refused_and_nothing_breaks(kinematic_lab):
    world = kinematic_lab.world
    scenario = parse_scenario(
        {
            "faults": [
                {"kind": "stuck_door", "device": "furnace_1"},
                {"kind": "stuck_door", "device": "balance"},
            ]
        }
    )
    with pytest.raises(UnsupportedFaultError) as error:
        world.faults.schedule(scenario)
    assert "balance cannot fail that way; its faults: comm_loss, balance_drift" in str(error.value)
    assert error.value.code == ErrorCode.INVALID_GOAL
    assert world.faults.applied == [] and not world.devices["furnace_1"].door_jammed
    with pytest.raises(UnsupportedFaultError, match="fault thermocouple_failure on arm_a"):
        world.devices["arm_a"].fail_thermocouple()
    with pytest.raises(UnsupportedFaultError, match="technician cannot fail that way; its faults: none"):
        world.faults.apply(Fault("comm_loss", TECHNICIAN))
