"""The layers of DESIGN.md: no rclpy below powderlab.nodes; lower layers never import upper ones."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "powderlab"
ROS_MODULES = (
    "rclpy",
    "launch",
    "launch_ros",
    "powderlab_interfaces",
    "rosgraph_msgs",
    "lifecycle_msgs",
    "std_msgs",
    "std_srvs",
    "sensor_msgs",
    "geometry_msgs",
    "diagnostic_msgs",
    "builtin_interfaces",
)
# layer -> layers of ours it may import (DESIGN.md, plus the stations layer of ADR 0001)
ALLOWED = {
    "core": set(),
    "chemistry": {"core"},
    "planner": {"core", "chemistry"},
    "drivers": {"core"},
    "stations": {"core", "drivers"},
    "twin": {"core", "chemistry", "drivers"},
    "autonomy": {"core", "chemistry", "planner", "stations"},
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(ALLOWED))
def test_layer_imports(layer):
    folder = SRC / layer
    problems = []
    for path in sorted(folder.rglob("*.py")):
        for name in imports_of(path):
            top = name.split(".")[0]
            if top in ROS_MODULES:
                problems.append(f"{path.relative_to(SRC)} imports {name} (ROS below powderlab.nodes)")
            if top == "powderlab" and name.count(".") >= 1:
                used = name.split(".")[1]
                if used in ALLOWED and used != layer and used not in ALLOWED[layer]:
                    problems.append(f"{path.relative_to(SRC)} imports {name} (layer {layer} may not use {used})")
                if used in ("nodes", "bringup", "cli", "dashboard"):
                    problems.append(f"{path.relative_to(SRC)} imports {name} (upper layer)")
    assert not problems, "\n".join(problems)


def test_the_web_layer_uses_ros_only_through_powderlab_nodes():
    """powderlab.dashboard is a ROS client above nodes: it imports no ROS package itself."""
    problems = []
    for path in sorted((SRC / "dashboard").rglob("*.py")):
        for name in imports_of(path):
            if name.split(".")[0] in ROS_MODULES:
                problems.append(f"{path.relative_to(SRC)} imports {name}")
    assert not problems, "\n".join(problems)
    nodes = [name for path in (SRC / "nodes").rglob("*.py") for name in imports_of(path)]
    assert not [n for n in nodes if n.startswith("powderlab.dashboard")], "nodes must not import the web layer"


def test_the_checker_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import rclpy\nfrom powderlab.nodes import station_node\n")
    assert {"rclpy", "powderlab.nodes"} <= imports_of(bad)
