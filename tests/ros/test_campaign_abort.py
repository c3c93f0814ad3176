"""Through the autonomy node: an e-stop nobody resets aborts the campaign after its limit of lab time."""

from __future__ import annotations

import time
from pathlib import Path

from powderlab.autonomy.store import Store
from powderlab.autonomy.summary import campaign_summary
from powderlab.bringup.manifest import build_manifest
from powderlab.bringup.session import LabSession
from powderlab.core.resources import data_path
from powderlab.nodes.autonomy_client import AutonomyClient


def test_an_estop_nobody_resets_aborts_the_campaign(tmp_path: Path) -> None:
    database = tmp_path / "campaign.sqlite"
    limits = {"suspend_limit_sim_s": 1800.0, "suspend_limit_wall_s": 0.0}
    manifest = build_manifest(
        "mock", time_factor=2000.0, autonomy={"database": str(database), "campaign_id": "stop", **limits}
    )
    session = LabSession(manifest, tmp_path / "run", startup_timeout_s=120.0)
    client = session.start()
    try:
        autonomy = AutonomyClient(client.node)
        autonomy.submit_file(str(data_path("sim", "campaigns", "default.yaml")))
        deadline = time.monotonic() + 60
        while (progress := autonomy.progress(1.0)) is None or not progress.samples_in_flight:
            assert time.monotonic() < deadline, progress
        assert client.estop("test: nobody comes")[0]
        final = autonomy.wait_finished(timeout_s=120)
        assert final.state == "aborted", final
        assert any("e-stop engaged" in r and "0.5 h of lab time" in r for r in final.reasons), final.reasons
    finally:
        session.stop()
    store = Store(database)
    try:
        summary = campaign_summary(store, "stop")
    finally:
        store.close()
    assert summary["status"] == "aborted" and "e-stop engaged (test: nobody comes)" in summary["reason"]
