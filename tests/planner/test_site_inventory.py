"""The default inventory is the site's: its dosing heads, then its powder store (ADR 0106)."""

import json

from powderlab.cli.main import main
from powderlab.planner.inventory import Inventory
from tests.store_site import store_site, write_store_site


def test_the_site_inventory_holds_the_heads_then_the_store():
    inventory = Inventory.from_site(store_site())
    assert inventory.powders[:2] == ("Li2CO3", "LiOH") and len(inventory.powders) == 28 + 3
    assert inventory.powders[-3:] == ("Li3PO4", "FePO4", "Mn2O3")
    assert "Fe" in inventory.elements() and "FePO4" not in Inventory.from_site("default").powders


def test_plan_recipes_proposes_stored_powders_of_the_site(tmp_path, capsys):
    site = write_store_site(tmp_path / "site.yaml")
    assert main(["plan", "recipes", "LiFePO4", "--site", str(site), "--count", "10", "--json"]) == 0
    sets = [recipe["precursors"] for recipe in json.loads(capsys.readouterr().out)["LiFePO4"]]
    assert ["FePO4", "Li2CO3"] in sets  # FePO4 is on no head, only in the store


def test_campaign_planners_plan_from_the_campaign_site():
    from powderlab.autonomy.analysis import make_planner

    site = store_site()
    assert "FePO4" in make_planner("arrows", site=site).inventory.powders
    assert "FePO4" in make_planner("literature", site=site).inventory.powders
    assert "FePO4" not in make_planner("ranking").inventory.powders  # no site: the default site's
