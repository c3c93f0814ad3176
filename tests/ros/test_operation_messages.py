"""Every operation through its real ROS messages, derived from the registry (ADR 0088). No lab needed."""

import dataclasses

import pytest
from powderlab_interfaces import action as actions
from powderlab_interfaces import msg

from powderlab.core.errors import UnknownResourceError
from powderlab.core.recipes import HeatingProfile
from powderlab.nodes.conversions import MessageCodec, action_type, bindings
from powderlab.nodes.lab_client import ACTION_TYPES
from powderlab.nodes.ros_lab_port import goal_message, result_data
from powderlab.stations.operations import OPERATIONS
from tests.stations.test_operations import EXAMPLES

CODEC = MessageCodec(lambda: 42.25)


def test_every_operation_has_its_action_type():
    assert set(ACTION_TYPES) == set(OPERATIONS)
    assert ACTION_TYPES["dose"] is actions.Dose and ACTION_TYPES["weigh"] is actions.Weigh
    assert set(bindings(lambda: 0.0)) == set(OPERATIONS)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_request_round_trips_through_the_goal_message(name):
    op = OPERATIONS[name]
    request, _ = EXAMPLES[name]
    goal = CODEC.goal(request)
    assert isinstance(goal, action_type(op).Goal)
    assert CODEC.request(op, goal) == request
    # the lab port: stored goal data -> the same goal message
    assert goal_message(name, op.request_to_data(request)) == goal


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_result_round_trips_through_the_result_message(name):
    op = OPERATIONS[name]
    _, result = EXAMPLES[name]
    message = action_type(op).Result()
    CODEC.fill_result(message, result)
    data, pattern = result_data(name, message)
    assert data == op.result_to_data(result)
    assert (pattern is not None) == (op.pattern(result) is not None)
    if pattern is not None:
        assert list(pattern.two_theta_deg) == pytest.approx(list(result.pattern.two_theta_deg))


def test_message_fields_are_what_the_stations_and_the_old_records_expect():
    dose_goal = CODEC.goal(EXAMPLES["dose"][0])
    assert dose_goal.sample == msg.SampleRef(sample_id="S1", labware_id="crucible_01")
    assert [(p.powder, p.target_mg) for p in dose_goal.powders] == [("Li2CO3", 377.5), ("Co3O4", 820.2)]
    assert dose_goal.tolerance_rel == 0.02
    heat_goal = CODEC.goal(EXAMPLES["heat"][0])
    assert [s.kind for s in heat_goal.profile] == [msg.HeatingSegment.RAMP, msg.HeatingSegment.DWELL]
    assert isinstance(CODEC.request(OPERATIONS["heat"], heat_goal).profile, HeatingProfile)
    # an int where a float64 field is (old records, YAML recipes) is sent as a float, not refused
    mill = goal_message("mill", {"sample_id": "S", "duration_s": 600, "frequency_hz": 25, "ball_count": 4})
    assert mill.duration_s == 600.0 and mill.frequency_hz == 25.0 and mill.ball_count == 4
    # no scan: zeros, the station's defaults; and back to None
    measure = goal_message("measure_xrd", {"sample_id": "S", "source": "xrd/recovery"})
    assert measure.scan == msg.XrdScanSettings() and CODEC.request(OPERATIONS["measure_xrd"], measure).scan is None
    # a result's derived total and a pattern's stamp
    dose_result = actions.Dose.Result()
    CODEC.fill_result(dose_result, EXAMPLES["dose"][1])
    assert dose_result.total_mg == pytest.approx(389.1)
    measure_result = actions.MeasureXrd.Result()
    CODEC.fill_result(measure_result, EXAMPLES["measure_xrd"][1])
    assert measure_result.pattern.stamp.sec == 42 and measure_result.pattern.stamp.nanosec == 250_000_000


def test_a_failed_goal_reads_as_the_old_port_read_it():
    """No data: the Result's zeros are stored (as before), and a failed measurement has no pattern."""
    data, pattern = result_data("measure_xrd", actions.MeasureXrd.Result(error_code=11))
    assert data == {"sample_mg": 0.0, "holder_id": ""} and pattern is None
    assert result_data("dose", actions.Dose.Result())[0] == {"doses": [], "total_mg": 0.0}
    assert result_data("mill", actions.Mill.Result())[0] == {"milled_s": 0.0}


def test_an_operation_whose_interface_is_not_built_says_how_to_build_it():
    declared = OPERATIONS["weigh"]
    unbuilt = dataclasses.replace(declared, name="regrind", action_type="powderlab_interfaces/action/Regrind")
    with pytest.raises(UnknownResourceError, match=r"operation 'regrind'.*make setup.*known: Dose"):
        action_type(unbuilt)
