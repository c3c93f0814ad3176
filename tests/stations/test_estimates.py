"""Planned durations (for scheduling) match what the operations take on the station's clock."""

import pytest

from powderlab.core.errors import UnknownResourceError
from powderlab.core.recipes import ScanSettings, a_lab_profile
from powderlab.core.samples import SampleRef
from powderlab.drivers.mock import build_devices
from powderlab.stations.furnace import HeatRequest
from powderlab.stations.milling import MillRequest
from powderlab.stations.xrd import MeasureRequest
from tests.stations.conftest import move

SAMPLE = SampleRef("S1", "crucible_01")


def timed(lab, station, operation, request):
    start = lab.clock.now()
    outcome = lab[station].run(operation, request)
    assert outcome.ok, outcome.message
    return lab.clock.now() - start


def test_heat_mill_and_scan_take_their_planned_time(lab):
    heat = HeatRequest("furnace_1", a_lab_profile(900.0))
    planned = lab["furnaces"].estimate_s("heat", heat)
    assert planned / 3600 == pytest.approx(10.6, abs=0.2)  # the A-Lab profile: about ten and a half hours
    assert timed(lab, "furnaces", "heat", heat) == pytest.approx(planned, rel=0.01)

    move(lab, "crucible_01", "storage/1", "milling/clamp")
    mill = MillRequest(SAMPLE, 1200.0, 25.0)
    assert timed(lab, "milling", "mill", mill) == pytest.approx(1200.0, abs=2.0)
    assert lab["milling"].estimate_s("mill", mill) == pytest.approx(1210.0)

    move(lab, "crucible_01", "milling/clamp", "xrd/recovery")
    scan = MeasureRequest(SAMPLE, scan=ScanSettings(10.0, 100.0, 0.02, 480.0))
    actual = timed(lab, "xrd", "measure_xrd", scan)
    assert actual == pytest.approx(60.0 + 480.0, abs=5.0)  # grind + scan on the mock
    assert lab["xrd"].estimate_s("measure_xrd", scan) == pytest.approx(60.0 + 480.0 + 60.0)


def test_mock_state_names_unknown_devices_and_keys(lab):
    station = lab.site.station("dosing")
    with pytest.raises(UnknownResourceError) as device:
        build_devices(station, lab.clock, {"mock_state": {"scale": {}}})
    assert "balance" in str(device.value)
    with pytest.raises(UnknownResourceError) as key:
        build_devices(station, lab.clock, {"mock_state": {"balance": {"wobbly": True}}})
    assert "unstable" in str(key.value)
