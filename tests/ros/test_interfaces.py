"""The interfaces agree with the core: error codes, position states, station modes, segments."""

import pytest
from powderlab_interfaces import action as actions
from powderlab_interfaces import msg

from powderlab.core.errors import ErrorCode
from powderlab.core.positions import PositionState
from powderlab.drivers.furnace import DoorState
from powderlab.nodes.conversions import SEGMENT_KINDS
from powderlab.nodes.lab_client import ACTION_TYPES
from powderlab.stations.base import StationMode
from powderlab.stations.factory import STATION_CLASSES


@pytest.mark.parametrize("name", sorted(ACTION_TYPES))
def test_every_action_result_carries_the_core_error_codes(name):
    result = ACTION_TYPES[name].Result
    for code in ErrorCode:
        assert getattr(result, code.name) == code.value, f"{name}: {code.name}"
    assert hasattr(result(), "error_code") and hasattr(result(), "error_msg")


def test_every_station_operation_has_an_action():
    operations = {op for cls in STATION_CLASSES.values() for op in cls.operations}
    assert operations == set(ACTION_TYPES)


def test_enums_match_message_constants():
    for state in PositionState:
        assert getattr(msg.PositionState, state.name) == state.value
    for mode in StationMode:
        assert getattr(msg.StationStatus, f"MODE_{mode.name}") == mode.value
    for door in DoorState:
        assert getattr(msg.FurnaceState, f"DOOR_{door.name}") == door.value
    assert set(SEGMENT_KINDS) == {msg.HeatingSegment.RAMP, msg.HeatingSegment.DWELL, msg.HeatingSegment.COOL}


def test_messages_check_field_types_in_tests():
    with pytest.raises(AssertionError):
        actions.Mill.Goal(frequency_hz=25)  # an int in a float64 field: caught, not serialised as garbage
