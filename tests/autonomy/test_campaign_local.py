"""Whole campaigns in process (LocalLab on the discrete-event clock): records, faults, full racks.

The backend is a parameter (mock until the twin lands; the lead adds "sim" at merge).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from sqlalchemy.exc import IntegrityError

from powderlab.autonomy import store as tables
from powderlab.autonomy.runner import local_campaign
from powderlab.autonomy.targets import load_targets, parse_targets
from powderlab.core.resources import data_path
from tests.autonomy.records import check_records, table_of

BACKENDS = ["mock"]
HOUR = 3600.0


def small_targets():
    return load_targets(data_path("sim", "campaigns", "default.yaml")).targets


def events(campaign, kind: str) -> list[dict]:
    return [e for e in campaign.store.rows(tables.events, campaign.engine.cid) if e["kind"] == kind]


def test_parallel_experiments_per_target_end_cleanly(tmp_path: Path) -> None:
    """Two experiments of a target in flight: once one makes it, the other's unstarted ones are cancelled."""
    config = {"in_flight_per_target": 2}
    campaign = local_campaign(small_targets(), tmp_path / "c.sqlite", "par", seed=3, config=config)
    campaign.run(max_sim_s=10 * 86400)
    try:
        check_records(campaign.store, "par", table_of(campaign.port.positions()))
        experiments = campaign.store.rows(tables.experiments, "par")
        assert len(experiments) == 6  # every target's two recipes proposed at once
        assert campaign.port.now() < 2 * 86400
    finally:
        campaign.close()


@pytest.mark.parametrize("backend", BACKENDS)
def test_small_campaign_end_to_end(tmp_path: Path, backend: str) -> None:
    campaign = local_campaign(small_targets(), tmp_path / "c.sqlite", "small", backend=backend, seed=3)
    campaign.run(max_sim_s=10 * 86400)
    try:
        stats = check_records(campaign.store, "small", table_of(campaign.port.positions()))
        assert stats["targets"] == 3 and stats["experiments"] >= 3
        ops = stats["operations"]
        assert all(op["state"] == "succeeded" for op in ops)
        # every sample went storage -> balance -> clamp -> buffer -> furnace -> parking -> XRD -> done
        purposes = {op["purpose"] for op in ops}
        assert {
            "to_balance",
            "dose",
            "to_mill",
            "mill",
            "stage",
            "load",
            "heat",
            "unload",
            "to_xrd",
            "measure",
            "store",
        } <= purposes
        heats = [op for op in ops if op["action"] == "heat"]
        samples = campaign.store.rows(tables.samples, "small")
        assert len(heats) < len(samples)  # crucibles of one profile shared furnace runs
        with pytest.raises(IntegrityError):  # an experiment can never be recorded twice
            experiment = campaign.engine.experiments[next(iter(campaign.engine.experiments))]
            campaign.store.add_experiment("small", experiment)
    finally:
        campaign.close()


def test_campaign_on_postgresql(postgres_url: str) -> None:
    campaign = local_campaign(small_targets(), postgres_url, "small-pg", seed=3)
    campaign.run(max_sim_s=10 * 86400)
    try:
        check_records(campaign.store, "small-pg", table_of(campaign.port.positions()))
        assert campaign.store.url.startswith("postgresql+psycopg://")
        assert campaign.store.pattern(campaign.store.rows(tables.samples, "small-pg")[0]["id"]) is not None
    finally:
        campaign.close()


def test_estop_suspends_the_campaign_and_it_resumes_after_reset(tmp_path: Path) -> None:
    faults = [(2 * HOUR, lambda lab: lab.estop("test e-stop")), (4 * HOUR, lambda lab: lab.reset())]
    campaign = local_campaign(small_targets(), tmp_path / "c.sqlite", "estop", seed=3, faults=faults)
    campaign.run(max_sim_s=10 * 86400)
    try:
        check_records(campaign.store, "estop", table_of(campaign.port.positions()))
        suspended = events(campaign, "suspend")
        resumed = events(campaign, "resume")
        assert suspended and "e-stop engaged (test e-stop)" in suspended[0]["message"]
        assert resumed and resumed[0]["sim_time"] >= 4 * HOUR
        ops = campaign.store.rows(tables.operations, "estop")
        aborted = [op for op in ops if op["error_code"] == 15]  # ESTOPPED
        assert aborted, "the e-stop aborted running goals"
        started_while_suspended = [
            op for op in ops if suspended[0]["sim_time"] < op["intended_s"] < resumed[0]["sim_time"]
        ]
        assert not started_while_suspended
        # the furnace run the e-stop aborted was heated again after the reset
        for op in aborted:
            if op["action"] == "heat":
                again = [o for o in ops if o["batch_id"] == op["batch_id"] and o["action"] == "heat"]
                assert again[-1]["state"] == "succeeded" and again[-1]["intended_s"] > 4 * HOUR
    finally:
        campaign.close()


def test_furnace_door_fault_suspends_until_cleared(tmp_path: Path) -> None:
    def jam(lab, jammed: bool) -> None:
        lab["furnaces"].devices["furnace_4"].jam_door(jammed)
        if not jammed:
            lab["furnaces"].reset()

    faults = [(0.5 * HOUR, lambda lab: jam(lab, True)), (2 * HOUR, lambda lab: jam(lab, False))]
    campaign = local_campaign(small_targets(), tmp_path / "c.sqlite", "door", seed=3, faults=faults)
    campaign.run(max_sim_s=10 * 86400)
    try:
        check_records(campaign.store, "door", table_of(campaign.port.positions()))
        suspended = events(campaign, "suspend")
        assert any("furnace_4 door fault" in e["message"] for e in suspended)
        assert any(e["sim_time"] >= 2 * HOUR for e in events(campaign, "resume"))
    finally:
        campaign.close()


def test_pause_and_resume(tmp_path: Path) -> None:
    campaign = local_campaign(small_targets(), tmp_path / "c.sqlite", "pause", seed=3)
    engine = campaign.engine
    campaign.faults = [(1 * HOUR, lambda lab: engine.pause("lunch")), (3 * HOUR, lambda lab: engine.resume())]
    campaign.run(max_sim_s=10 * 86400)
    try:
        check_records(campaign.store, "pause", table_of(campaign.port.positions()))
        ops = campaign.store.rows(tables.operations, "pause")
        paused = events(campaign, "pause")[0]["sim_time"]
        resumed = events(campaign, "resume")[0]["sim_time"]
        assert HOUR <= paused < resumed and resumed >= 3 * HOUR
        assert not [op for op in ops if paused < op["intended_s"] < resumed]
    finally:
        campaign.close()


def tight_site(directory: Path) -> Path:
    """Two furnaces of two slots, a 3-slot buffer and a 4-slot done rack: everything fills up."""
    data = yaml.safe_load(data_path("hardware", "default.yaml").read_text())
    data["name"] = "tight"
    data["racks"]["buffer"]["slots"] = 3
    data["racks"]["done"]["slots"] = 4
    data["racks"]["storage"] = {
        "slots": 14,
        "accepts": "crucible",
        "labware": {"kind": "crucible", "prefix": "crucible_", "count": 14},
    }
    furnaces = data["stations"]["furnaces"]["devices"]
    furnaces["furnace_1"] = {**furnaces["furnace_1"], "slots": 2}
    furnaces["furnace_2"] = dict(furnaces["furnace_1"])
    del furnaces["furnace_3"], furnaces["furnace_4"]
    path = directory / "tight.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def test_full_furnaces_and_racks_never_deadlock(tmp_path: Path) -> None:
    profile = [
        {"kind": "ramp", "target_c": 600, "rate_c_per_min": 20},
        {"kind": "dwell", "duration_min": 20},
        {"kind": "cool", "target_c": 190},
    ]
    hot = [dict(profile[0], target_c=800), profile[1], profile[2]]
    targets = parse_targets(
        {
            "targets": [
                {
                    "target": f"Ba{i}TiO3" if i else "BaTiO3",
                    "budget": 1,
                    "recipes": [{"precursors": {"BaCO3": 100.0, "TiO2": 40.0}, "heating": hot if i % 3 else profile}],
                }
                for i in range(10)
            ]
        }
    ).targets
    removed: set[str] = set()

    def technician(lab) -> None:
        """Empties the done rack of stored crucibles every few hours, as a person would."""
        for position in lab.transfer.positions():
            if position.name.startswith("done/") and position.labware is not None and not position.locked_by:
                removed.add(position.labware.labware_id)
                lab.transfer.set_position(position.name, "")

    faults = [(h * HOUR, technician) for h in range(6, 200, 6)]
    campaign = local_campaign(targets, tmp_path / "c.sqlite", "tight", site=tight_site(tmp_path), seed=1, faults=faults)
    campaign.run(max_sim_s=20 * 86400)
    try:
        stats = check_records(campaign.store, "tight", table_of(campaign.port.positions()), frozenset(removed))
        assert stats["samples"] == 10
        waits = [e["message"] for e in events(campaign, "waiting")]
        assert any("done rack full" in w for w in waits) or any("staging rack full" in w for w in waits)
        assert removed, "the done rack filled up and was emptied"
    finally:
        campaign.close()


def crash_at_the_second_target(campaign, monkeypatch) -> None:
    """The store fails (a power cut) while it writes the campaign's second target."""
    real_add_target = campaign.store.add_target
    added = []

    def add_target_then_crash(campaign_id, record):
        if added:
            raise RuntimeError("power cut while the second target was written")
        added.append(record.id)
        real_add_target(campaign_id, record)

    monkeypatch.setattr(campaign.store, "add_target", add_target_then_crash)


def test_a_crash_while_a_campaign_is_created_leaves_no_half_campaign(tmp_path: Path, monkeypatch) -> None:
    """The campaign row and its initial targets commit together: a crash in between writes neither."""
    database = tmp_path / "c.sqlite"
    campaign = local_campaign([], database, "atomic", seed=3)
    try:
        crash_at_the_second_target(campaign, monkeypatch)
        with pytest.raises(RuntimeError, match="power cut"):
            campaign.engine.open(small_targets())
        assert campaign.store.campaign("atomic") is None
        assert campaign.store.rows(tables.targets, "atomic") == []
        assert campaign.store.rows(tables.events, "atomic") == []
    finally:
        campaign.close()
    again = local_campaign([], database, "atomic", seed=3)
    try:
        again.engine.open(small_targets())  # the restart sees a new campaign and writes all of it
        assert again.store.campaign("atomic") is not None
        formulas = [row["formula"] for row in again.store.rows(tables.targets, "atomic")]
        assert formulas == [t.formula for t in small_targets()] and len(formulas) == 3
    finally:
        again.close()


def test_the_in_process_runner_writes_a_new_campaign_with_all_its_targets_at_once(tmp_path: Path, monkeypatch) -> None:
    """`powderlab campaign --lab local`: the targets go into open()'s transaction, not a later loop."""
    campaign = local_campaign(small_targets(), tmp_path / "c.sqlite", "runner", seed=3)
    try:
        assert campaign.store.campaign("runner") is None  # built, not yet run: nothing written
        crash_at_the_second_target(campaign, monkeypatch)
        with pytest.raises(RuntimeError, match="power cut"):
            campaign.run(max_sim_s=3600)
        assert campaign.store.campaign("runner") is None
        assert campaign.store.rows(tables.targets, "runner") == []
    finally:
        campaign.close()
