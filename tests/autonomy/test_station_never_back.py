"""A station that never comes back ends the campaign like a suspension nobody clears (issue 19, ADR 0115):
its work waits up to the suspension limit, then the campaign is aborted with the station named; a
person at the dashboard is waited for instead."""

from __future__ import annotations

from pathlib import Path

import pytest

from powderlab.autonomy import store as tables
from powderlab.core.samples import SampleStatus
from tests.autonomy.scheduler_states import CID, World
from tests.autonomy.test_station_loss import engine_on, station_port

HOUR = 3600.0


@pytest.fixture
def wall(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The engine's wall clock, moved by hand (a station lost for less than a minute of it is not counted)."""
    now = [1000.0]
    monkeypatch.setattr("powderlab.autonomy.engine._monotonic", lambda: now[0])
    return now


def dose_waiting(w: World) -> None:
    w.sample(w.experiment(w.target()), "dosing/balance")


def test_a_station_that_never_comes_back_aborts_the_campaign_after_the_limit(tmp_path: Path, wall) -> None:
    engine, w, store = engine_on(tmp_path, dose_waiting)
    try:
        engine.config.suspend_limit_sim_s, engine.config.suspend_limit_wall_s = 8 * HOUR, 0.0
        engine.port.lab_state = station_port(w, dosing=False).lab_state
        engine.step()
        assert engine.state == "running" and "dosing" in engine.campaign.unavailable
        w.clock.t += 9 * HOUR  # a fast lab clock: hours within seconds of wall time (a respawn) do not count
        wall[0] += 10.0
        engine.step()
        assert not engine.aborted
        wall[0] += 120.0
        engine.step()
        assert "unavailable for 8 h of lab time" in engine.aborted and "station dosing" in engine.aborted
        assert store.campaign(CID)["status"] == "aborted"
        sample = next(iter(engine.samples.values()))
        assert sample.status is SampleStatus.PLANNED and not sample.closed  # recorded, not lost
        assert any(e["kind"] == "abort" for e in store.rows(tables.events, CID))
    finally:
        store.close()


def test_a_station_back_in_time_or_a_person_at_the_lab_keeps_the_campaign_going(tmp_path: Path, wall) -> None:
    engine, w, store = engine_on(tmp_path, dose_waiting)
    try:
        engine.config.suspend_limit_sim_s, engine.config.suspend_limit_wall_s = 4 * HOUR, 0.0
        engine.port.lab_state = station_port(w, dosing=False).lab_state
        engine.step()
        w.clock.t += 3 * HOUR
        engine.port.lab_state = station_port(w).lab_state  # back: its loss no longer counts
        engine.step()
        assert not engine.campaign.unavailable and not engine.campaign.suspend_hint
        engine.port.lab_state = station_port(w, dosing=False).lab_state  # lost again: counted afresh
        engine.step()
        w.clock.t += 3 * HOUR
        wall[0] += 120.0
        engine.step()
        assert not engine.aborted and "bring the station back" in engine.campaign.suspend_hint
        engine.attended = lambda: True
        w.clock.t += 10 * HOUR
        wall[0] += 120.0
        engine.step()
        assert not engine.aborted and "waiting for the technician" in engine.campaign.suspend_hint
    finally:
        store.close()
