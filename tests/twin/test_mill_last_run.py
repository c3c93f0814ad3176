"""The twin's mill keeps its last run (start, length, time milled): recovery reads it (ADR 0102)."""

from __future__ import annotations

import pytest

from powderlab.autonomy.port import mill_info
from powderlab.core.site import SiteProfile
from powderlab.twin.world import World


def test_the_twin_mill_reports_its_last_run_in_its_status():
    world = World(SiteProfile.load("default"), mode="kinematic")
    try:
        mill = world.devices["mill"]
        assert mill_info("mill", mill.status().state, mill.status().values).started_s is None  # no run yet
        world.advance(50.0)
        mill.set_clamp(True)
        start = world.time
        mill.start(25.0, 120.0)
        world.advance(30.0)
        run = mill_info("mill", mill.status().state, mill.status().values)
        assert run.running and run.started_s == pytest.approx(start) and run.duration_s == 120.0
        world.advance(100.0)
        run = mill_info("mill", mill.status().state, mill.status().values)
        assert not run.running and run.started_s == pytest.approx(start)
        assert run.elapsed_s == pytest.approx(120.0) and run.duration_s == 120.0  # a whole run: milled
    finally:
        world.close()
