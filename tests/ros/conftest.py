"""A real lab (one process per node, mock backend, fast sim time) shared by a test module."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from powderlab_interfaces import action as actions
from powderlab_interfaces import msg

from powderlab.bringup.manifest import build_manifest
from powderlab.bringup.session import LabSession
from powderlab.core.recipes import HeatingProfile, HeatingSegment, SegmentKind
from powderlab.nodes.conversions import profile_to_msgs

TIME_FACTOR = 500.0
SHORT_PROFILE = HeatingProfile(
    (
        HeatingSegment(SegmentKind.RAMP, target_c=250.0, rate_c_per_min=20.0),
        HeatingSegment(SegmentKind.DWELL, duration_min=5.0),
        HeatingSegment(SegmentKind.COOL, target_c=190.0),
    )
)
LONG_PROFILE = HeatingProfile(
    (
        HeatingSegment(SegmentKind.RAMP, target_c=900.0, rate_c_per_min=5.0),
        HeatingSegment(SegmentKind.DWELL, duration_min=600.0),
    )
)


@pytest.fixture(scope="module")
def lab_session(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("lab")
    manifest = build_manifest("mock", time_factor=TIME_FACTOR, state_dir=run_dir)
    session = LabSession(manifest, run_dir, startup_timeout_s=120.0)
    session.start()
    yield session
    codes = session.stop()
    assert all(code is not None for code in codes.values())


@pytest.fixture
def client(lab_session):
    return lab_session.client


def sample(labware: str, sample_id: str = "") -> msg.SampleRef:
    return msg.SampleRef(sample_id=sample_id, labware_id=labware)


def transfer_goal(labware: str, source: str, destination: str) -> actions.Transfer.Goal:
    return actions.Transfer.Goal(sample=sample(labware), source=source, destination=destination)


def heat_goal(furnace: str, profile: HeatingProfile = SHORT_PROFILE) -> actions.Heat.Goal:
    return actions.Heat.Goal(furnace=furnace, profile=profile_to_msgs(profile))


def processes_with(text: str) -> list[int]:
    """PIDs of live processes whose command line contains text."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().split(")")[-1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            pids.append(int(entry.name))
    return pids


def mock_state(**devices: dict) -> dict[str, str]:
    """backend_options that put the mock devices of a station into a given state."""
    return {"backend_options": json.dumps({"mock_state": devices})}
