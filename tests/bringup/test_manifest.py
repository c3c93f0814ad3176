"""The manifest: nodes, parameters, backends; real hardware never starts by accident."""

import pytest
import yaml

from powderlab.bringup.launch_args import manifest_from_launch_args, parse_station_backends
from powderlab.bringup.manifest import build_manifest
from powderlab.bringup.processes import node_command
from powderlab.core.errors import UnknownResourceError, ValidationError


def test_default_manifest_has_every_station_then_the_manager():
    manifest = build_manifest("mock")
    names = [node.name for node in manifest.nodes]
    assert names[0] == "transfer" and names[-1] == "lab_manager"
    assert {n.name for n in manifest.stations} == {"transfer", "dosing", "milling", "furnaces", "xrd"}
    assert manifest.node("lab_manager").parameters["managed_nodes"][0] == "transfer"
    assert all(n.parameters["backend"] == "mock" for n in manifest.stations)


def test_per_station_backend_override_and_time_factor():
    manifest = build_manifest("mock", station_backends={"dosing": "sim"}, time_factor=100.0)
    assert manifest.node("dosing").parameters["backend"] == "sim"
    assert manifest.node("milling").parameters["backend"] == "mock"
    assert manifest.node("twin").parameters["time_factor"] == 100.0  # a sim station brings the twin (its /clock)
    assert "sim_clock" not in [n.name for n in manifest.nodes]
    # on sim time every station waits through the twin's time server (lockstep, ADR 0082), not /clock
    assert all(n.parameters["time_server"] == "default" and not n.parameters["use_sim_time"] for n in manifest.stations)
    assert manifest.use_sim_time


def test_a_mock_lab_on_sim_time_gets_a_time_server_and_a_wall_clock_lab_none():
    accelerated = build_manifest("mock", time_factor=2000.0, autonomy=True)
    assert accelerated.node("sim_clock").parameters["time_factor"] == 2000.0
    assert {n.parameters["time_server"] for n in accelerated.stations} == {"default"}
    assert accelerated.node("autonomy").parameters["time_server"] == "default"
    assert accelerated.node("lab_manager").parameters["use_sim_time"] is False  # health is a wall-time job
    wall = build_manifest("mock", autonomy=True)
    assert {n.parameters["time_server"] for n in wall.stations} == {""}
    assert "time_server" not in wall.node("autonomy").parameters
    custom = build_manifest("sim", backend_options="{twin_address: /tmp/my-twin.sock}")
    assert {n.parameters["time_server"] for n in custom.stations} == {"/tmp/my-twin.sock"}


def test_real_backend_needs_endpoints():
    with pytest.raises(ValidationError) as error:
        build_manifest("real")
    assert "no connection" in str(error.value) and "endpoint" in str(error.value)


def test_bad_names_are_named():
    with pytest.raises(ValidationError) as backend:
        build_manifest("hardware")
    assert "mock, sim, real" in str(backend.value)
    with pytest.raises(UnknownResourceError):
        build_manifest("mock", station_backends={"kiln": "mock"})


def test_overrides_are_keyed_by_full_node_name():
    manifest = build_manifest("mock", namespace="cell2")
    document = yaml.safe_load(manifest.overrides_yaml())
    assert document["/cell2/dosing"]["ros__parameters"]["station"] == "dosing"


def test_node_command_line(tmp_path):
    manifest = build_manifest("mock", namespace="cell2")
    command = node_command(manifest.node("dosing"), manifest.params_file, tmp_path / "o.yaml", "warn")
    assert command[1:3] == ["-m", "powderlab.nodes.station_node"]
    assert "__node:=dosing" in command and "__ns:=/cell2" in command
    assert command[-2:] == ["--log-level", "warn"]


def test_launch_arguments_parse():
    manifest = manifest_from_launch_args({"backend": "mock", "station_backends": "dosing=sim", "time_factor": "50"})
    assert manifest.node("dosing").parameters["backend"] == "sim"
    assert manifest.use_sim_time
    with pytest.raises(ValidationError):
        manifest_from_launch_args({"use_sim_time": "perhaps"})
    with pytest.raises(ValidationError):
        manifest_from_launch_args({"colour": "red"})
    with pytest.raises(ValidationError):
        parse_station_backends("dosing")
