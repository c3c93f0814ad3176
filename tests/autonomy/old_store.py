"""The store as PowderLab made it before migrations, for the migration tests.

`old_schema()` is the table code of autonomy/store.py before the versioned store (commit b7a4df4),
copied here on purpose: the tests create a database with it and check that revision 0001 matches
it, so an edit of the frozen baseline revision fails them. `fill()` writes one small campaign
through the Store API (the same in the old and the new Store); `expected_records()` is what
`Store.load` must read back. tests/autonomy/data/store_before_migrations.sqlite was written by
the old Store with `fill()` (see `make_fixture` below).
"""

from __future__ import annotations

import importlib.util
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from powderlab.autonomy.model import AnalysisResult, ExperimentStatus, PhaseFraction, Target, TargetStatus
from powderlab.autonomy.state import BatchRecord, ExperimentRecord, OpRecord, SampleRecord, TargetRecord
from powderlab.core.recipes import PowderDose, Recipe, a_lab_profile
from powderlab.core.samples import SampleStatus
from powderlab.core.xrd import XrdPattern

FIXTURE = Path(__file__).parent / "data" / "store_before_migrations.sqlite"
CAMPAIGN = "old-campaign"
OLD_COMMIT = "b7a4df4"


def old_schema() -> MetaData:
    """The tables exactly as the pre-migration store declared them (created by create_all)."""
    metadata = MetaData()

    Table(
        "campaigns",
        metadata,
        Column("id", String(120), primary_key=True),
        Column("name", String(200), nullable=False),
        Column("seed", Integer, nullable=False, default=0),
        Column("config", JSON, nullable=False, default=dict),
        Column("status", String(20), nullable=False, default="running"),
        Column("sim_start", Float),
        Column("sim_end", Float),
        Column("wall_start", Float),
        Column("wall_end", Float),
    )
    Table(
        "targets",
        metadata,
        Column("id", String(200), primary_key=True),
        Column("campaign_id", String(120), ForeignKey("campaigns.id"), nullable=False, index=True),
        Column("seq", Integer, nullable=False),
        Column("formula", String(120), nullable=False),
        Column("spec", JSON, nullable=False),
        Column("status", String(20), nullable=False),
        Column("made_by", String(200), nullable=False, default=""),
        UniqueConstraint("campaign_id", "formula"),
    )
    Table(
        "experiments",
        metadata,
        Column("id", String(200), primary_key=True),
        Column("campaign_id", String(120), ForeignKey("campaigns.id"), nullable=False, index=True),
        Column("target_id", String(200), ForeignKey("targets.id"), nullable=False),
        Column("attempt", Integer, nullable=False),
        Column("recipe", JSON, nullable=False),
        Column("reason", Text, nullable=False, default=""),
        Column("status", String(20), nullable=False),
        Column("target_yield", Float),
        Column("failure", Text, nullable=False, default=""),
        Column("created_s", Float),
        Column("finished_s", Float),
        UniqueConstraint("target_id", "attempt"),  # an experiment can never be recorded twice
    )
    Table(
        "samples",
        metadata,
        Column("id", String(200), primary_key=True),
        Column("campaign_id", String(120), ForeignKey("campaigns.id"), nullable=False, index=True),
        Column("experiment_id", String(200), ForeignKey("experiments.id"), nullable=False),
        Column("seq", Integer, nullable=False),
        Column("labware_id", String(120), nullable=False, default=""),
        Column("status", String(20), nullable=False),
        Column("location", String(200), nullable=False, default=""),
        Column("batch_id", String(200), nullable=False, default=""),
        Column("retries", Integer, nullable=False, default=0),
        Column("not_before", Float, nullable=False, default=0.0),
        Column("failure", Text, nullable=False, default=""),
        Column("dosed_mg", JSON, nullable=False, default=dict),
        Column("created_s", Float),
        Column("finished_s", Float),
        Column("closed", Boolean, nullable=False, default=False),
        Column("analysed", Boolean, nullable=False, default=False),
    )
    Table(
        "batches",
        metadata,
        Column("id", String(200), primary_key=True),
        Column("campaign_id", String(120), ForeignKey("campaigns.id"), nullable=False, index=True),
        Column("profile", JSON, nullable=False),
        Column("capacity", Integer, nullable=False),
        Column("state", String(20), nullable=False),
        Column("furnace", String(120), nullable=False, default=""),
        Column("closed", Boolean, nullable=False, default=False),
        Column("created_s", Float),
        Column("last_load_s", Float),
        Column("heat_started_s", Float),
        Column("heat_ended_s", Float),
        Column("retries", Integer, nullable=False, default=0),
        Column("not_before", Float, nullable=False, default=0.0),
    )
    Table(
        "operations",
        metadata,
        Column("id", String(64), primary_key=True),
        Column("campaign_id", String(120), ForeignKey("campaigns.id"), nullable=False, index=True),
        Column("seq", Integer, nullable=False),
        Column("station", String(120), nullable=False),
        Column("action", String(60), nullable=False),
        Column("purpose", String(60), nullable=False),
        Column("goal", JSON, nullable=False),
        Column("sample_id", String(200), nullable=False, default=""),
        Column("batch_id", String(200), nullable=False, default=""),
        Column("resources", JSON, nullable=False, default=list),
        Column("estimate_s", Float, nullable=False, default=0.0),
        Column("state", String(20), nullable=False),
        Column("intended_s", Float),
        Column("started_s", Float),
        Column("ended_s", Float),
        Column("intended_wall", Float),
        Column("ended_wall", Float),
        Column("error_code", Integer),
        Column("error_msg", Text, nullable=False, default=""),
        Column("result", JSON, nullable=False, default=dict),
    )
    Table(
        "patterns",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("campaign_id", String(120), ForeignKey("campaigns.id"), nullable=False, index=True),
        Column("sample_id", String(200), nullable=False, index=True),
        Column("op_id", String(64), nullable=False),
        Column("holder_id", String(120), nullable=False, default=""),
        Column("instrument", String(120), nullable=False, default=""),
        Column("wavelength_angstrom", Float, nullable=False),
        Column("two_theta", LargeBinary, nullable=False),  # float64 little-endian
        Column("intensity", LargeBinary, nullable=False),
        Column("created_s", Float),
        UniqueConstraint("op_id"),
    )
    Table(
        "analyses",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("campaign_id", String(120), ForeignKey("campaigns.id"), nullable=False, index=True),
        Column("sample_id", String(200), nullable=False),
        Column("experiment_id", String(200), nullable=False),
        Column("analyzer", String(200), nullable=False),
        Column("target_yield", Float, nullable=False),
        Column("result", JSON, nullable=False),
        Column("curves", JSON),
        Column("created_s", Float),
        UniqueConstraint("sample_id"),  # one analysis per sample
    )
    Table(
        "events",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("campaign_id", String(120), nullable=False, index=True),
        Column("sim_time", Float),
        Column("wall_time", Float),
        Column("kind", String(40), nullable=False),
        Column("sample_id", String(200), nullable=False, default=""),
        Column("op_id", String(64), nullable=False, default=""),
        Column("message", Text, nullable=False, default=""),
        Column("data", JSON, nullable=False, default=dict),
    )

    return metadata


def expected_records() -> dict[str, list[Any]]:
    """The records `fill` writes, as Store.load must read them back."""
    profile = a_lab_profile(900)
    recipe = Recipe("r1", "BaTiO3", (PowderDose("BaCO3", 394.7), PowderDose("TiO2", 159.7)), profile)
    made = Target("BaTiO3", priority=2, budget=3, recipes=(recipe,), notes="given")
    pending = Target("SrTiO3")
    return {
        "targets": [
            TargetRecord("t-1", made, 1, TargetStatus.MADE, "e-1"),
            TargetRecord("t-2", pending, 2),
        ],
        "experiments": [
            ExperimentRecord("e-1", "t-1", 1, recipe, "given", ExperimentStatus.ANALYSED, 0.92, "", 10.0, 5000.0),
            ExperimentRecord("e-2", "t-2", 1, recipe, "retry", ExperimentStatus.PLANNED, None, "", 20.0, None),
        ],
        "samples": [
            SampleRecord(
                "s-1",
                "e-1",
                1,
                "crucible-7",
                SampleStatus.ANALYSED,
                "storage_3",
                "b-1",
                1,
                40.5,
                "",
                {"BaCO3": 394.2, "TiO2": 159.9},
                11.0,
                5000.0,
                True,
                True,
            ),
            SampleRecord("s-2", "e-2", 2, status=SampleStatus.PLANNED, created_s=21.0),
        ],
        "batches": [
            BatchRecord("b-1", profile, 4, "done", "furnace_1", True, 12.0, 100.0, 110.0, 4000.0, 0, 0.0),
        ],
        "operations": [
            OpRecord(
                "a" * 32,
                "dosing",
                "dose",
                {"sample_id": "s-1", "mg": [394.7, 159.7]},
                "dose",
                "s-1",
                "",
                ("doser",),
                120.0,
                "succeeded",
                12.5,
                13.0,
                130.0,
                None,
                "",
                {"dosed_mg": [394.2, 159.9]},
            ),
            OpRecord(
                "b" * 32,
                "furnace_1",
                "heat",
                {"batch_id": "b-1"},
                "heat",
                "",
                "b-1",
                ("furnace_1",),
                3900.0,
                "failed",
                105.0,
                110.0,
                4000.0,
                11,
                "thermocouple open",
                {},
            ),
            OpRecord("c" * 32, "xrd", "measure_xrd", {"sample_id": "s-1"}, "measure", "s-1", intended_s=4500.0),
        ],
    }


def pattern() -> XrdPattern:
    """The pattern `fill` stores for s-1."""
    two_theta = np.linspace(10.0, 80.0, 71)
    return XrdPattern(two_theta, np.cos(two_theta) + 2.0, 1.5406, holder_id="holder-2", instrument="xrd")


def fill(store: Any) -> None:
    """Write the campaign through the Store API (old or new Store)."""
    records = expected_records()
    store.create_campaign(CAMPAIGN, "old", 7, {"targets": 2}, 0.0)
    for target in records["targets"]:
        store.add_target(CAMPAIGN, target)
    for experiment in records["experiments"]:
        store.add_experiment(CAMPAIGN, experiment)
    for batch in records["batches"]:
        store.add_batch(CAMPAIGN, batch)
    for sample in records["samples"]:
        store.add_sample(CAMPAIGN, sample)
    for op in records["operations"]:
        store.intend(CAMPAIGN, op)
        store.save_op(op)
    store.add_pattern(CAMPAIGN, "s-1", "c" * 32, pattern(), 4600.0)
    analysis = AnalysisResult("peaks", "BaTiO3", 0.92, (PhaseFraction("BaTiO3", "BaTiO3", 0.92),), rwp=8.5)
    store.add_analysis(CAMPAIGN, "s-1", "e-1", analysis, 4700.0)
    store.event(CAMPAIGN, "start", "campaign started", 0.0)
    store.event(CAMPAIGN, "claim", "BaTiO3 made", 5000.0, sample_id="s-1", data={"yield": 0.92})


def make_fixture(repo: Path) -> None:
    """Write FIXTURE with the Store of OLD_COMMIT (run by hand: python -m tests.autonomy.old_store)."""
    source = subprocess.run(
        ["git", "show", f"{OLD_COMMIT}:src/powderlab/autonomy/store.py"], cwd=repo, check=True, capture_output=True
    ).stdout
    module_path = FIXTURE.parent / "_old_store.py"
    module_path.write_bytes(source)
    try:
        spec = importlib.util.spec_from_file_location("_old_store", module_path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        scratch = FIXTURE.with_suffix(".tmp")
        for leftover in scratch.parent.glob(scratch.name + "*"):
            leftover.unlink()
        store = module.Store(scratch)
        fill(store)
        store.close()
        with sqlite3.connect(scratch) as conn:  # fold the WAL into the file, leave rollback journal mode
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("PRAGMA journal_mode=DELETE")
        shutil.move(scratch, FIXTURE)
    finally:
        module_path.unlink()


if __name__ == "__main__":
    make_fixture(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())
