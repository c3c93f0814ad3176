"""A campaign whose recipe needs a powder of the store, not of a head (ADR 0106): `powderlab campaign
--lab local` on a site with a vial store loads the vial onto a dosing head before dosing and makes
the target."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from powderlab.autonomy import store as tables
from powderlab.autonomy.store import Store
from powderlab.cli.main import main
from tests.store_site import write_store_site

TARGETS = {
    "campaign": "stored",
    "targets": [
        {
            "target": "LiFePO4",
            "budget": 2,
            "recipes": [
                {
                    "precursors": {"Li2CO3": 117.1, "FePO4": 478.0},  # FePO4: in the store, on no head
                    "heating": [
                        {"kind": "ramp", "target_c": 780, "rate_c_per_min": 20},
                        {"kind": "dwell", "duration_min": 20},
                        {"kind": "cool", "target_c": 190},
                    ],
                }
            ],
        }
    ],
}


def test_a_stored_powder_is_loaded_then_dosed_and_the_target_made(tmp_path: Path, capsys) -> None:
    site = write_store_site(tmp_path / "site.yaml")
    targets = tmp_path / "targets.yaml"
    targets.write_text(yaml.safe_dump(TARGETS))
    database = tmp_path / "c.sqlite"
    args = ["campaign", "--lab", "local", "--site", str(site), "--targets", str(targets), "--seed", "11"]
    args += ["--planner", "fixed", "--analyzer", "standin", "--database", str(database)]
    code = main([*args, "--report", str(tmp_path / "r"), "--no-plots", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0, summary
    assert summary["status"] == "finished" and summary["targets_made"] == ["LiFePO4"]
    store = Store(f"sqlite:///{database}")
    try:
        ops = store.rows(tables.operations, summary["campaign"])
    finally:
        store.close()
    actions = [op["action"] for op in ops if op["station"] == "dosing"]
    assert actions[:2] == ["load_vial", "dose"]  # the vial goes on a head before the first dose
    (load,) = [op for op in ops if op["action"] == "load_vial"]
    assert load["state"] == "succeeded" and load["goal"]["powder"] == "FePO4"
    assert load["result"]["powder"] == "FePO4" and load["result"]["returned_powder"] == load["goal"]["replace"]
