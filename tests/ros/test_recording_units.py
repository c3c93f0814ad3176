"""The pieces of /diagnostics and the MCAP recorder, without a lab: levels, hardware ids, message
definitions as rosbag2 writes them, QoS metadata rosbag2 reads back, throttles, the bag folder
(metadata.yaml) as an independent rosbag2 reader (rosbags) reads it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from mcap.reader import make_reader
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.serialization import serialize_message
from rosbags.interfaces import (
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)
from rosbags.rosbag2 import Reader, StoragePlugin, Writer
from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from std_msgs.msg import String

from powderlab.core.errors import ErrorCode
from powderlab.core.samples import SampleRef
from powderlab.core.site import SiteProfile
from powderlab.drivers.base import DeviceStatus
from powderlab.nodes.diagnostics import ERROR, OK, STALE, WARN, LastError, level_value, station_diagnostics, summary
from powderlab.nodes.recorder import (
    SEPARATOR,
    McapSink,
    RecordingError,
    bag_layout,
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


def key_tree(value: object) -> object:
    """The shape of a YAML document: mappings' keys (recursively, lists by their first item), no values."""
    if isinstance(value, dict):
        return {key: key_tree(item) for key, item in value.items()}
    if isinstance(value, list):
        return [key_tree(value[0])] if value else []
    return type(value).__name__ if isinstance(value, (bool, int, str)) else "scalar"


def test_a_bag_folder_reads_back_with_rosbags_and_its_metadata_is_rosbag2_version_9(tmp_path: Path) -> None:
    latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.TRANSIENT_LOCAL)
    sink = McapSink(tmp_path / "bag")
    assert sink.path == tmp_path / "bag" / "bag_0.mcap"
    channel = sink.add_channel(
        "/chatter", "std_msgs/msg/String", message_definition("std_msgs/msg/String"), [latched], "RIHS01_ab"
    )
    sink.add_channel(
        "/silent", "std_msgs/msg/String", message_definition("std_msgs/msg/String"), [latched], "RIHS01_ab"
    )
    for index, text in enumerate(("one", "two", "three")):
        sink.write(channel, serialize_message(String(data=text)), 1_000_000_000 + index * 500, index + 1)
    assert not (tmp_path / "bag" / "metadata.yaml").exists()  # as ros2 bag record: written when it closes
    sink.close()
    text = (tmp_path / "bag" / "metadata.yaml").read_text()
    assert "&id" not in text and "*id" not in text  # plain YAML, no anchors (rosbag2 writes none)
    ours = yaml.safe_load(text)["rosbag2_bagfile_information"]
    assert (
        ours["version"] == 9 and ours["storage_identifier"] == "mcap" and ours["relative_file_paths"] == ["bag_0.mcap"]
    )
    assert ours["message_count"] == 3 and ours["duration"] == {"nanoseconds": 1000}
    assert ours["starting_time"] == {"nanoseconds_since_epoch": 1_000_000_000}
    assert [t["message_count"] for t in ours["topics_with_message_count"]] == [3, 0]  # a silent topic is listed

    typestore = get_typestore(Stores.EMPTY)
    with Reader(tmp_path / "bag") as reader:  # the folder, through metadata.yaml, as ros2 bag info/play take it
        assert {c.topic: c.msgcount for c in reader.connections} == {"/chatter": 3, "/silent": 0}
        connection = reader.connections[0]
        assert connection.digest == "RIHS01_ab" and connection.ext.offered_qos_profiles[0].depth == 1
        assert connection.ext.offered_qos_profiles[0].durability == QosDurability.TRANSIENT_LOCAL
        typestore.register(get_types_from_msg(connection.msgdef.data, connection.msgtype))
        texts = [typestore.deserialize_cdr(raw, c.msgtype).data for c, _, raw in reader.messages()]
    assert texts == ["one", "two", "three"]
    with sink.path.open("rb") as stream:  # the same metadata inside the file, as rosbag2's MCAP plugin stores it
        records = list(make_reader(stream).iter_metadata())
    assert [r.name for r in records] == ["rosbag2"]
    assert yaml.safe_load(records[0].metadata["serialized_metadata"]) == ours

    # the same bag written by rosbags' own rosbag2 writer (version 9, MCAP) has the same keys, in kind
    qos = Qos(QosHistory.KEEP_LAST, 1, QosReliability.RELIABLE, QosDurability.TRANSIENT_LOCAL, QosTime(0, 0),
              QosTime(0, 0), QosLiveliness.AUTOMATIC, QosTime(0, 0), False)  # fmt: skip
    store = get_typestore(Stores.ROS2_JAZZY)
    with Writer(tmp_path / "theirs", version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        theirs_channel = writer.add_connection(
            "/chatter", "std_msgs/msg/String", typestore=store, offered_qos_profiles=[qos]
        )
        writer.add_connection("/silent", "std_msgs/msg/String", typestore=store, offered_qos_profiles=[qos])
        writer.write(
            theirs_channel,
            1_000_000_000,
            store.serialize_cdr(store.types["std_msgs/msg/String"](data="x"), "std_msgs/msg/String"),
        )
    theirs = yaml.safe_load((tmp_path / "theirs" / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert all(isinstance(v, str) for v in ours["custom_data"].values())  # rosbag2 reads a str -> str mapping
    theirs["custom_data"] = ours["custom_data"]  # rosbags writes null when it has none; rosbag2 reads either
    assert key_tree(ours) == key_tree(theirs)
    assert ours["topics_with_message_count"][0]["topic_metadata"]["offered_qos_profiles"] == yaml.safe_load(
        qos_yaml([latched])
    )


def test_a_bag_is_a_new_folder_never_a_file_name_or_an_existing_bag(tmp_path: Path) -> None:
    assert bag_layout(tmp_path / "run-1") == (tmp_path / "run-1", tmp_path / "run-1" / "run-1_0.mcap")
    with pytest.raises(RecordingError, match=r"rosbag2 bag folder .* give the folder's name, e.g. '.*/lab'"):
        bag_layout(tmp_path / "lab.mcap")
    (tmp_path / "old").mkdir()
    with pytest.raises(RecordingError, match="already exists"):
        McapSink(tmp_path / "old")
