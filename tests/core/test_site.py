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


def test_a_powder_store_beside_the_dosing_heads():
    """`store:` of a dispenser (ADR 0106): vials by slot; its powders extend the site's inventory."""
    from powderlab.core.site import PowderStore
    from tests.store_site import store_site

    site = store_site()
    store = PowderStore.of(site.station("dosing").device("dispenser"))
    assert store.slots == 150
    assert [(v.slot, v.powder, v.stock_mg) for v in store.vials] == [
        (1, "Li3PO4", 40000.0),
        (2, "FePO4", 30000.0),
        (7, "Mn2O3", 25000.0),
    ]
    assert site.stored_powders() == ("Li3PO4", "FePO4", "Mn2O3")
    assert "Li2CO3" in site.head_powders() and "FePO4" not in site.head_powders()
    assert SiteProfile.load("default").stored_powders() == ()


@pytest.mark.parametrize(
    ("store", "where", "says"),
    [
        ({"slots": 2, "vials": [{"powder": "A", "stock_mg": 1}] * 3}, "store.vials", "3 vials do not fit in 2 slots"),
        ({"slots": 0, "vials": []}, "store.slots", "out of range"),
        (
            {"slots": 4, "vials": [{"powder": "Li PO", "stock_mg": 1}]},
            "store.vials[0].powder",
            "not a powder formula",
        ),
        ({"slots": 4, "vials": [{"powder": "FePO4"}]}, "store.vials[0].stock_mg", "is missing"),
        ({"slots": 4, "vials": [{"powder": "FePO4", "stock_mg": -5}]}, "store.vials[0].stock_mg", "0 or more"),
        ({"slots": 4, "vials": [{"powder": "FePO4", "stock_mg": 1, "slot": 9}]}, "store.vials[0].slot", "out of range"),
        (
            {
                "slots": 4,
                "vials": [{"powder": "A", "stock_mg": 1, "slot": 2}, {"powder": "B", "stock_mg": 1, "slot": 2}],
            },
            "store.vials[1].slot",
            "slot 2 already holds vials[0]",
        ),
        ({"slots": 4, "vials": [{"powder": "A", "stock_mg": 1, "amount": 3}]}, "store.vials[0]", "allowed: powder"),
        ({"slots": 4, "shelf": 2}, "store", "unknown keys ['shelf']"),
    ],
)
def test_a_bad_powder_store_names_the_vial_and_what_is_allowed(store, where, says):
    from tests.store_site import store_site_data

    data = store_site_data()
    data["stations"]["dosing"]["devices"]["dispenser"]["store"] = store
    with pytest.raises(ValidationError) as error:
        parse_site(data)
    assert f"stations.dosing.devices.dispenser.{where}" in str(error.value) and says in str(error.value)


def test_a_powder_on_two_heads_or_a_store_on_another_device_is_refused():
    from tests.store_site import store_site_data

    data = store_site_data()
    data["stations"]["dosing"]["devices"]["dispenser"]["heads"].append({"powder": "Li2CO3", "stock_mg": 5})
    with pytest.raises(ValidationError, match=r"heads\[28\]\.powder.*Li2CO3 is on two heads"):
        parse_site(data)
    data = store_site_data()
    data["stations"]["dosing"]["devices"]["balance"]["store"] = {"slots": 1}
    with pytest.raises(ValidationError, match="only a powder_dispenser has a powder store, not a balance"):
        parse_site(data)
