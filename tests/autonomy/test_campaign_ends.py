"""Campaigns always end: a halt nobody clears aborts the campaign (with its reason, records and
report); with a technician at the dashboard it waits and says what to do. An interrupted campaign
is never resumed on a lab that is not the one that ran it.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from powderlab.autonomy import runner
from powderlab.autonomy import store as tables
from powderlab.autonomy.report import write_report
from powderlab.autonomy.runner import local_campaign
from powderlab.autonomy.summary import campaign_summary
from powderlab.autonomy.targets import load_targets, parse_targets
from powderlab.cli.main import main
from powderlab.core.errors import PowderLabError
from powderlab.core.resources import data_path
from powderlab.stations.base import StationMode

HOUR = 3600.0
QUICK_HEAT = [
    {"kind": "ramp", "target_c": 600, "rate_c_per_min": 20},
    {"kind": "dwell", "duration_min": 20},
    {"kind": "cool", "target_c": 190},
]
JAM_AT_S = 0.5 * HOUR


def small_targets():
    return load_targets(data_path("sim", "campaigns", "default.yaml")).targets


def jam_for_good(lab) -> None:
    """furnace_4's door jams and nobody frees it."""
    lab["furnaces"].devices["furnace_4"].jam_door(True)


def check_intact(store, campaign_id: str) -> None:
    """Aborted records are still whole: nothing duplicated, every settled goal once, the log consistent."""
    samples = store.rows(tables.samples, campaign_id)
    operations = store.rows(tables.operations, campaign_id)
    experiments = store.rows(tables.experiments, campaign_id)
    assert samples and operations
    assert max(Counter(s["labware_id"] for s in samples).values()) == 1
    assert max(Counter((e["target_id"], e["attempt"]) for e in experiments).values()) == 1
    assert len({o["id"] for o in operations}) == len(operations)
    assert all(o["state"] in ("intended", "sent", "succeeded", "failed", "lost") for o in operations)


def test_a_suspension_nobody_clears_aborts_after_the_lab_time_limit(tmp_path: Path) -> None:
    campaign = local_campaign(small_targets(), tmp_path / "c.sqlite", "jam", seed=3, faults=[(JAM_AT_S, jam_for_good)])
    try:
        campaign.run(max_sim_s=30 * 86400)
        engine = campaign.engine
        assert engine.state == "aborted"
        row = campaign.store.campaign("jam")
        assert row["status"] == "aborted"
        # 12 h of lab time after the suspension began (not 30 days: the loop ended)
        suspended_at = next(e for e in campaign.store.rows(tables.events, "jam") if e["kind"] == "suspend")
        assert row["sim_end"] == pytest.approx(suspended_at["sim_time"] + 12 * HOUR, abs=700.0)
        summary = campaign_summary(campaign.store, "jam")
        assert summary["status"] == "aborted"
        assert "furnace_4 door fault" in summary["reason"] and "nobody at the lab" in summary["reason"]
        check_intact(campaign.store, "jam")
        paths = write_report(campaign.store, "jam", tmp_path / "report", plots=False)
        report = json.loads(Path(paths["json"]).read_text())
        assert report["summary"]["status"] == "aborted" and "furnace_4 door fault" in report["summary"]["reason"]
        assert "furnace_4 door fault" in Path(paths["html"]).read_text()
    finally:
        campaign.close()


def test_with_a_technician_at_the_dashboard_a_suspension_waits_and_says_what_to_do(tmp_path: Path) -> None:
    lines = []
    campaign = local_campaign(
        small_targets(),
        tmp_path / "c.sqlite",
        "attended",
        seed=3,
        config={"suspend_limit_sim_s": 4 * HOUR},
        faults=[(JAM_AT_S, jam_for_good)],
        on_progress=lambda p: lines.append(p.line()),
    )
    try:
        campaign.engine.attended = lambda: True
        campaign.run(max_sim_s=12 * HOUR)  # far past the 4 h limit: still waiting
        assert campaign.engine.state == "suspended"
        assert campaign.store.campaign("attended")["status"] == "running"
        assert "waiting for the technician at the dashboard" in lines[-1] and "Reset" in lines[-1]
        # the technician leaves: the countdown starts from then and the line says when it ends
        campaign.engine.attended = lambda: False
        campaign.run(max_sim_s=14 * HOUR)
        assert campaign.engine.state == "suspended"
        assert "furnace_4 door fault" in lines[-1] and "aborting in" in lines[-1] and "if nobody does" in lines[-1]
        campaign.run()
        assert campaign.engine.state == "aborted"
    finally:
        campaign.close()


def test_the_limit_of_wall_time_applies_too(tmp_path: Path, monkeypatch) -> None:
    wall = [1000.0]

    def a_minute_per_look() -> float:
        wall[0] += 60.0
        return wall[0]

    monkeypatch.setattr("powderlab.autonomy.engine._monotonic", a_minute_per_look)
    config = {"suspend_limit_wall_s": 1800.0, "suspend_limit_sim_s": 0.0}
    campaign = local_campaign(
        small_targets(), tmp_path / "c.sqlite", "wall", seed=3, config=config, faults=[(JAM_AT_S, jam_for_good)]
    )
    try:
        campaign.run(max_sim_s=30 * 86400)
        assert campaign.engine.state == "aborted"
        assert "30 min of wall time" in campaign.engine.aborted
        assert campaign.port.now() < 2 * 86400
    finally:
        campaign.close()


def test_campaign_json_with_a_fault_that_never_clears_exits_non_zero_with_the_reason(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    """`powderlab campaign --lab local --json`: furnace_4's door jammed from the start."""
    options = {**runner.A_LAB_MOCK_OPTIONS, "furnaces": {"mock_state": {"furnace_4": {"door_jammed": True}}}}
    monkeypatch.setattr(runner, "A_LAB_MOCK_OPTIONS", options)
    database = tmp_path / "c.sqlite"
    args = ["campaign", "--lab", "local", "--seed", "3", "--database", str(database), "--report", str(tmp_path / "r")]
    args += ["--planner", "fixed", "--analyzer", "standin"]  # the targets file's recipes, stand-in analysis
    code = main([*args, "--no-plots", "--json", "--suspend-limit-sim-s", "7200"])
    out, err = capsys.readouterr()
    assert code == 1
    summary = json.loads(out)
    assert summary["status"] == "aborted"
    assert "furnace_4 door fault" in summary["reason"] and "2 h of lab time" in summary["reason"]
    assert "aborted" in err and "furnace_4 door fault" in err
    assert (tmp_path / "r" / "campaign.json").exists()


def test_an_interrupted_campaign_is_not_resumed_on_a_new_lab(tmp_path: Path, capsys) -> None:
    """The in-process lab ends with its process: the records' samples are not in a new one."""
    database = tmp_path / "c.sqlite"
    campaign = local_campaign(small_targets(), database, "cut", seed=3)
    try:
        campaign.run(max_sim_s=5 * HOUR)  # stops mid-campaign, samples in furnaces
        recorded = campaign.store.rows(tables.operations, "cut")
    finally:
        campaign.close()
    again = local_campaign(small_targets(), database, "cut", seed=3)
    try:
        with pytest.raises(PowderLabError, match=r"lab's clock reads 0 s.*lab was restarted"):
            again.run()
        assert again.store.rows(tables.operations, "cut") == recorded  # nothing written
    finally:
        again.close()
    args = ["campaign", "--lab", "local", "--database", str(database), "--campaign-id", "cut", "--json"]
    args += ["--planner", "fixed", "--analyzer", "standin"]
    assert main([*args, "--report", str(tmp_path / "r")]) == 2
    assert "was interrupted" in capsys.readouterr().err


def test_a_lab_that_takes_long_to_start_is_not_a_suspension_that_aborts(tmp_path: Path) -> None:
    """Stations still starting (a loaded machine at 2000x: days of lab time) count only in wall time."""
    campaign = local_campaign(small_targets(), tmp_path / "c.sqlite", "slow", seed=3)
    port = campaign.port
    real_state = port.lab_state

    def starting_for_a_day():
        state = real_state()
        if port.now() < 24 * HOUR:
            for station in state.stations.values():
                station.mode, station.lifecycle = int(StationMode.INACTIVE), "unconfigured"
        return state

    port.lab_state = starting_for_a_day
    try:
        campaign.run(max_sim_s=10 * 86400)
        assert campaign.engine.state == "finished"
        suspended = [e for e in campaign.store.rows(tables.events, "slow") if e["kind"] == "suspend"]
        assert suspended and "not active (unconfigured)" in suspended[0]["message"]
    finally:
        campaign.close()


def test_a_full_done_rack_nobody_empties_ends_the_campaign(tmp_path: Path) -> None:
    """A stall (nothing in flight, nothing can start) needs a person: with nobody there it aborts."""
    from tests.autonomy.test_campaign_local import tight_site

    many = parse_targets(
        {
            "targets": [
                {
                    "target": f"Ba{i}TiO3" if i else "BaTiO3",
                    "budget": 1,
                    "recipes": [{"precursors": {"BaCO3": 100.0, "TiO2": 40.0}, "heating": QUICK_HEAT}],
                }
                for i in range(8)
            ]
        }
    ).targets
    campaign = local_campaign(many, tmp_path / "c.sqlite", "full", site=tight_site(tmp_path), seed=1)
    try:
        campaign.run(max_sim_s=30 * 86400)
        assert campaign.engine.state == "aborted"
        assert "stalled for 12 h of lab time" in campaign.engine.aborted
        assert "done rack full" in campaign.engine.aborted
        assert campaign.port.now() < 5 * 86400
    finally:
        campaign.close()


def test_an_engine_without_targets_waits_for_them(tmp_path: Path) -> None:
    """The autonomy node up with no campaign yet is idle, not stalled."""
    campaign = local_campaign([], tmp_path / "c.sqlite", "idle", seed=3)
    try:
        campaign.run(max_sim_s=3 * 86400)
        assert campaign.engine.state == "running"
        assert not [e for e in campaign.store.rows(tables.events, "idle") if e["kind"] == "abort"]
    finally:
        campaign.close()


def test_a_stale_copy_of_the_table_does_not_suspend_for_a_crucible_left_in_a_gripper(tmp_path: Path) -> None:
    """The engine's table was read mid-transfer (a crucible in a gripper, no goal of ours holds it): before
    suspending for a crucible left behind it looks again, and the real table has it in its place."""
    campaign = local_campaign(small_targets(), tmp_path / "c.sqlite", "stale", seed=3)
    try:
        engine = campaign.engine
        engine.open([])
        engine._sync_positions(correct=False)
        labware = engine.occupied.pop("storage/1")
        engine.occupied["arm_a/gripper"] = labware  # a stale copy: the transfer has ended since
        engine._check_conditions()
        assert not engine.suspended, engine.suspended
        assert engine.occupied.get("storage/1") == labware
    finally:
        campaign.close()
