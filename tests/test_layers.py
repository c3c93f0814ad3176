"""The layers of docs/architecture.md, checked on every import of every module of src/powderlab.

Every package is placed in LAYERS (a new package fails until it is), imports only the packages its
row allows (so no arrow runs back up), and only powderlab.nodes imports ROS: the packages above it
(bringup, cli, dashboard) use ROS through powderlab.nodes, the ones below it not at all.
"""

from __future__ import annotations

import ast
import re
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "powderlab"
ARCHITECTURE = ROOT / "docs" / "architecture.md"

# Top-level names of ROS 2 packages (Python modules of the ROS install and our interface package).
ROS_MODULES = frozenset(
    {
        "rclpy",
        "rcl_interfaces",
        "launch",
        "launch_ros",
        "ament_index_python",
        "rosidl_runtime_py",
        "powderlab_interfaces",
        "rosgraph_msgs",
        "lifecycle_msgs",
        "action_msgs",
        "unique_identifier_msgs",
        "std_msgs",
        "std_srvs",
        "sensor_msgs",
        "geometry_msgs",
        "diagnostic_msgs",
        "builtin_interfaces",
    }
)

# How a package may use ROS.
NO_ROS = "none"  # plain Python: no ROS package, and (by the table) no powderlab.nodes
ROS = "rclpy"  # imports ROS itself: only powderlab.nodes
VIA_NODES = "through nodes"  # a ROS client that imports no ROS package, only powderlab.nodes

# package -> (the packages of ours it may import, how it may use ROS).
# The one copy of the table; docs/architecture.md shows the same (test_the_document_shows_this_table).
LAYERS: dict[str, tuple[frozenset[str], str]] = {
    "core": (frozenset(), NO_ROS),
    "chemistry": (frozenset({"core"}), NO_ROS),
    "planner": (frozenset({"core", "chemistry"}), NO_ROS),
    "drivers": (frozenset({"core"}), NO_ROS),
    "stations": (frozenset({"core", "drivers"}), NO_ROS),
    "twin": (frozenset({"core", "chemistry", "drivers"}), NO_ROS),
    "emulators": (frozenset({"core", "drivers"}), NO_ROS),
    "autonomy": (frozenset({"core", "chemistry", "planner", "stations"}), NO_ROS),
    "nodes": (frozenset({"core", "chemistry", "planner", "drivers", "stations", "twin", "autonomy"}), ROS),
    "dashboard": (frozenset({"core", "nodes", "autonomy"}), VIA_NODES),
    "bringup": (frozenset({"core", "drivers", "twin", "emulators", "nodes"}), VIA_NODES),
    "cli": (
        frozenset(
            {
                "core",
                "chemistry",
                "planner",
                "drivers",
                "stations",
                "twin",
                "emulators",
                "autonomy",
                "nodes",
                "dashboard",
                "bringup",
            }
        ),
        VIA_NODES,
    ),
}
# Modules directly in src/powderlab: `python -m powderlab` is the command line.
ROOT_MODULES: dict[str, frozenset[str]] = {"__init__": frozenset(), "__main__": frozenset({"cli"})}


def imports_of(path: Path, package: str | None = None) -> list[tuple[int, str]]:
    """(line, absolute module name) of every import in path, function-level ones included.

    `from powderlab import nodes` counts as powderlab.nodes; relative imports are resolved against
    package (default: where path lies under src/powderlab).
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    if package is None:
        package = ".".join(("powderlab", *path.relative_to(SRC).parent.parts))
    parts = package.split(".")
    names: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(parts[: len(parts) - node.level + 1]) if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            if module == "powderlab":
                names.extend((node.lineno, f"powderlab.{alias.name}") for alias in node.names)
            else:
                names.append((node.lineno, module))
    return sorted(names)


def problems_of(path: Path, layer: str, package: str | None = None) -> list[str]:
    """What in path breaks the row of layer: the packages of ours it may import, and its ROS rule."""
    allowed, ros = LAYERS.get(layer) or (ROOT_MODULES[path.stem], NO_ROS)
    label = str(path.relative_to(SRC)) if path.is_relative_to(SRC) else path.name
    problems = []
    for line, name in imports_of(path, package):
        where = f"{label}:{line} imports {name}"
        top = name.split(".")[0]
        if top in ROS_MODULES and ros == VIA_NODES:
            problems.append(f"{where} (layer {layer} is a ROS client above nodes: use ROS through powderlab.nodes)")
        elif top in ROS_MODULES and ros == NO_ROS:
            problems.append(f"{where} (ROS below powderlab.nodes: layer {layer} is plain Python)")
        if top != "powderlab" or "." not in name:
            continue
        used = name.split(".")[1]
        if used not in LAYERS:
            problems.append(f"{where} (no package powderlab.{used} in the layers table)")
        elif used != layer and used not in allowed:
            may = ", ".join(sorted(allowed)) or "nothing of ours"
            problems.append(f"{where} (layer {layer} may import {may}; see docs/architecture.md)")
    return problems


def test_every_package_is_placed() -> None:
    """A new package (or a module directly in src/powderlab) fails here until it has a row."""
    packages = {p.name for p in SRC.iterdir() if p.is_dir() and any(p.rglob("*.py"))}
    unplaced = sorted(packages - set(LAYERS))
    assert not unplaced, (
        f"src/powderlab/{{{', '.join(unplaced)}}} is in no layer: add a row to LAYERS in tests/test_layers.py "
        "and to the layers table of docs/architecture.md"
    )
    assert set(LAYERS) <= packages, f"LAYERS names packages that do not exist: {sorted(set(LAYERS) - packages)}"
    modules = {p.stem for p in SRC.glob("*.py")}
    assert modules == set(ROOT_MODULES), f"modules in src/powderlab: {sorted(modules)}; placed: {sorted(ROOT_MODULES)}"


def test_no_arrow_runs_back_up() -> None:
    """The table is a hierarchy (no cycle), only nodes imports ROS, and nothing below nodes uses ROS."""
    graph = {layer: set(allowed) for layer, (allowed, _) in LAYERS.items()}
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        pytest.fail(f"the layers table has a cycle: {error.args[1]}")
    assert [layer for layer, (_, ros) in LAYERS.items() if ros == ROS] == ["nodes"]
    for layer in LAYERS["nodes"][0]:
        assert LAYERS[layer][1] == NO_ROS, f"{layer} is below nodes and may not use ROS"
    for layer, (allowed, ros) in LAYERS.items():
        assert ros != VIA_NODES or "nodes" in allowed, f"{layer} uses ROS through nodes but may not import it"
        assert ros != NO_ROS or "nodes" not in allowed, f"{layer} is plain Python but may import nodes"


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_layer_imports(layer: str) -> None:
    problems = [problem for path in sorted((SRC / layer).rglob("*.py")) for problem in problems_of(path, layer)]
    assert not problems, "\n".join(problems)


def test_root_modules_imports() -> None:
    problems = [problem for name in ROOT_MODULES for problem in problems_of(SRC / f"{name}.py", f"{name}.py")]
    assert not problems, "\n".join(problems)


def test_the_document_shows_this_table() -> None:
    """docs/architecture.md's layers table says what LAYERS says, row for row."""
    documented: dict[str, tuple[frozenset[str], str]] = {}
    for line in ARCHITECTURE.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        match = re.fullmatch(r"`powderlab\.(\w+)`", cells[0]) if len(cells) == 4 else None
        if match:
            documented[match.group(1)] = (frozenset(re.findall(r"`(\w+)`", cells[2])), cells[3])
    assert documented == LAYERS, "the layers table of docs/architecture.md differs from LAYERS here"


def test_the_checker_sees_violations(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import rclpy\n"
        "from powderlab.nodes import station_node\n"
        "from powderlab import autonomy\n"
        "def later():\n"
        "    from powderlab.nowhere import thing\n"
        "    from ..twin import world\n"
    )
    assert imports_of(bad, "powderlab.stations") == [
        (1, "rclpy"),
        (2, "powderlab.nodes"),
        (3, "powderlab.autonomy"),
        (5, "powderlab.nowhere"),
        (6, "powderlab.twin"),
    ]
    problems = problems_of(bad, "stations", "powderlab.stations")
    assert problems == [
        "bad.py:1 imports rclpy (ROS below powderlab.nodes: layer stations is plain Python)",
        "bad.py:2 imports powderlab.nodes (layer stations may import core, drivers; see docs/architecture.md)",
        "bad.py:3 imports powderlab.autonomy (layer stations may import core, drivers; see docs/architecture.md)",
        "bad.py:5 imports powderlab.nowhere (no package powderlab.nowhere in the layers table)",
        "bad.py:6 imports powderlab.twin (layer stations may import core, drivers; see docs/architecture.md)",
    ]
    web = problems_of(bad, "dashboard", "powderlab.dashboard")
    assert web[0] == (
        "bad.py:1 imports rclpy (layer dashboard is a ROS client above nodes: use ROS through powderlab.nodes)"
    )
    assert problems_of(bad, "nodes", "powderlab.nodes") == [
        "bad.py:5 imports powderlab.nowhere (no package powderlab.nowhere in the layers table)"
    ]
