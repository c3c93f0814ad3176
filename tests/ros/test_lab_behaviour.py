"""The lab through real node processes: bad goals, e-stop and reset, pause, lifecycle, status."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from powderlab_interfaces import action as actions
from powderlab_interfaces import msg
from powderlab_interfaces.srv import ManageLab

from powderlab.core.errors import ErrorCode, StationUnavailableError
from powderlab.core.recipes import HeatingProfile, HeatingSegment, SegmentKind
from powderlab.core.samples import SampleRef
from powderlab.stations.dosing import LoadVialRequest, WeighRequest, WeighResult
from powderlab.stations.transfer import TransferRequest
from tests.ros.conftest import LONG_PROFILE, heat_goal, sample, transfer_goal

pytestmark = [pytest.mark.ros, pytest.mark.slow]


def wait_mode(client, station, mode, timeout_s=15.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = client.status(station, 1.0)
        if status is not None and status.mode == mode:
            return status
        time.sleep(0.05)
    raise AssertionError(f"{station} never reached mode {mode}; last: {client.status(station, 0.1)}")


def test_negative_mass_is_rejected_with_a_code_and_message(client):
    goal = actions.Dose.Goal(sample=sample("crucible_05"), powders=[msg.PowderDose(powder="TiO2", target_mg=-5.0)])
    result = client.run("dosing", "dose", goal, timeout_s=30)
    assert result.error_code == ErrorCode.OUT_OF_RANGE
    assert "TiO2" in result.error_msg and "more than 0" in result.error_msg


def test_unknown_furnace_and_unknown_station_name_what_exists(client):
    result = client.run("furnaces", "heat", heat_goal("furnace_9"), timeout_s=30)
    assert result.error_code == ErrorCode.UNKNOWN_RESOURCE and "furnace_1" in result.error_msg
    ok, message = client.manage(ManageLab.Request.PAUSE, ["kiln"])
    assert not ok and "kiln" in message and "furnaces" in message


def test_temperature_above_the_furnace_limit_is_rejected(client):
    hot = HeatingProfile((HeatingSegment(SegmentKind.RAMP, target_c=1500.0, rate_c_per_min=10.0),))
    result = client.run("furnaces", "heat", heat_goal("furnace_2", hot), timeout_s=30)
    assert result.error_code == ErrorCode.OUT_OF_RANGE
    assert "1500" in result.error_msg and "1200" in result.error_msg


def test_occupied_position_is_rejected(client):
    result = client.run("transfer", "transfer", transfer_goal("crucible_10", "storage/10", "storage/11"), timeout_s=30)
    assert result.error_code == ErrorCode.POSITION_OCCUPIED and "storage/11" in result.error_msg


def test_weigh_is_served_by_the_dosing_node_from_the_registry(client):
    """The operation added by registry + station + interface only (ADR 0088) reaches the lab."""
    crucible = SampleRef("", "crucible_20")
    moved, _ = client.run_request("transfer", TransferRequest(crucible, "storage/20", "dosing/balance"), timeout_s=60)
    assert moved.error_code == ErrorCode.NONE, moved.error_msg
    try:
        message, weighed = client.run_request("dosing", WeighRequest(crucible), timeout_s=60)
        assert message.error_code == ErrorCode.NONE and "mg on the balance" in message.error_msg
        assert isinstance(weighed, WeighResult) and weighed.mass_mg == pytest.approx(message.mass_mg)
        wrong, _ = client.run_request("dosing", WeighRequest(SampleRef("", "crucible_21")), timeout_s=60)
        assert wrong.error_code == ErrorCode.WRONG_LABWARE
    finally:
        client.run_request("transfer", TransferRequest(crucible, "dosing/balance", "storage/20"), timeout_s=60)


def test_load_vial_is_served_by_the_dosing_node(client):
    """load_vial (ADR 0106) reaches the dosing node; the default site's dispenser has no store to load from."""
    message, _ = client.run_request("dosing", LoadVialRequest("FePO4", "In2O3"), timeout_s=60)
    assert message.error_code == ErrorCode.UNKNOWN_RESOURCE, message.error_msg
    assert "FePO4" in message.error_msg and "powder in the store" in message.error_msg


def test_estop_aborts_running_goals_and_reset_recovers(client):
    running = client.send("furnaces", "heat", heat_goal("furnace_4", LONG_PROFILE))
    wait_mode(client, "furnaces", msg.StationStatus.MODE_BUSY)
    ok, _ = client.estop("test: hand in the cell", source="pytest")
    assert ok
    result = running.result(30.0)
    assert result.error_code == ErrorCode.ESTOPPED
    for station in ("transfer", "dosing", "milling", "furnaces", "xrd"):
        wait_mode(client, station, msg.StationStatus.MODE_ESTOPPED)
    furnace = next(f for f in client.status("furnaces").furnaces if f.name == "furnace_4")
    assert not furnace.program_running and not furnace.heater_on
    refused = client.run("milling", "mill", actions.Mill.Goal(sample=sample("x"), duration_s=10.0, frequency_hz=20.0))
    assert refused.error_code == ErrorCode.ESTOPPED and "reset" in refused.error_msg
    health = client.health(5.0)
    deadline = time.monotonic() + 5
    while not health.estop_engaged and time.monotonic() < deadline:
        time.sleep(0.1)
        health = client.health()
    assert health.estop_engaged
    ok, message = client.reset(source="pytest")
    assert ok, message
    for station in ("transfer", "dosing", "milling", "furnaces", "xrd"):
        wait_mode(client, station, msg.StationStatus.MODE_IDLE)


def test_pause_refuses_new_goals_until_resume(client):
    ok, _ = client.manage(ManageLab.Request.PAUSE, ["milling"])
    assert ok
    wait_mode(client, "milling", msg.StationStatus.MODE_PAUSED)
    result = client.run("milling", "mill", actions.Mill.Goal(sample=sample("x"), duration_s=10.0, frequency_hz=20.0))
    assert result.error_code == ErrorCode.STATION_UNAVAILABLE and "paused" in result.error_msg
    ok, _ = client.manage(ManageLab.Request.RESUME, ["milling"])
    assert ok
    wait_mode(client, "milling", msg.StationStatus.MODE_IDLE)


def test_inactive_station_rejects_goals_and_comes_back(client):
    ok, message = client.manage(ManageLab.Request.SHUTDOWN, ["xrd"])
    assert ok, message
    with pytest.raises(StationUnavailableError):
        client.send("xrd", "measure_xrd", actions.MeasureXrd.Goal(sample=sample("x")), timeout_s=3.0)
    # a finalized node cannot come back; the lab reports it
    health = client.health(5.0)
    deadline = time.monotonic() + 10
    while any(n.name == "xrd" and n.lifecycle_state != "finalized" for n in health.nodes):
        assert time.monotonic() < deadline
        time.sleep(0.2)
        health = client.health()
    assert not health.all_active


def test_status_command_prints_every_node(lab_session):
    output = subprocess.run(
        [sys.executable, "-m", "powderlab", "status", "--wait", "10"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    for node in ("transfer", "dosing", "milling", "furnaces", "xrd"):
        assert node in output.stdout
    assert "lifecycle" in output.stdout
