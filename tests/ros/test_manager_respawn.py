"""The lab manager SIGKILLed with the e-stop engaged (issue 19, ADR 0115): it is respawned like the
stations, reports the lab's health again, and the e-stop stays engaged (the new manager publishes
what the one before it kept, never a release over a real engagement) until somebody resets it."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from powderlab_interfaces import msg

from powderlab.bringup.manifest import build_manifest
from powderlab.bringup.processes import ESTOP_FILE
from powderlab.bringup.session import LabSession
from powderlab.nodes.qos import ESTOP_TOPIC, LATCHED


def _seconds(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def _kill_manager(session: LabSession, client) -> float:
    """SIGKILL the lab manager; wait for its respawned successor to report the whole lab active."""
    old = session.processes.processes["lab_manager"].pid
    killed = time.time()
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while True:  # a new manager publishes health again (its stamps are after the kill)
        health = client.health(1.0)
        if health is not None and _seconds(health.stamp) > killed and health.all_active and health.estop_engaged:
            break
        assert time.monotonic() < deadline, health
        time.sleep(0.1)
    assert session.processes.processes["lab_manager"].pid != old  # respawned by its computer
    return killed


@pytest.mark.timeout(180)
def test_a_killed_lab_manager_is_respawned_and_keeps_the_estop_engaged(tmp_path: Path) -> None:
    manifest = build_manifest("mock", time_factor=500.0)
    run = tmp_path / "run"
    session = LabSession(manifest, run, startup_timeout_s=120.0, respawn=True)
    client = session.start()
    try:
        client._subscribe(ESTOP_TOPIC, msg.EStopState)
        heard: list[msg.EStopState] = []  # every e-stop state published (a release in between would show)
        client.node.create_subscription(msg.EStopState, ESTOP_TOPIC, heard.append, LATCHED)
        assert client.estop("test engagement", source="test")[0]
        deadline = time.monotonic() + 20
        while (status := client.status("dosing", 1.0)) is None or status.mode != msg.StationStatus.MODE_ESTOPPED:
            assert time.monotonic() < deadline, status
            time.sleep(0.05)
        killed = _kill_manager(session, client)
        estop = client.latest(ESTOP_TOPIC, 5.0)
        assert estop.engaged and _seconds(estop.stamp) > killed and "test engagement" in estop.reason
        assert all(m.engaged for m in heard if _seconds(m.stamp) > killed), heard
        time.sleep(1.0)  # a release would reach the stations within this
        assert client.status("dosing").mode == msg.StationStatus.MODE_ESTOPPED
        assert '"engaged": true' in (run / ESTOP_FILE).read_text()
        (run / ESTOP_FILE).unlink()  # no file: the next manager learns it from the stations' statuses
        killed = _kill_manager(session, client)
        estop = client.latest(ESTOP_TOPIC, 5.0)
        assert estop.engaged and _seconds(estop.stamp) > killed and "e-stopped" in estop.reason, estop
        assert all(m.engaged for m in heard if _seconds(m.stamp) > killed), heard
        assert client.status("dosing").mode == msg.StationStatus.MODE_ESTOPPED
        ok, text = client.reset(source="test")  # the new manager releases it when asked
        assert ok, text
        deadline = time.monotonic() + 20
        while client.status("dosing").mode == msg.StationStatus.MODE_ESTOPPED:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert not client.latest(ESTOP_TOPIC).engaged
    finally:
        session.stop()
