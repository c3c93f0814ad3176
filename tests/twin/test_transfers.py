"""Acceptance: crucibles carried by the physical arms (physics mode) end within millimetres of their slots."""

import threading

import numpy as np
import pytest

from powderlab.core.errors import DeviceError, ErrorCode
from powderlab.core.recipes import HeatingProfile, HeatingSegment, PowderDose, ScanSettings, SegmentKind
from powderlab.core.samples import SampleRef
from powderlab.drivers.arm import Height
from powderlab.stations.dosing import DoseRequest
from powderlab.stations.furnace import HeatRequest, LoadRequest, UnloadRequest
from powderlab.stations.transfer import TransferRequest
from powderlab.stations.xrd import MeasureRequest
from powderlab.twin.arm import HOME, ArmModel

SAMPLE = SampleRef("S1", "crucible_01")
QUICK_SCAN = ScanSettings(10.0, 80.0, 0.05, 60.0)
PLACE_TOLERANCE_MM = 3.0


def test_dosing_to_furnace_to_diffractometer_with_the_physical_arms(physics_lab):
    lab, world = physics_lab, physics_lab.world
    moved = lab["transfer"].run("transfer", TransferRequest(SAMPLE, "storage/1", "dosing/balance"))
    assert moved.ok, moved.message
    assert lab.error_mm("crucible_01", "dosing/balance") < PLACE_TOLERANCE_MM
    dosed = lab["dosing"].run("dose", DoseRequest(SAMPLE, (PowderDose("TiO2", 300.0),)))
    assert dosed.ok, dosed.message
    assert world.items["crucible_01"].truth.precursors_mg["TiO2"] == pytest.approx(300.0, rel=0.02)

    loaded = lab["furnaces"].run("load_furnace", LoadRequest(SAMPLE, "dosing/balance", furnace="furnace_2", slot=3))
    assert loaded.ok, loaded.message  # arm_a to the buffer, arm_b on into the furnace
    assert world.items["crucible_01"].position == "furnace_2/slot_3"
    assert lab.error_mm("crucible_01", "furnace_2/slot_3") < PLACE_TOLERANCE_MM
    assert world.physics_steps > 1000  # it was carried by the simulated arms, step by step

    unloaded = lab["furnaces"].run("unload_furnace", UnloadRequest(SAMPLE, "xrd/recovery"))
    assert unloaded.ok, unloaded.message
    assert lab.error_mm("crucible_01", "xrd/recovery") < PLACE_TOLERANCE_MM
    measured = lab["xrd"].run("measure_xrd", MeasureRequest(SAMPLE, "xrd/recovery", "done/1", QUICK_SCAN))
    assert measured.ok, measured.message
    assert lab.error_mm("crucible_01", "done/1") < PLACE_TOLERANCE_MM
    pattern = measured.result.pattern
    assert pattern.two_theta_deg.size == QUICK_SCAN.point_count
    assert pattern.intensity.max() > 5 * np.median(pattern.intensity)  # the TiO2 in the holder diffracts


def test_transfer_into_a_closed_furnace_is_refused_before_the_arm_moves(kinematic_lab):
    lab, world = kinematic_lab, kinematic_lab.world
    assert lab["transfer"].run("transfer", TransferRequest(SAMPLE, "storage/1", "buffer/1")).ok
    arm = lab["transfer"].arms()["arm_b"]
    arm.move_to("buffer/1", Height.APPROACH)
    arm.move_to("buffer/1", Height.GRASP)
    assert arm.set_gripper(True).object_detected
    arm.move_to("buffer/1", Height.APPROACH)
    before = arm.joint_positions()
    with pytest.raises(DeviceError) as error:
        arm.move_to("furnace_1/slot_1", Height.APPROACH)
    assert error.value.code is ErrorCode.DEVICE_FAULT and "furnace_1" in str(error.value)
    assert arm.joint_positions() == pytest.approx(before, abs=1e-9)
    assert world.arms["arm_b"].held is world.items["crucible_01"]


def test_heat_records_the_true_temperature_and_the_chemistry_reacts(kinematic_lab):
    lab, world = kinematic_lab, kinematic_lab.world
    crucible = world.items["crucible_01"]
    crucible.truth.precursors_mg = {"Li2CO3": 370.0, "Co3O4": 803.0}
    assert lab["transfer"].run("transfer", TransferRequest(SAMPLE, "storage/1", "buffer/1")).ok
    assert lab["furnaces"].run("load_furnace", LoadRequest(SAMPLE, "buffer/1", furnace="furnace_1", slot=1)).ok
    profile = HeatingProfile(
        (
            HeatingSegment(SegmentKind.RAMP, target_c=900.0, rate_c_per_min=15.0),
            HeatingSegment(SegmentKind.DWELL, duration_min=240.0),
            HeatingSegment(SegmentKind.COOL, target_c=150.0),
        )
    )
    heated = lab["furnaces"].run("heat", HeatRequest("furnace_1", profile))
    assert heated.ok, heated.message
    peak = max(t for _, t in crucible.truth.history)
    assert 895.0 < peak < 930.0  # first-order lag and a little overshoot, not an ideal controller
    phases, _ = world.chemistry.phases_of(crucible)
    unheated = {world.chemistry.model.library.find(name).phase_id for name in ("Li2CO3", "Co3O4")}
    assert set(phases) != unheated  # something reacted or decomposed
    assert sum(phases.values()) < 370.0 + 803.0  # CO2 (and O2) left as gas


def test_a_joint_is_never_clipped_at_its_limit_into_another_pose():
    """The turn nearest the reference lies past -2 pi: the other turn is taken, not a clipped angle."""
    q = np.array([-0.921, -1.394, 2.176, -2.352, -1.571, -1.857])
    reference = np.array([-4.412, -1.53, 2.335, -2.375, -1.571, -1.901])
    turned = ArmModel.nearest_turn(q, reference)
    assert np.all(np.abs(turned) <= 2 * np.pi)
    assert np.allclose(np.cos(turned), np.cos(q)) and np.allclose(np.sin(turned), np.sin(q))  # the same pose
    assert turned[0] == pytest.approx(-0.921)  # -7.204 is past the limit; -6.283 would be another pose
    assert ArmModel.nearest_turn(np.array([-0.1] * 6), np.array([6.0] * 6)) == pytest.approx([2 * np.pi - 0.1] * 6)


def test_an_arm_reaches_a_position_again_after_a_long_way_round(kinematic_lab):
    """Joint 1 near its limit after a milling -> buffer move: the balance is still reached (was 40 cm off)."""
    lab, world = kinematic_lab, kinematic_lab.world
    first, second = SampleRef("S1", "crucible_01"), SampleRef("S2", "crucible_02")
    moves = [
        (first, "storage/1", "milling/clamp"),
        (second, "storage/2", "dosing/balance"),
        (first, "milling/clamp", "buffer/1"),  # leaves joint 1 at about -4.4 rad
        (second, "dosing/balance", "milling/clamp"),
    ]
    for sample, source, destination in moves:
        moved = lab["transfer"].run("transfer", TransferRequest(sample, source, destination))
        assert moved.ok, f"{source} -> {destination}: {moved.message}"
        assert lab.error_mm(sample.labware_id, destination) < PLACE_TOLERANCE_MM
    assert world.items["crucible_02"].position == "milling/clamp"


def test_two_arms_working_at_the_buffer_at_once_take_turns(running_kinematic_lab):
    """arm_a places at buffer/1 while arm_b picks at buffer/2: they once met over the buffer and both failed."""
    lab, world = running_kinematic_lab, running_kinematic_lab.world
    first, second = SampleRef("S1", "crucible_01"), SampleRef("S2", "crucible_02")
    assert lab["transfer"].run("transfer", TransferRequest(first, "storage/1", "buffer/2")).ok
    assert lab["transfer"].run("transfer", TransferRequest(second, "storage/2", "milling/clamp")).ok
    outcomes = {}
    moves = {
        "arm_a": TransferRequest(second, "milling/clamp", "buffer/1"),
        "arm_b": TransferRequest(first, "buffer/2", "xrd/recovery"),
    }

    def run(arm: str) -> None:
        outcomes[arm] = lab["transfer"].run("transfer", moves[arm])

    workers = [threading.Thread(target=run, args=(arm,)) for arm in moves]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120.0)
    for arm, outcome in outcomes.items():
        assert outcome.ok, f"{arm}: {outcome.message}"
    assert len(outcomes) == 2
    assert world.items["crucible_02"].position == "buffer/1" and world.items["crucible_01"].position == "xrd/recovery"
    home = world.arms["arm_a"].nearest_turn(np.array(HOME), world.arms["arm_a"].q)
    assert world.arms["arm_a"].q == pytest.approx(home)  # it parked out of the buffer's air space
