"""Position rules: one item per position; EMPTY / OCCUPIED / LOCKED; all-or-nothing reservations."""

import pytest

from powderlab.core.errors import (
    ErrorCode,
    PositionEmptyError,
    PositionLockedError,
    PositionOccupiedError,
    UnknownResourceError,
    ValidationError,
    WrongLabwareError,
)
from powderlab.core.labware import Labware, LabwareKind
from powderlab.core.positions import Position, PositionSpec, PositionState, PositionTable, furnace_of

CRUCIBLE = Labware("crucible_01", LabwareKind.CRUCIBLE)


@pytest.fixture
def table():
    specs = [PositionSpec.parse(n, "crucible") for n in ("rack/1", "rack/2", "balance")]
    specs.append(PositionSpec.parse("holders/1", "xrd_holder"))
    table = PositionTable(specs)
    table.place("rack/1", CRUCIBLE)
    return table


def test_states_follow_occupancy_and_locks(table):
    assert table.get("rack/1").state is PositionState.OCCUPIED
    assert table.get("rack/2").state is PositionState.EMPTY
    table.reserve(["rack/2"], "op1")
    assert table.get("rack/2").state is PositionState.LOCKED
    table.release("op1")
    assert table.get("rack/2").state is PositionState.EMPTY


def test_move_keeps_one_item_per_position(table):
    table.move("rack/1", "balance", "crucible_01")
    assert table.get("balance").labware == CRUCIBLE and table.get("rack/1").labware is None
    assert table.find("crucible_01") == "balance"


def test_move_errors_name_the_position_and_problem(table):
    table.place("rack/2", Labware("crucible_02", "crucible"))
    with pytest.raises(PositionOccupiedError) as occupied:
        table.move("rack/1", "rack/2")
    assert occupied.value.code is ErrorCode.POSITION_OCCUPIED and "rack/2" in str(occupied.value)
    with pytest.raises(PositionEmptyError) as empty:
        table.move("balance", "rack/2")
    assert empty.value.code is ErrorCode.POSITION_EMPTY
    with pytest.raises(WrongLabwareError) as wrong:
        table.move("rack/1", "balance", "crucible_99")
    assert "crucible_01" in str(wrong.value) and "crucible_99" in str(wrong.value)
    with pytest.raises(UnknownResourceError) as unknown:
        table.move("rack/1", "nowhere")
    assert "nowhere" in str(unknown.value) and "rack/2" in str(unknown.value)
    with pytest.raises(ValidationError) as kind:
        table.move("rack/1", "holders/1")
    assert "xrd_holder" in str(kind.value)


def test_locked_positions_refuse_other_operations(table):
    table.reserve(["rack/1", "balance"], "op1")
    with pytest.raises(PositionLockedError) as locked:
        table.move("rack/1", "rack/2", operation="op2")
    assert "op1" in str(locked.value) and locked.value.code is ErrorCode.POSITION_LOCKED
    table.move("rack/1", "balance", operation="op1")


def test_reservations_are_all_or_nothing(table):
    table.reserve(["balance"], "op1")
    with pytest.raises(PositionLockedError):
        table.reserve(["rack/2", "balance"], "op2")
    assert table.get("rack/2").state is PositionState.EMPTY  # nothing half-booked


def test_labware_cannot_be_in_two_places(table):
    with pytest.raises(ValidationError):
        table.place("rack/2", CRUCIBLE)


def test_occupancy_round_trips_through_plain_data(table):
    table.assign_sample("rack/1", "S1")
    data = table.to_dict()
    other = PositionTable(
        [PositionSpec.parse(n, "crucible") for n in ("rack/1", "rack/2", "balance")]
        + [PositionSpec.parse("holders/1", "xrd_holder")]
    )
    other.load_occupancy(data)
    assert other.get("rack/1").labware == CRUCIBLE and other.get("rack/1").sample_id == "S1"


def test_position_names_parse_in_one_place():
    slot = Position.parse("furnace_2/slot_7")
    assert (slot.owner, slot.place, slot.slot_index, str(slot)) == ("furnace_2", "slot_7", 7, "furnace_2/slot_7")
    assert Position.slot("furnace_2", 7) == slot and Position.parse("storage/3").slot_index is None
    assert Position.gripper("arm_a").is_gripper and Position.parse("arm_a/gripper") == Position.gripper("arm_a")
    assert furnace_of("furnace_2/slot_7") == "furnace_2"
    assert furnace_of("dosing/balance") == furnace_of("") == furnace_of("furnace_2/slot_x") == ""
    for bad in ("storage", "a/b/c", "/slot_1", "furnace_1/"):
        with pytest.raises(ValidationError, match="expected <owner>/<place>"):
            Position.parse(bad)
