"""Transfers: the position rules, routes over two arms, reservations."""

import pytest

from powderlab.core.errors import ErrorCode
from powderlab.core.positions import PositionState
from powderlab.core.samples import SampleRef
from powderlab.stations.base import ManualRequest
from powderlab.stations.transfer import TransferRequest


def transfer(lab, labware, source, destination):
    return lab["transfer"].run("transfer", TransferRequest(SampleRef("S1", labware), source, destination))


def test_one_arm_when_it_reaches_both_ends(lab):
    outcome = transfer(lab, "crucible_01", "storage/1", "dosing/balance")
    assert outcome.ok and outcome.result.arms == ["arm_a"]
    assert lab.transfer.table.get("dosing/balance").sample_id == "S1"


def test_two_arms_hand_over_at_the_buffer(lab):
    outcome = transfer(lab, "crucible_01", "storage/1", "furnace_2/slot_1")
    assert outcome.ok, outcome.message
    assert outcome.result.arms == ["arm_a", "arm_b"]
    assert outcome.result.path[1].startswith("buffer/")
    assert lab.transfer.table.get(outcome.result.path[1]).state is PositionState.EMPTY


@pytest.mark.parametrize(
    ("labware", "source", "destination", "code"),
    [
        ("crucible_01", "storage/1", "storage/2", ErrorCode.POSITION_OCCUPIED),
        ("crucible_01", "buffer/1", "done/1", ErrorCode.POSITION_EMPTY),
        ("crucible_09", "storage/1", "done/1", ErrorCode.WRONG_LABWARE),
        ("crucible_01", "storage/1", "moon/1", ErrorCode.UNKNOWN_RESOURCE),
    ],
)
def test_position_rules(lab, labware, source, destination, code):
    outcome = transfer(lab, labware, source, destination)
    assert outcome.code is code, outcome.message
    assert lab.transfer.table.get(source).state is not PositionState.LOCKED


def test_locked_destination_is_refused(lab):
    lab.transfer.table.reserve(["done/1"], "someone-else")
    outcome = transfer(lab, "crucible_01", "storage/1", "done/1")
    assert outcome.code is ErrorCode.POSITION_LOCKED and "someone-else" in outcome.message


def test_protective_stop_mid_transfer_leaves_a_true_record(lab):
    arm = lab.transfer.arms()["arm_a"]
    original = arm.move_to

    def stop_after_pick(position, height, speed=0.5):
        if position == "done/1":
            arm.trigger_protective_stop()
        original(position, height, speed)

    arm.move_to = stop_after_pick
    outcome = transfer(lab, "crucible_01", "storage/1", "done/1")
    assert outcome.code is ErrorCode.PROTECTIVE_STOP
    assert lab.transfer.table.find("crucible_01") == "arm_a/gripper"  # it is in the gripper, and says so
    assert lab["transfer"].mode.name == "FAULT"


def test_a_failed_transfer_stops_only_its_own_arm(lab):
    """A fault of arm_a's transfer safe-stops arm_a, never arm_b (another operation may be moving it)."""
    arms = lab.transfer.arms()
    stopped = []
    for name, arm in arms.items():
        arm.safe_stop = lambda name=name: stopped.append(name)
    original = arms["arm_a"].move_to

    def stop_on_the_way(position, height, speed=0.5):
        if position == "dosing/balance":
            arms["arm_a"].trigger_protective_stop()
        original(position, height, speed)

    arms["arm_a"].move_to = stop_on_the_way
    outcome = transfer(lab, "crucible_01", "storage/1", "dosing/balance")
    assert outcome.code is ErrorCode.PROTECTIVE_STOP
    assert stopped == ["arm_a"]


def test_an_arm_that_placed_in_shared_space_parks_at_home(lab):
    outcome = transfer(lab, "crucible_01", "storage/1", "done/1")  # done/* is served by both arms
    assert outcome.ok, outcome.message
    assert lab.transfer.arms()["arm_a"].at == "home"
    assert lab.transfer.coordinator.holders() == {}


def test_a_transfer_waits_for_the_other_arm_in_shared_space_and_then_fails_clearly(lab):
    station = lab.transfer
    station.parameters["arm_wait_timeout_s"] = 30.0
    assert station.command(ManualRequest("move_to", "arm_b", "done/5")).ok  # arm_b stands over the done rack
    outcome = transfer(lab, "crucible_01", "storage/1", "done/1")
    assert outcome.code is ErrorCode.TIMEOUT, outcome.message
    assert "arm_a cannot move to done/1" in outcome.message and "'shared_space' is held by arm_b" in outcome.message
    assert "waited 30.0 s" in outcome.message
    assert station.mode.name == "IDLE"  # a refusal, not a fault: nothing was stopped
    assert station.table.find("crucible_01") == "arm_a/gripper"  # it waits holding the crucible, and says so
    assert station.command(ManualRequest("move_home", "arm_b")).ok
    assert station.command(ManualRequest("move_to", "arm_a", "done/1")).ok  # the way is free now
