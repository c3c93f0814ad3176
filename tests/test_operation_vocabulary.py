"""The operations are declared once (stations/operations.py, ADR 0088): no hand-written tables elsewhere.

A grep over src for the shapes the old per-operation code had: action classes named by hand, goal
messages built field by field, action bindings written out, goal dicts written key by key, and
branches on an operation's name in the ROS conversions. A new operation that needs one of these
has missed the registry.
"""

import re
from pathlib import Path

import pytest

from powderlab.stations.operations import OPERATIONS

SRC = Path(__file__).resolve().parent.parent / "src" / "powderlab"
REGISTRY = SRC / "stations" / "operations.py"
NAMES = "|".join(sorted(OPERATIONS))
GOAL_KEYS = "source|destination|furnace|slot|powders|duration_s|frequency_hz|ball_count|profile|scan"

FORBIDDEN = {
    "an action class named by hand": re.compile(r"\bactions\.[A-Z]\w*|from powderlab_interfaces\.action import"),
    "a goal message built by hand": re.compile(r"\.Goal\("),
    "an action binding written out": re.compile(r"ActionBinding\(\s*\""),
    "a stored goal written key by key": re.compile(rf"\"(sample_id|labware_id)\"\s*:.*\n?.*\"({GOAL_KEYS})\"\s*:"),
    "a goal read key by key": re.compile(rf"goal\[\"({GOAL_KEYS})\"\]|goal\.get\(\"({GOAL_KEYS})\""),
}
# In the ROS layer no code may branch on an operation's name: conversions come from the types.
NODES_FORBIDDEN = re.compile(rf"action\s*==\s*\"({NAMES})\"")


def sources():
    return sorted(p for p in SRC.rglob("*.py") if p != REGISTRY)


@pytest.mark.parametrize("what", sorted(FORBIDDEN))
def test_no_operation_is_spelled_out_outside_the_registry(what):
    pattern = FORBIDDEN[what]
    found = [
        f"{path.relative_to(SRC)}: {match.group(0)!r}"
        for path in sources()
        for match in pattern.finditer(path.read_text())
    ]
    assert not found, f"{what} (declare it in stations/operations.py instead): {found}"


def test_the_ros_layer_never_branches_on_an_operation_name():
    found = [
        f"{path.relative_to(SRC)}: {match.group(0)!r}"
        for path in sorted((SRC / "nodes").rglob("*.py"))
        for match in NODES_FORBIDDEN.finditer(path.read_text())
    ]
    assert not found, found


def test_the_patterns_catch_the_old_tables():
    """The grep would have failed on the code before the registry (samples of it)."""
    old = [
        'return actions.Transfer.Goal(sample=sample, source=goal["source"], destination=goal["destination"])',
        '"dose": actions.Dose,',
        'ActionBinding(\n            "dose",',
        'goal = {\n    "sample_id": sample.id,\n    "labware_id": sample.labware_id,\n    "destination": destination,',
        'return {"sample_mg": result.sample_mg} if action == "measure_xrd" else {}',
    ]
    caught = [any(p.search(text) for p in [*FORBIDDEN.values(), NODES_FORBIDDEN]) for text in old]
    assert all(caught), list(zip(old, caught, strict=True))
