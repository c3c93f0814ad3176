"""Targets files: good ones parse; bad entries get an error naming the entry and what is allowed."""

from __future__ import annotations

import pytest

from powderlab.autonomy.analysis import make_planner
from powderlab.autonomy.targets import check_plannable, load_targets, parse_targets, targets_to_yaml
from powderlab.core.errors import ValidationError
from powderlab.core.resources import data_path


def test_default_targets_file_parses() -> None:
    parsed = load_targets(data_path("sim", "campaigns", "default.yaml"))
    assert parsed.campaign == "default"
    assert [t.formula for t in parsed.targets] == ["Li2TiO3", "BaTiO3", "ZnFe2O4"]
    first = parsed.targets[0]
    assert first.elements == ("Li", "Ti", "O") and first.budget == 2 and first.priority == 1
    assert first.recipes[0].heating.max_temperature_c == 700


def test_round_trip_through_yaml() -> None:
    parsed = load_targets(data_path("sim", "campaigns", "default.yaml"))
    again = parse_targets(__import__("yaml").safe_load(targets_to_yaml("x", list(parsed.targets))))
    assert [t.recipes for t in again.targets] == [t.recipes for t in parsed.targets]


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"targets": []}, "non-empty 'targets'"),
        ({"targets": [{"target": "LiCoO2", "colour": "blue"}]}, "unknown keys ['colour']"),
        ({"targets": ["LiCoO2", "LiCoO2"]}, "listed twice"),
        ({"targets": [{"target": "LiCoO2", "budget": 0}]}, "must be an integer >= 1"),
        ({"targets": [{"target": "LiCoO2", "recipes": [{"precursors": {"Li2CO3": 10}}]}]}, "temperature_c"),
        ({"targets": [{"target": "LiCoO2", "recipes": [{"temperature_c": 900}]}]}, "needs 'precursors'"),
        ({"targets": [{"target": "123"}]}, "no element symbols"),
        (
            {"targets": ["LiCoO2", {"target": "Xx9Q"}]},
            "file.yaml: target 2: 'Xx9Q' is not a chemical formula: unknown elements 'Xx', 'Q'",
        ),
        ({"targets": ["LiCoO2", "NaCl2Xx"]}, "target 2: 'NaCl2Xx' is not a chemical formula: unknown element 'Xx'"),
        (
            {
                "targets": [
                    {
                        "target": "LiCoO2",
                        "recipes": [{"precursors": {"Li2CO3": 10}, "temperature_c": 900, "milling": {"time_s": 60}}],
                    }
                ]
            },
            "LiCoO2 recipe 1 milling: unknown key 'time_s'; allowed: duration_s, frequency_hz, ball_count",
        ),
        (
            {
                "targets": [
                    {
                        "target": "LiCoO2",
                        "recipes": [{"precursors": {"Li2CO3": 10}, "heating": [{"kind": "ramp", "to_c": 900}]}],
                    }
                ]
            },
            "LiCoO2 recipe 1 heating[1]: unknown key 'to_c'; allowed: kind, target_c, rate_c_per_min, duration_min",
        ),
        (
            {"targets": [{"target": "LiCoO2", "recipes": [{"precursors": {"Li2CO3": "lots"}, "temperature_c": 900}]}]},
            "LiCoO2 recipe 1 precursors: expected powder -> mg numbers",
        ),
    ],
)
def test_bad_entries_are_named(data: dict, words: str) -> None:
    with pytest.raises(ValidationError) as error:
        parse_targets(data, "file.yaml")
    assert words in str(error.value)


@pytest.mark.parametrize("planner", ["fixed", "arrows"])
@pytest.mark.parametrize("name", ["default", "small", "twin"])
def test_the_shipped_campaigns_are_plannable(name: str, planner: str) -> None:
    targets = load_targets(data_path("sim", "campaigns", f"{name}.yaml"))
    check_plannable(targets.targets, make_planner(planner, 0), name)


def test_the_fixed_planner_refuses_a_target_without_recipes() -> None:
    targets = parse_targets({"targets": ["BaTiO3", {"target": "LiCoO2", "recipes": [
        {"precursors": {"Li2CO3": 377.5, "Co3O4": 820.2}, "temperature_c": 900}]}]}, "t.yaml")  # fmt: skip
    with pytest.raises(ValidationError) as error:
        check_plannable(targets.targets, make_planner("fixed", 0), "t.yaml")
    message = str(error.value)
    assert message.startswith("t.yaml: planner fixed")
    assert (
        "target 1: 'BaTiO3': the fixed planner only tries the recipes given with a target, and it has none" in message
    )
    assert "LiCoO2" not in message


def test_the_ai_planner_refuses_a_formula_outside_its_library() -> None:
    targets = parse_targets({"targets": ["BaTiO3", "NaCl2"]}, "t.yaml")
    with pytest.raises(ValidationError) as error:
        check_plannable(targets.targets, make_planner("arrows", 0), "t.yaml")
    message = str(error.value)
    assert "target 2: 'NaCl2': no precursor set: unknown phase or formula 'NaCl2'" in message
    assert "BaTiO3" not in message
