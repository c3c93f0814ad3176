"""Diagnostics and recordings through real node processes: the station nodes publish /diagnostics
(REP 107), a recorder process records the lab's topics into a rosbag2 bag folder (metadata.yaml + MCAP),
and it reads back with the mcap reader (decoded by mcap-ros2-support), as Foxglove needs it (summary,
indexes, a schema per channel), and with an independent rosbag2 reader (rosbags: the folder through its
metadata.yaml, messages decoded from the definitions stored in the bag) to what the lab did."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from mcap.reader import make_reader
from mcap_ros2.decoder import DecoderFactory
from powderlab_interfaces import action as actions
from powderlab_interfaces import msg
from rosbags.rosbag2 import Reader as BagReader
from rosbags.typesys import Stores, get_types_from_msg, get_typestore

from powderlab.bringup.manifest import build_manifest
from powderlab.bringup.session import LabSession
from powderlab.core.errors import ErrorCode
from powderlab.nodes.recorder import RecorderProcess
from tests.ros.conftest import sample, transfer_goal

pytestmark = [pytest.mark.ros, pytest.mark.slow]
STATIONS = ("transfer", "dosing", "milling", "furnaces", "xrd")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("lab")
    session = LabSession(build_manifest("mock", time_factor=500.0, state_dir=run_dir), run_dir, startup_timeout_s=120.0)
    session.start()
    yield session
    session.stop()


def wait_subscribed(client, topic: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while client.node.count_subscribers(topic) < 1:
        assert time.monotonic() < deadline, f"the recorder never subscribed to {topic}"
        time.sleep(0.1)


def read(bag: Path) -> tuple[object, dict[str, list[tuple[object, object]]]]:
    """The summary of the bag's MCAP file and every decoded message by topic (log time order)."""
    with (bag / f"{bag.name}_0.mcap").open("rb") as stream:
        reader = make_reader(stream, decoder_factories=[DecoderFactory()])
        summary = reader.get_summary()
        by_topic: dict[str, list[tuple[object, object]]] = {}
        for _schema, channel, message, decoded in reader.iter_decoded_messages(log_time_order=True):
            by_topic.setdefault(channel.topic, []).append((message, decoded))
    return summary, by_topic


def statuses(by_topic, name: str) -> list[tuple[int, str, dict[str, str]]]:
    """(level, message, values) of every diagnostic status with this name, in order (levels decode as ints)."""
    return [
        (status.level, status.message, {kv.key: kv.value for kv in status.values})
        for _, array in by_topic["/diagnostics"]
        for status in array.status
        if status.name == name
    ]


def test_a_recording_of_the_lab_reads_back_with_diagnostics_status_and_logs(lab, tmp_path):
    client = lab.client
    output = tmp_path / "lab"
    recorder = RecorderProcess(output)
    try:
        wait_subscribed(client, "/diagnostics")
        wait_subscribed(client, "/lab/positions")
        # a refused goal: its error becomes the station's last_error and a WARN line on /rosout
        bad = actions.Dose.Goal(sample=sample("crucible_05"), powders=[msg.PowderDose(powder="TiO2", target_mg=-5.0)])
        assert client.run("dosing", "dose", bad, timeout_s=30).error_code == ErrorCode.OUT_OF_RANGE
        # a real move: the position table and the arms' joint states change
        moved = client.run("transfer", "transfer", transfer_goal("crucible_03", "storage/3", "buffer/1"), timeout_s=60)
        assert moved.error_code == ErrorCode.NONE, moved.error_msg
        # an e-stop: every station reports ERROR; then reset
        assert client.estop("test: recording", source="pytest")[0]
        time.sleep(2.5)  # two diagnostics ticks (1 s wall)
        assert client.reset(source="pytest")[0]
        time.sleep(2.5)
    finally:
        assert recorder.stop(timeout_s=10.0) == 0

    summary, by_topic = read(output)
    # the ros2 profile as rosbag2's MCAP plugin writes it
    channels = {channel.topic: channel for channel in summary.channels.values()}
    for topic in ("/diagnostics", "/rosout", "/lab/positions", "/lab/estop_state", "/transfer/joint_states"):
        assert topic in channels, sorted(channels)
    for station in STATIONS:
        assert f"/{station}/status" in channels
    assert not any("/_action/" in topic for topic in channels)  # hidden topics only when named
    for channel in channels.values():
        schema = summary.schemas[channel.schema_id]
        assert channel.message_encoding == "cdr" and schema.encoding == "ros2msg"
        assert channel.metadata["topic_type_hash"].startswith("RIHS01_")
        offered = yaml.safe_load(channel.metadata["offered_qos_profiles"])
        assert offered and {"reliability", "durability", "history", "depth"} <= set(offered[0])
    assert summary.schemas[channels["/lab/positions"].schema_id].name == "powderlab_interfaces/msg/PositionTable"
    counts = {channels[t].id: t for t in channels}
    recorded = {counts[cid]: n for cid, n in summary.statistics.channel_message_counts.items()}
    assert recorded["/diagnostics"] >= 2 * len(STATIONS), recorded  # 1 Hz per station, for 5 s and more
    assert all(len(by_topic[t]) == recorded[t] for t in by_topic)

    # decoded values: the crucible moved, the furnaces reported their temperatures, the refused dose was logged
    last_table = by_topic["/lab/positions"][-1][1]
    where = {p.name: p.labware_id for p in last_table.positions}
    assert where["buffer/1"] == "crucible_03" and where["storage/3"] == ""
    furnace_status = by_topic["/furnaces/status"][-1][1]
    assert {f.name for f in furnace_status.furnaces} >= {"furnace_1", "furnace_4"}
    assert all(15.0 < f.temperature_c < 40.0 for f in furnace_status.furnaces)
    assert any(log.name == "dosing" and "OUT_OF_RANGE" in log.msg for _, log in by_topic["/rosout"])
    assert by_topic["/transfer/joint_states"][-1][1].name[0] == "arm_a_joint_1"

    # /diagnostics (REP 107): the station and each device, hardware id, levels through the e-stop
    for station in STATIONS:
        assert len(statuses(by_topic, f"powderlab: {station}")) >= 2, station
    dosing = statuses(by_topic, "powderlab: dosing")
    assert dosing[-1][0] == 0 and dosing[-1][2]["lifecycle_state"] == "active"
    assert "OUT_OF_RANGE" in dosing[-1][2]["last_error"] and "TiO2" in dosing[-1][2]["last_error"]
    assert any(level == 2 and "e-stopped" in text for level, text, _ in statuses(by_topic, "powderlab: furnaces"))
    furnace = statuses(by_topic, "powderlab: furnaces/furnace_2")[-1]
    assert furnace[0] == 0 and furnace[2]["link"] == "up" and float(furnace[2]["temperature_c"]) > 15.0
    assert "setpoint_c" in furnace[2] and furnace[2]["door"] == "closed"
    array = by_topic["/diagnostics"][-1][1]
    assert all(status.hardware_id for status in array.status)
    assert any(s.hardware_id == "mock:dosing/balance" for _, a in by_topic["/diagnostics"] for s in a.status)
    check_foxglove_needs(output / "lab_0.mcap")
    check_with_rosbags(output, {topic: recorded.get(topic, 0) for topic in channels})  # a silent topic: 0


def check_foxglove_needs(path: Path) -> None:
    """What Foxglove reads without ROS: the ros2 profile, a summary with statistics and chunk indexes (seeking),
    message indexes in every chunk, and every channel with its schema (ros2msg text: it decodes with that alone)."""
    with path.open("rb") as stream:
        reader = make_reader(stream)
        assert reader.get_header().profile == "ros2"
        summary = reader.get_summary()
    assert summary is not None and summary.statistics.message_count > 0
    assert summary.chunk_indexes and all(index.message_index_offsets for index in summary.chunk_indexes)
    for channel in summary.channels.values():
        schema = summary.schemas[channel.schema_id]
        assert schema.data, channel.topic
        assert schema.encoding == "ros2msg" and schema.name.count("/msg/") == 1, schema.name


def check_with_rosbags(bag: Path, recorded: dict[str, int]) -> None:
    """rosbags reads the folder as `ros2 bag info/play` take it (metadata.yaml first): its topics, types and counts
    are the file's, and every message deserialises with the definitions stored in the bag (no installed types)."""
    metadata = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    listed = {t["topic_metadata"]["name"]: t["message_count"] for t in metadata["topics_with_message_count"]}
    assert listed == recorded and metadata["message_count"] == sum(recorded.values())
    assert metadata["version"] == 9 and metadata["storage_identifier"] == "mcap"
    typestore = get_typestore(Stores.EMPTY)
    decoded: dict[str, list[object]] = {}
    with BagReader(bag) as reader:
        assert reader.message_count == sum(recorded.values())
        assert {c.topic: c.msgcount for c in reader.connections} == recorded
        types = {}
        for connection in reader.connections:
            types.update(get_types_from_msg(connection.msgdef.data, connection.msgtype))
        typestore.register(types)
        for connection, _, raw in reader.messages():
            decoded.setdefault(connection.topic, []).append(typestore.deserialize_cdr(raw, connection.msgtype))
    assert {topic: len(messages) for topic, messages in decoded.items()} == {t: n for t, n in recorded.items() if n}
    where = {p.name: p.labware_id for p in decoded["/lab/positions"][-1].positions}
    assert where["buffer/1"] == "crucible_03" and where["storage/3"] == ""
    assert any(log.name == "dosing" and "OUT_OF_RANGE" in log.msg for log in decoded["/rosout"])
    levels = {s.level for array in decoded["/diagnostics"] for s in array.status if s.name == "powderlab: furnaces"}
    assert {0, 2} <= {int.from_bytes(level, "little") if isinstance(level, bytes) else level for level in levels}


def test_powderlab_record_takes_the_topics_asked_for_and_stops_after_its_duration(lab, tmp_path):
    output = tmp_path / "ad-hoc"
    command = [sys.executable, "-m", "powderlab", "record", "--topics", "*/status", "/lab/health"]
    # long enough for graph discovery of every asked topic on a loaded machine (4 s missed /lab/health once)
    command += ["--output", str(output), "--duration", "8"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"writing the bag {output}" in done.stdout
    _, by_topic = read(output)
    assert set(by_topic) == {f"/{station}/status" for station in STATIONS} | {"/lab/health"}
    metadata = yaml.safe_load((output / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert metadata["relative_file_paths"] == ["ad-hoc_0.mcap"]
    assert {t["topic_metadata"]["name"] for t in metadata["topics_with_message_count"]} == set(by_topic)
    again = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert again.returncode == 2 and "already exists" in again.stdout  # a bag is never overwritten
    as_file = [*command[:-3], str(tmp_path / "x.mcap"), "--duration", "4"]
    named = subprocess.run(as_file, capture_output=True, text=True, timeout=60, check=False)
    assert named.returncode == 2 and "rosbag2 bag folder" in named.stdout
    assert all(status.station == "xrd" for _, status in by_topic["/xrd/status"])
    bad = subprocess.run([*command[:-1], "-1"], capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 2 and "--duration must be 0" in bad.stdout
