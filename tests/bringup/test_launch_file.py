"""launch/lab.launch.py with stand-ins for the launch and launch_ros packages.

The real `launch` cannot be installed here (see docs/decisions/0002); this unit test of the launch
file layer replaces exactly the documented API it uses (DeclareLaunchArgument, OpaqueFunction,
LaunchConfiguration, Node, LifecycleNode, LaunchDescription) and checks what the file builds.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import types
from pathlib import Path

import pytest

LAUNCH_FILE = Path(__file__).resolve().parents[2] / "launch" / "lab.launch.py"


class Recorded:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs


class LaunchConfiguration:
    def __init__(self, name):
        self.name = name

    def perform(self, context):
        return context[self.name]


@pytest.fixture
def launch_file(monkeypatch):
    modules = {
        "launch": types.ModuleType("launch"),
        "launch.actions": types.ModuleType("launch.actions"),
        "launch.substitutions": types.ModuleType("launch.substitutions"),
        "launch_ros": types.ModuleType("launch_ros"),
        "launch_ros.actions": types.ModuleType("launch_ros.actions"),
    }
    modules["launch"].LaunchDescription = list
    modules["launch.actions"].DeclareLaunchArgument = type("DeclareLaunchArgument", (Recorded,), {})
    modules["launch.actions"].OpaqueFunction = type("OpaqueFunction", (Recorded,), {})
    modules["launch.actions"].SetEnvironmentVariable = type("SetEnvironmentVariable", (Recorded,), {})
    modules["launch.substitutions"].LaunchConfiguration = LaunchConfiguration
    modules["launch_ros.actions"].Node = type("Node", (Recorded,), {})
    modules["launch_ros.actions"].LifecycleNode = type("LifecycleNode", (Recorded,), {})
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    spec = importlib.util.spec_from_file_location("lab_launch", LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(launch_file, **values):
    description = launch_file.generate_launch_description()
    declared = {a.args[0]: a.kwargs for a in description if type(a).__name__ == "DeclareLaunchArgument"}
    context = {name: kwargs["default_value"] for name, kwargs in declared.items()}
    context.update(values)
    opaque = next(a for a in description if type(a).__name__ == "OpaqueFunction")
    return declared, opaque.kwargs["function"](context)


def test_every_argument_is_declared_with_a_description(launch_file):
    declared, _ = run(launch_file)
    assert {"backend", "site", "params_file", "namespace", "use_sim_time", "log_level"} <= set(declared)
    assert all(kwargs["description"] for kwargs in declared.values())


def test_builds_lifecycle_stations_and_the_manager(launch_file):
    _, actions = run(launch_file, backend="mock", namespace="cell2", log_level="warn")
    by_name = {a.kwargs["name"]: a for a in actions}
    assert type(by_name["dosing"]).__name__ == "LifecycleNode"
    assert type(by_name["lab_manager"]).__name__ == "Node"
    dosing = by_name["dosing"].kwargs
    assert dosing["package"] == "powderlab" and dosing["executable"] == "station_node"
    assert dosing["namespace"] == "cell2"
    params_file, overrides = dosing["parameters"]
    assert params_file.endswith("powderlab.yaml") and overrides["backend"] == "mock"
    assert dosing["arguments"] == ["--ros-args", "--log-level", "warn"]


def test_real_backend_without_endpoints_fails_loudly(launch_file):
    with pytest.raises(Exception) as error:
        run(launch_file, backend="real")
    assert "endpoint" in str(error.value)


def test_executables_exist_as_console_scripts():
    setup = (LAUNCH_FILE.parents[1] / "setup.py").read_text()
    for executable in ("station_node", "lab_manager", "sim_clock"):
        assert f"{executable} = powderlab.nodes." in setup


def readme_launch_arguments() -> dict[str, tuple[str, str]]:
    """The README's launch argument table (section "On a lab computer"): name -> (default, description)."""
    readme = (LAUNCH_FILE.parents[1] / "README.md").read_text()
    section = readme.split("## On a lab computer", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| (.*?) \| (.*) \|$", section, re.M)
    return {name: (default, description) for name, default, description in rows}


def test_the_readme_lists_every_launch_argument_with_its_default_and_description(launch_file):
    declared, _ = run(launch_file)
    listed = readme_launch_arguments()
    assert sorted(declared) == sorted(listed), "README table and lab.launch.py declare different arguments"
    for name, kwargs in declared.items():
        default, description = listed[name]
        assert default == (f"`{kwargs['default_value']}`" if kwargs["default_value"] else "(empty)"), name
        assert description == kwargs["description"], f"README describes {name} differently from lab.launch.py"


def test_time_factor_says_it_paces_the_twin_and_what_0_means(launch_file):
    declared, _ = run(launch_file)
    description = declared["time_factor"]["description"]
    assert "backend:=sim: paces the twin (0: real time" in description
    assert "backend:=mock" in description and "11 h" in description
