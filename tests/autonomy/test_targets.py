"""Targets files: good ones parse; bad entries get an error naming the entry and what is allowed."""

from __future__ import annotations

import pytest

from powderlab.autonomy.targets import load_targets, parse_targets, targets_to_yaml
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
    ],
)
def test_bad_entries_are_named(data: dict, words: str) -> None:
    with pytest.raises(ValidationError) as error:
        parse_targets(data, "file.yaml")
    assert words in str(error.value)
