"""A station process SIGKILLed in the middle of a campaign's operation (issue 19 item 3, ADR 0102):
respawned by its computer, re-activated by the lab manager, its lost goal found out by the campaign
(re-asked when the station is back) and reconciled; the campaign finishes without losing its sample
or repeating an operation that may have run."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from powderlab.autonomy import store as tables
from powderlab.autonomy.store import Store
from powderlab.bringup.manifest import build_manifest
from powderlab.bringup.session import LabSession
from powderlab.nodes.autonomy_client import AutonomyClient
from tests.autonomy.records import check_records
from tests.ros.test_autonomy import lab_table, station_goals

# A heat of about 2.5 h of lab time (~5 s of wall time at 2000x): long enough to be killed in.
TARGETS = """
targets:
  - target: BaTiO3
    budget: 1
    recipes:
      - precursors: {BaCO3: 394.7, TiO2: 159.7}
        heating: [{kind: ramp, target_c: 600, rate_c_per_min: 20}, {kind: dwell, duration_min: 90},
                  {kind: cool, target_c: 190}]
"""


@pytest.mark.timeout(300)
def test_a_station_killed_mid_heat_is_respawned_and_its_lost_heat_reconciled(tmp_path: Path) -> None:
    database = tmp_path / "campaign.sqlite"
    manifest = build_manifest(
        "mock",
        time_factor=2000.0,
        autonomy={
            "database": str(database),
            "campaign_id": "kill",
            "seed": 3,
            "planner": "fixed",
            "analyzer": "standin",
        },
    )
    run = tmp_path / "run"
    session = LabSession(manifest, run, startup_timeout_s=120.0, respawn=True)
    client = session.start()
    try:
        autonomy = AutonomyClient(client.node)
        assert autonomy.submit_yaml(TARGETS) == ["BaTiO3"]
        deadline = time.monotonic() + 120
        while True:  # until the sample heats
            progress = autonomy.progress(1.0)
            if progress is not None and any(row.stage == "heat" for row in progress.samples):
                break
            assert time.monotonic() < deadline, progress
            time.sleep(0.05)
        old = session.processes.processes["furnaces"].pid
        os.kill(old, signal.SIGKILL)  # the furnace station dies while its furnace heats the sample
        final = autonomy.wait_finished(timeout_s=180)
        assert final.targets_total == 1 and final.targets_made + final.targets_failed == 1
        assert final.samples_total == 1  # the sample was not lost (no second crucible)
        assert session.processes.processes["furnaces"].pid != old  # respawned by its computer
        assert "came back unconfigured" in (run / "lab_manager.log").read_text(errors="replace")
        store = Store(database)
        try:
            events = store.rows(tables.events, "kill")
            kinds = [e["kind"] for e in events]
            unavailable = [e for e in events if e["kind"] == "unavailable"]
            assert unavailable and "furnaces" in unavailable[0]["message"], kinds
            recovery = [e["message"] for e in events if e["kind"] == "recovery"]
            # the port asked the new process for the heat's result; it did not know it: restarted, not "never ran"
            assert any("interrupted: the station restarted" in m for m in recovery), recovery
            assert "available" in kinds[kinds.index("unavailable") :]
            check_records(store, "kill", lab_table(client))
        finally:
            store.close()
        goals = station_goals(run)
        # the mock controller's program died with the process (it runs in it): heated again, once;
        # every other operation ran exactly once
        heats = [g for g in goals if g[1] == "heat"]
        assert len(heats) == 1 and heats[0][3] == "NONE", goals
        for action in ("dose", "mill", "measure_xrd"):
            assert [g[3] for g in goals if g[1] == action] == ["NONE"], (action, goals)
    finally:
        session.stop()
