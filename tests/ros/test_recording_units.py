"""The pieces of /diagnostics and the MCAP recorder, without a lab: levels, hardware ids, message
definitions as rosbag2 writes them, QoS metadata rosbag2 reads back, throttles."""

from __future__ import annotations

import pytest
import yaml
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from powderlab.core.errors import ErrorCode
from powderlab.core.samples import SampleRef
from powderlab.core.site import SiteProfile
from powderlab.drivers.base import DeviceStatus
from powderlab.nodes.diagnostics import ERROR, OK, STALE, WARN, LastError, level_value, station_diagnostics, summary
from powderlab.nodes.recorder import (
    SEPARATOR,
    RecordingError,
    message_definition,
    parse_throttle,
    qos_yaml,
    subscription_qos,
)
from powderlab.stations.base import StationMode, StationStatusData


def dosing_status(mode: StationMode, balance: DeviceStatus | None = None) -> StationStatusData:
    balance = balance or DeviceStatus("balance", "balance", True, "stable", values={"mass_mg": 12.5})
    dispenser = DeviceStatus("dispenser", "powder_dispenser", True, "idle")
    return StationStatusData(
        "dosing", "dosing", mode, "", "dose", "dosing.dose.1", SampleRef("s1"), [balance, dispenser]
    )


def by_name(array) -> dict:
    return {status.name: summary(status) for status in array.status}


def test_station_and_device_levels_follow_rep_107() -> None:
    config = SiteProfile.load("default").station("dosing")
    busy = by_name(station_diagnostics(config, "mock", "active", True, 10.0, dosing_status(StationMode.BUSY)))
    assert busy["powderlab: dosing"]["level"] == "OK" and busy["powderlab: dosing"]["message"] == "busy: dose"
    assert busy["powderlab: dosing"]["values"]["sample"] == "s1"
    assert busy["powderlab: dosing/balance"]["values"]["mass_mg"] == "12.5"
    assert busy["powderlab: dosing/balance"]["hardware_id"] == "mock:dosing/balance"
    paused = station_diagnostics(config, "mock", "active", True, 10.0, dosing_status(StationMode.PAUSED))
    assert level_value(paused.status[0].level) == WARN
    inactive = station_diagnostics(config, "mock", "inactive", False, 10.0, dosing_status(StationMode.IDLE))
    assert level_value(inactive.status[0].level) == WARN and "inactive" in inactive.status[0].message
    lost = DeviceStatus("balance", "balance", False, "disconnected", fault="no reply on /dev/ttyUSB0")
    error = "dosing.dose.7: DEVICE_DISCONNECTED: balance: no reply"
    down = by_name(
        station_diagnostics(
            config,
            "mock",
            "active",
            True,
            10.0,
            dosing_status(StationMode.FAULT, lost),
            (),
            LastError("op", "X", error, 5.0),
        )
    )
    assert down["powderlab: dosing"]["level"] == "ERROR" and error in down["powderlab: dosing"]["values"]["last_error"]
    assert down["powderlab: dosing/balance"]["level"] == "ERROR"
    assert down["powderlab: dosing/balance"]["values"]["link"] == "down"
    assert "no reply on /dev/ttyUSB0" in down["powderlab: dosing/balance"]["message"]
    faulted = DeviceStatus("balance", "balance", True, "stable", ErrorCode.DEVICE_FAULT, "overload")
    device_error = by_name(
        station_diagnostics(config, "mock", "active", True, 1.0, dosing_status(StationMode.IDLE, faulted))
    )
    assert device_error["powderlab: dosing"]["level"] == "ERROR"  # a device in error makes its station ERROR
    unconfigured = station_diagnostics(config, "mock", "unconfigured", False, 1.0, None)
    assert [level_value(s.level) for s in unconfigured.status] == [STALE, STALE, STALE]
    assert {s.name for s in unconfigured.status} == {
        "powderlab: dosing",
        "powderlab: dosing/balance",
        "powderlab: dosing/dispenser",
    }
    assert OK == 0 and ERROR == 2


def test_a_real_site_names_each_device_by_its_endpoint(monkeypatch) -> None:
    monkeypatch.setenv("POWDERLAB_EMULATOR_DIR", "/run/lab")
    monkeypatch.setenv("POWDERLAB_OPCUA_PORT", "4840")
    site = SiteProfile.load("emulated")
    ids = {
        s.name: s.hardware_id
        for station in ("dosing", "furnaces")
        for s in station_diagnostics(site.station(station), "real", "unconfigured", False, 0.0, None).status
    }
    assert ids["powderlab: dosing/balance"] == "mt-sics:/run/lab/balance"
    assert ids["powderlab: furnaces/furnace_2"] == "eurotherm-modbus:/run/lab/furnace_2"


def test_message_definitions_are_written_as_rosbag2_writes_them() -> None:
    text = message_definition("diagnostic_msgs/msg/DiagnosticArray")
    parts = text.split("\n" + SEPARATOR)
    assert "DiagnosticStatus[] status" in parts[0]
    assert [p.splitlines()[0] for p in parts[1:]] == [
        "MSG: diagnostic_msgs/DiagnosticStatus",
        "MSG: diagnostic_msgs/KeyValue",
        "MSG: std_msgs/Header",
        "MSG: builtin_interfaces/Time",
    ]
    ours = message_definition("powderlab_interfaces/msg/StationStatus")
    assert "MSG: powderlab_interfaces/FurnaceState" in ours and "MSG: diagnostic_msgs/KeyValue" in ours
    with pytest.raises(RecordingError, match="no definition of powderlab_interfaces/msg/Nope"):
        message_definition("powderlab_interfaces/msg/Nope")
    with pytest.raises(RecordingError, match="package/msg/Type"):
        message_definition("std_msgs/Header")


def test_qos_metadata_and_the_subscription_follow_rosbag2() -> None:
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    sensor = QoSProfile(depth=5, reliability=ReliabilityPolicy.BEST_EFFORT, durability=DurabilityPolicy.VOLATILE)
    offered = yaml.safe_load(qos_yaml([latched, sensor]))
    assert offered[0]["reliability"] == "reliable" and offered[0]["durability"] == "transient_local"
    assert offered[0]["history"] == "keep_last" and offered[0]["depth"] == 1
    assert offered[1]["reliability"] == "best_effort" and offered[1]["durability"] == "volatile"
    assert set(offered[0]["deadline"]) == {"sec", "nsec"}
    assert subscription_qos([latched]).durability == DurabilityPolicy.TRANSIENT_LOCAL
    mixed = subscription_qos([latched, sensor])
    assert mixed.reliability == ReliabilityPolicy.BEST_EFFORT and mixed.durability == DurabilityPolicy.VOLATILE


def test_throttles_are_pattern_seconds_pairs() -> None:
    assert parse_throttle("*/image_raw=10, /rosout=0.5") == {"*/image_raw": 10.0, "/rosout": 0.5}
    with pytest.raises(RecordingError, match="PATTERN=SECONDS"):
        parse_throttle("*/image_raw:10")
