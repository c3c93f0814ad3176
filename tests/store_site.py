"""The default cell with a powder store beside its dosing heads (ADR 0106), for tests."""

import copy
from pathlib import Path

import yaml

from powderlab.core.site import SiteProfile, parse_site

# Powders the default heads do not hold (library phases, so planners can use them too).
STORE_VIALS = [
    {"powder": "Li3PO4", "stock_mg": 40000},
    {"powder": "FePO4", "stock_mg": 30000},
    {"powder": "Mn2O3", "stock_mg": 25000, "slot": 7},
]


def store_site_data(vials: list | None = None, slots: int = 150) -> dict:
    """The default profile's data with `store:` on its dispenser."""
    data = copy.deepcopy(dict(SiteProfile.load("default").raw))
    data["name"] = "default-with-store"
    dispenser = data["stations"]["dosing"]["devices"]["dispenser"]
    dispenser["store"] = {"slots": slots, "vials": copy.deepcopy(STORE_VIALS if vials is None else vials)}
    return data


def store_site(vials: list | None = None, slots: int = 150) -> SiteProfile:
    return parse_site(store_site_data(vials, slots))


def write_store_site(path: Path, vials: list | None = None) -> Path:
    path.write_text(yaml.safe_dump(store_site_data(vials)))
    return path
