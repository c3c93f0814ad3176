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
