"""The campaign report links the campaign's recordings (events of kind 'recording', ADR 0093)."""

from __future__ import annotations

import json
from pathlib import Path

from powderlab.autonomy.report import write_report
from powderlab.autonomy.store import Store


def test_the_report_links_each_recording_beside_it_and_says_when_one_is_missing(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "campaign.sqlite"))
    try:
        store.create_campaign("c1", "c1", 0, {}, 0.0)
        (tmp_path / "recording.mcap").write_bytes(b"\0" * 2048)  # a single file (before ADR 0108)
        store.event("c1", "recording", str(tmp_path / "recording.mcap"), 0.0)
        bag = tmp_path / "recording"  # a bag folder (ADR 0108): its size is its files'
        bag.mkdir()
        (bag / "recording_0.mcap").write_bytes(b"\0" * 1000)
        (bag / "metadata.yaml").write_text("x" * 24)
        store.event("c1", "recording", str(bag), 2.0)
        store.event("c1", "recording", "/elsewhere/recording-1.mcap", 5.0)  # a restart, on another computer
        paths = write_report(store, "c1", tmp_path, plots=False)
    finally:
        store.close()
    recordings = json.loads(paths["json"].read_text())["recordings"]
    assert recordings == [
        {"path": str(tmp_path / "recording.mcap"), "link": "recording.mcap", "bytes": 2048},
        {"path": str(bag), "link": "recording/", "bytes": 1024},
        {"path": "/elsewhere/recording-1.mcap", "link": "file:///elsewhere/recording-1.mcap", "bytes": None},
    ]
    page = paths["html"].read_text()
    assert "<a class='recording' href='recording.mcap'>" in page
    assert "<a class='recording' href='recording/'>" in page
    assert "href='file:///elsewhere/recording-1.mcap'>/elsewhere/recording-1.mcap</a> (missing)" in page


def test_a_campaign_without_recording_says_so(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "campaign.sqlite"))
    try:
        store.create_campaign("c2", "c2", 0, {}, 0.0)
        paths = write_report(store, "c2", tmp_path, plots=False)
    finally:
        store.close()
    assert json.loads(paths["json"].read_text())["recordings"] == []
    assert "No recording" in paths["html"].read_text()
