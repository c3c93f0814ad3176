"""Milling and XRD stations on mock."""

import threading

import pytest

from powderlab.core.errors import ErrorCode
from powderlab.core.recipes import ScanSettings
from powderlab.core.samples import SampleRef
from powderlab.stations.milling import MillRequest
from powderlab.stations.xrd import MeasureRequest
from tests.stations.conftest import move

SAMPLE = SampleRef("S1", "crucible_01")


def test_mill_runs_for_its_duration_and_unclamps(lab):
    move(lab, "crucible_01", "storage/1", "milling/clamp")
    start = lab.clock.now()
    feedback = []
    outcome = lab["milling"].run("mill", MillRequest(SAMPLE, 300.0, 25.0, 2), feedback=feedback.append)
    assert outcome.ok and outcome.result.milled_s == pytest.approx(300.0)
    assert lab.clock.now() - start == pytest.approx(300.0, abs=2.0)
    assert any(f.get("stage") == "milling" and f["elapsed_s"] > 0 for f in feedback)
    state = lab["milling"].mill_device.state()
    assert not state.running and not state.clamp_closed


def test_mill_settings_out_of_range_are_refused(lab):
    move(lab, "crucible_01", "storage/1", "milling/clamp")
    outcome = lab["milling"].run("mill", MillRequest(SAMPLE, 300.0, 60.0, 2))
    assert outcome.code is ErrorCode.OUT_OF_RANGE and "frequency_hz" in outcome.message and "30" in outcome.message


def test_cancel_stops_the_mill_safely(lab):
    move(lab, "crucible_01", "storage/1", "milling/clamp")
    cancel = threading.Event()

    def feedback(fields):
        if fields.get("elapsed_s", 0) > 100:
            cancel.set()

    outcome = lab["milling"].run("mill", MillRequest(SAMPLE, 600.0, 25.0), feedback=feedback, cancel=cancel)
    assert outcome.code is ErrorCode.CANCELED
    state = lab["milling"].mill_device.state()
    assert not state.running and not state.clamp_closed


def test_measure_fetches_scans_and_returns_the_crucible(lab):
    move(lab, "crucible_01", "storage/1", "buffer/1", "S1")
    scan = ScanSettings(10.0, 80.0, 0.02, 480.0)
    outcome = lab["xrd"].run("measure_xrd", MeasureRequest(SAMPLE, "buffer/1", "done/1", scan))
    assert outcome.ok, outcome.message
    pattern = outcome.result.pattern
    assert pattern.sample_id == "S1" and pattern.two_theta_deg.size == scan.point_count
    assert lab.transfer.table.get("done/1").labware.labware_id == "crucible_01"
    assert lab["xrd"].diffractometer.scan_state().loaded_holder == ""


def test_too_little_powder_for_a_holder(lab):
    move(lab, "crucible_01", "storage/1", "xrd/recovery")
    lab["xrd"].diffractometer.sample_mg = 5.0
    outcome = lab["xrd"].run("measure_xrd", MeasureRequest(SAMPLE))
    assert outcome.code is ErrorCode.INSUFFICIENT_STOCK and "min_sample_mg" in outcome.message
