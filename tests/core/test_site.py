"""Site profiles: the default cell and clear errors for broken profiles."""

import pytest

from powderlab.core.errors import UnknownResourceError, ValidationError
from powderlab.core.site import SiteProfile, parse_site


def test_default_cell_is_the_a_lab_layout():
    site = SiteProfile.load("default")
    furnaces = site.station("furnaces").devices_of_kind("furnace")
    assert len(furnaces) == 4
    slots = [p.name for p in site.positions() if "/slot_" in p.name]
    assert len(slots) == 32
    assert site.arms_serving("furnace_2/slot_8") == ["arm_b"]
    assert set(site.arms_serving("buffer/1")) == {"arm_a", "arm_b"}
    assert site.initial_labware["storage/1"].labware_id == "crucible_01"


def test_unknown_site_and_station_list_what_exists():
    with pytest.raises(UnknownResourceError) as site:
        SiteProfile.load("atlantis")
    assert "default" in str(site.value)
    with pytest.raises(UnknownResourceError) as station:
        SiteProfile.load("default").station("kiln")
    assert "furnaces" in str(station.value)


def test_bad_profiles_name_the_key():
    with pytest.raises(ValidationError) as kind:
        parse_site({"name": "x", "stations": {"a": {"kind": "oven", "devices": {}}}})
    assert "stations.a.kind" in str(kind.value) and "furnace" in str(kind.value)
    with pytest.raises(ValidationError) as device:
        parse_site({"name": "x", "stations": {"a": {"kind": "milling", "devices": {"m": {"kind": "blender"}}}}})
    assert "blender" in str(device.value) and "mill" in str(device.value)
