"""Recipes and their validation: every error names the field and what is allowed."""

import pytest

from powderlab.core.errors import ErrorCode, OutOfRangeError, ValidationError
from powderlab.core.recipes import (
    FurnaceLimits,
    HeatingProfile,
    HeatingSegment,
    MillingSettings,
    PowderDose,
    Recipe,
    ScanSettings,
    SegmentKind,
    a_lab_profile,
)


def test_negative_mass_names_the_powder_and_range():
    with pytest.raises(OutOfRangeError) as error:
        PowderDose("Li2CO3", -5.0)
    assert "Li2CO3" in str(error.value) and "more than 0" in str(error.value)
    assert error.value.code is ErrorCode.OUT_OF_RANGE


def test_a_lab_profile_duration_and_limits():
    profile = a_lab_profile(900.0)
    limits = FurnaceLimits()
    durations = profile.segment_durations_s(limits)
    assert durations[0] == pytest.approx((300 - 25) / 2 * 60)
    assert durations[1] == pytest.approx(600 / 15 * 60)
    assert durations[2] == pytest.approx(4 * 3600)
    assert profile.max_temperature_c == 900.0
    profile.validate(limits)


def test_profile_above_the_furnace_limit_is_refused():
    with pytest.raises(OutOfRangeError) as error:
        a_lab_profile(1500.0).validate(FurnaceLimits(max_temperature_c=1200.0))
    assert "1500" in str(error.value) and "1200" in str(error.value)


def test_ramp_faster_than_allowed_is_refused():
    profile = HeatingProfile((HeatingSegment(SegmentKind.RAMP, target_c=500.0, rate_c_per_min=50.0),))
    with pytest.raises(OutOfRangeError) as error:
        profile.validate(FurnaceLimits(max_ramp_c_per_min=20.0))
    assert "rate_c_per_min" in str(error.value)


def test_unknown_segment_kind_lists_the_kinds():
    with pytest.raises(ValidationError) as error:
        HeatingSegment("melt", target_c=500.0)
    assert "ramp, dwell, cool" in str(error.value)


def test_scan_settings_validate_and_count_points():
    assert ScanSettings(10.0, 100.0, 0.02, 480.0).point_count == 4501
    with pytest.raises(ValidationError):
        ScanSettings(50.0, 20.0, 0.02, 60.0)


def test_numbers_from_yaml_become_floats():
    milling = MillingSettings(duration_s=600, frequency_hz=25, ball_count=2)
    assert isinstance(milling.frequency_hz, float) and isinstance(milling.duration_s, float)


def test_recipe_from_dict_round_trip_and_errors():
    data = {
        "recipe_id": "r1",
        "target": "LiCoO2",
        "precursors": [{"powder": "Li2CO3", "target_mg": 377.5}, {"powder": "Co3O4", "target_mg": 820.2}],
        "heating": a_lab_profile(900.0).to_list(),
    }
    recipe = Recipe.from_dict(data)
    assert Recipe.from_dict(recipe.to_dict()) == recipe
    assert recipe.total_mass_mg == pytest.approx(1197.7)
    with pytest.raises(ValidationError) as unknown:
        Recipe.from_dict({**data, "colour": "blue"})
    assert "colour" in str(unknown.value)
    with pytest.raises(ValidationError) as twice:
        Recipe.from_dict({**data, "precursors": data["precursors"] * 2})
    assert "listed twice" in str(twice.value)
    with pytest.raises(ValidationError) as bad_key:
        Recipe.from_dict({**data, "precursors": [{"powder": "Li2CO3", "mass": 3}]})
    assert "mass" in str(bad_key.value)


def _recipe_data(**changes):
    data = {
        "recipe_id": "r1",
        "target": "LiCoO2",
        "precursors": [{"powder": "Li2CO3", "target_mg": 377.5}, {"powder": "Co3O4", "target_mg": 820.2}],
        "milling": {"duration_s": 600, "frequency_hz": 25, "ball_count": 2},
        "heating": [{"kind": "ramp", "target_c": 900, "rate_c_per_min": 10}, {"kind": "dwell", "duration_min": 60}],
        "scan": {"two_theta_start_deg": 10, "two_theta_end_deg": 100},
    }
    data.update(changes)
    return data


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"precursors": [{"powder": "Li2CO3", "target_mg": 377.5}, {"powder": "Co3O4", "mass_mg": 820.2}]},
            "recipe precursors[2]: unknown key 'mass_mg'; allowed: powder, target_mg",
        ),
        (
            {"precursors": [{"powder": "Li2CO3"}]},
            "recipe precursors[1]: missing 'target_mg'; required: powder, target_mg",
        ),
        ({"precursors": {"Li2CO3": 377.5}}, "recipe precursors: expected a list, e.g. [{powder: Li2CO3, target_mg:"),
        ({"precursors": ["Li2CO3"]}, "recipe precursors[1]: expected a mapping with the keys powder, target_mg"),
        (
            {"heating": [{"kind": "ramp", "target_c": 900, "rate": 10}]},
            "recipe heating[1]: unknown key 'rate'; allowed: kind, target_c, rate_c_per_min, duration_min",
        ),
        ({"heating": [{"target_c": 900}]}, "recipe heating[1]: missing 'kind'"),
        ({"heating": {"kind": "ramp"}}, "recipe heating: expected a list"),
        (
            {"milling": {"duration_s": 600, "speed_rpm": 300, "balls": 2}},
            "recipe milling: unknown keys 'speed_rpm', 'balls'; allowed: duration_s, frequency_hz, ball_count",
        ),
        (
            {"scan": {"start_deg": 10}},
            "recipe scan: unknown key 'start_deg'; allowed: two_theta_start_deg, two_theta_end_deg, step_deg, "
            "scan_time_s",
        ),
        (
            {"colour": "blue"},
            "recipe: unknown key 'colour'; allowed: recipe_id, target, precursors, milling, heating, scan, notes",
        ),
    ],
)
def test_unknown_and_missing_recipe_keys_are_named_with_the_keys_allowed(changes, message):
    with pytest.raises(ValidationError) as error:
        Recipe.from_dict(_recipe_data(**changes))
    assert message in str(error.value)
    assert "__init__" not in str(error.value)


def test_a_good_recipe_mapping_still_parses():
    recipe = Recipe.from_dict(_recipe_data())
    assert [d.target_mg for d in recipe.precursors] == [377.5, 820.2]
    assert recipe.heating.segments[0].kind is SegmentKind.RAMP and recipe.milling.ball_count == 2
