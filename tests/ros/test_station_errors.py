"""Each station's error paths, cancel and the position rules through real node processes.

Faults are put into the mock devices by reconfiguring a station at run time (deactivate, clean
up, new backend_options, configure, activate), the way a technician swaps a station's setup.
"""

from __future__ import annotations

import time
import uuid

import pytest
from powderlab_interfaces import action as actions
from powderlab_interfaces import msg, srv
from unique_identifier_msgs.msg import UUID

from powderlab.core.errors import ErrorCode
from powderlab.nodes.futures import wait_future
from tests.ros.conftest import heat_goal, mock_state, sample, transfer_goal

pytestmark = [pytest.mark.ros, pytest.mark.slow]
HEALTHY = {"backend_options": "{}"}


@pytest.fixture
def at_balance(client):
    """crucible_20 on the balance; afterwards back in storage and the dosing station healthy."""
    result = client.run("transfer", "transfer", transfer_goal("crucible_20", "storage/20", "dosing/balance"))
    assert result.error_code == ErrorCode.NONE, result.error_msg
    yield sample("crucible_20", "S-dose")
    client.reconfigure("dosing", HEALTHY)
    client.run("transfer", "transfer", transfer_goal("crucible_20", "dosing/balance", "storage/20"))


def dose(client, crucible, *powders, **kwargs):
    goal = actions.Dose.Goal(
        sample=crucible, powders=[msg.PowderDose(powder=p, target_mg=float(m)) for p, m in powders]
    )
    return client.send("dosing", "dose", goal, **kwargs)


def test_dose_with_an_unstable_balance(client, at_balance):
    client.reconfigure("dosing", mock_state(balance={"unstable": True}))
    result = dose(client, at_balance, ("TiO2", 100)).result(60)
    assert result.error_code == ErrorCode.BALANCE_UNSTABLE and "stable" in result.error_msg


def test_dose_on_an_overloaded_balance(client, at_balance):
    client.reconfigure("dosing", mock_state(balance={"load_mg": 250000.0}))
    result = dose(client, at_balance, ("TiO2", 100)).result(60)
    assert result.error_code == ErrorCode.OVERLOAD and "capacity" in result.error_msg


def test_head_running_dry_mid_dose_reports_the_partial_dose(client, at_balance):
    # the head believes it holds 500 mg more ZnO than it does: the stock check passes, the dose runs dry
    client.reconfigure(
        "dosing", mock_state(dispenser={"stock_mg": {"ZnO": 60.0}, "stock_overestimate_mg": {"ZnO": 500.0}})
    )
    result = dose(client, at_balance, ("TiO2", 100), ("ZnO", 200)).result(60)
    assert result.error_code == ErrorCode.STOCK_EXHAUSTED
    tio2, zno = result.doses
    assert tio2.complete and tio2.within_tolerance
    assert not zno.complete and zno.actual_mg == pytest.approx(60.0, abs=0.5)
    assert "ZnO" in result.error_msg and "refill" in result.error_msg


def test_unknown_powder_and_short_stock_are_refused_before_dispensing(client, at_balance):
    def tio2_stock():
        dispenser = next(d for d in client.status("dosing").devices if d.name == "dispenser")
        return float({v.key: v.value for v in dispenser.values}["stock_mg.TiO2"])

    before = tio2_stock()
    result = dose(client, at_balance, ("TiO2", 100), ("Unobtainium", 50)).result(60)
    assert result.error_code == ErrorCode.UNKNOWN_RESOURCE and "Li2CO3" in result.error_msg
    assert list(result.doses) == []  # refused before anything was dispensed
    time.sleep(1.5)  # one status period
    assert tio2_stock() == before
    result = dose(client, at_balance, ("WO3", 60000)).result(60)
    assert result.error_code == ErrorCode.INSUFFICIENT_STOCK and "left in its head" in result.error_msg


def test_cancel_mid_dose(client, at_balance):
    client.reconfigure("dosing", mock_state(dispenser={"rate_mg_s": 0.5}))  # 200 mg: 400 s of sim time
    feedback = []
    run = dose(client, at_balance, ("TiO2", 200), ("SiO2", 200), feedback=feedback.append)
    deadline = time.monotonic() + 30
    while not any(f.stage == "fine" for f in feedback) and time.monotonic() < deadline:
        time.sleep(0.02)
    run.cancel()
    result = run.result(60)
    assert result.error_code == ErrorCode.CANCELED
    assert result.doses[0].actual_mg > 0 and result.doses[1].actual_mg == 0.0


def test_cancel_milling_stops_the_mill(client):
    client.run("transfer", "transfer", transfer_goal("crucible_21", "storage/21", "milling/clamp"))
    feedback = []
    run = client.send(
        "milling",
        "mill",
        actions.Mill.Goal(sample=sample("crucible_21"), duration_s=3600.0, frequency_hz=25.0, ball_count=2),
        feedback=feedback.append,
    )
    deadline = time.monotonic() + 30
    while not any(f.stage == "milling" and f.elapsed_s > 0 for f in feedback) and time.monotonic() < deadline:
        time.sleep(0.02)
    run.cancel()
    result = run.result(60)
    assert result.error_code == ErrorCode.CANCELED
    status = client.status("milling")
    deadline = time.monotonic() + 5
    while status.mode != msg.StationStatus.MODE_IDLE and time.monotonic() < deadline:
        time.sleep(0.05)
        status = client.status("milling")
    mill = next(d for d in status.devices if d.name == "mill")
    assert mill.state == "idle"
    assert {v.key: v.value for v in mill.values}["clamp_closed"] == "False"
    client.run("transfer", "transfer", transfer_goal("crucible_21", "milling/clamp", "storage/21"))


def test_hot_furnace_refuses_a_load(client):
    client.reconfigure("furnaces", mock_state(furnace_2={"temperature_c": 450.0}))
    try:
        result = client.run(
            "furnaces",
            "load_furnace",
            actions.LoadFurnace.Goal(sample=sample("crucible_22"), source="storage/22", furnace="furnace_2", slot=-1),
        )
        assert result.error_code == ErrorCode.INTERLOCK and "200 C" in result.error_msg
        assert client.positions()["storage/22"].labware_id == "crucible_22"  # the arm never took it
    finally:
        client.reconfigure("furnaces", HEALTHY)


def test_too_little_powder_for_an_xrd_holder(client):
    client.reconfigure("xrd", mock_state(diffractometer={"sample_mg": 5.0}))
    try:
        result = client.run(
            "xrd",
            "measure_xrd",
            actions.MeasureXrd.Goal(sample=sample("crucible_23"), source="storage/23", destination="storage/23"),
        )
        assert result.error_code == ErrorCode.INSUFFICIENT_STOCK and "min_sample_mg" in result.error_msg
    finally:
        client.reconfigure("xrd", HEALTHY)
        client.run("transfer", "transfer", transfer_goal("crucible_23", "xrd/recovery", "storage/23"))


def test_position_rules(client):
    empty = client.run("transfer", "transfer", transfer_goal("crucible_24", "buffer/8", "done/20"))
    assert empty.error_code == ErrorCode.POSITION_EMPTY and "buffer/8" in empty.error_msg
    wrong = client.run("transfer", "transfer", transfer_goal("crucible_99", "storage/24", "done/20"))
    assert wrong.error_code == ErrorCode.WRONG_LABWARE
    # a slow arm holds its reservation long enough for a second transfer to meet the lock
    client.reconfigure("transfer", mock_state(arm_a={"move_time_s": 60.0}))
    try:
        first = client.send("transfer", "transfer", transfer_goal("crucible_25", "storage/25", "done/21"))
        deadline = time.monotonic() + 10
        while client.positions()["done/21"].state != msg.PositionState.LOCKED and time.monotonic() < deadline:
            time.sleep(0.02)
        second = client.run("transfer", "transfer", transfer_goal("crucible_26", "storage/26", "done/21"))
        assert second.error_code == ErrorCode.POSITION_LOCKED and "locked by" in second.error_msg
        assert first.result(120).error_code == ErrorCode.NONE
    finally:
        client.reconfigure("transfer", HEALTHY)
    assert client.positions()["done/21"].labware_id == "crucible_25"  # the table survived the reconfigure


def test_timings_follow_the_parameters(client):
    """Mill minutes, heating hours and scan minutes take that long on the lab's clock."""
    client.run("transfer", "transfer", transfer_goal("crucible_27", "storage/27", "milling/clamp"))
    clock = client.status("milling")
    before = clock.stamp.sec + clock.stamp.nanosec * 1e-9
    result = client.run(
        "milling", "mill", actions.Mill.Goal(sample=sample("crucible_27"), duration_s=900.0, frequency_hz=25.0)
    )
    assert result.error_code == ErrorCode.NONE and result.milled_s == pytest.approx(900.0, abs=10.0)
    after = client.status("milling")
    assert after.stamp.sec + after.stamp.nanosec * 1e-9 - before >= 900.0
    heated = client.run("furnaces", "heat", heat_goal("furnace_4"))
    assert heated.error_code == ErrorCode.NONE
    from powderlab.core.recipes import FurnaceLimits
    from tests.ros.conftest import SHORT_PROFILE

    assert heated.duration_s == pytest.approx(SHORT_PROFILE.duration_s(FurnaceLimits()), rel=0.02, abs=15.0)


def test_a_goal_tombstoned_at_its_station_is_refused_when_it_arrives_and_a_started_one_cannot_be(client):
    # ADR 0102: the campaign tombstones a goal it settles as unknown; one that reaches the station late
    # (sent just before a cable was pulled) is refused there, never run.
    def tombstone(goal_id: str) -> srv.ManualCommand.Response:
        request = srv.ManualCommand.Request(command="tombstone_goal", target=goal_id, source="test")
        return client.call(srv.ManualCommand, "dosing/tombstone_goal", request)

    def send(goal_id: str) -> actions.Dose.Result:
        action = client._action_client("dosing", "dose")
        assert action.wait_for_server(timeout_sec=30.0)
        goal = actions.Dose.Goal(
            sample=sample("crucible_nowhere"), powders=[msg.PowderDose(powder="TiO2", target_mg=5.0)]
        )
        sent = action.send_goal_async(goal, goal_uuid=UUID(uuid=list(uuid.UUID(hex=goal_id).bytes)))
        handle = wait_future(sent, 30.0, "dosing/dose")
        assert handle.accepted
        return wait_future(handle.get_result_async(), 60.0, "dosing/dose result").result

    late = uuid.uuid4().hex
    assert tombstone(late).success
    result = send(late)
    assert result.error_code == ErrorCode.INVALID_GOAL and "tombstoned" in result.error_msg
    ran = uuid.uuid4().hex
    assert "tombstoned" not in send(ran).error_msg  # it ran (and failed on its crucible): it started
    answer = tombstone(ran)
    assert not answer.success and answer.error_code == ErrorCode.NONE and "has started" in answer.message
