"""The operation registry: one declaration per operation, the records' plain data derived from it (ADR 0088)."""

import dataclasses

import numpy as np
import pytest

from powderlab.core.errors import ErrorCode, UnknownResourceError, ValidationError
from powderlab.core.recipes import HeatingProfile, PowderDose, ScanSettings
from powderlab.core.samples import SampleRef
from powderlab.core.xrd import XrdPattern
from powderlab.stations.dosing import (
    DoseRecord,
    DoseRequest,
    DoseResult,
    LoadVialRequest,
    LoadVialResult,
    WeighRequest,
    WeighResult,
)
from powderlab.stations.factory import STATION_CLASSES
from powderlab.stations.furnace import HeatRequest, HeatResult, LoadRequest, LoadResult, UnloadRequest, UnloadResult
from powderlab.stations.milling import MillRequest, MillResult
from powderlab.stations.operations import OPERATIONS, operation, operation_of
from powderlab.stations.transfer import TransferRequest, TransferResult
from powderlab.stations.xrd import MeasureRequest, MeasureResult
from tests.stations.conftest import move

SAMPLE = SampleRef("S1", "crucible_01")
PROFILE = HeatingProfile.from_list(
    [{"kind": "ramp", "target_c": 900, "rate_c_per_min": 10}, {"kind": "dwell", "duration_min": 240}]
)

# One request and one result of every operation (the test fails when an operation has none here).
EXAMPLES = {
    "dose": (
        DoseRequest(SAMPLE, (PowderDose("Li2CO3", 377.5), PowderDose("Co3O4", 820.2)), "", 0.02, 0.0),
        DoseResult([DoseRecord("Li2CO3", 377.5, 377.1, True, True), DoseRecord("Co3O4", 820.2, 12.0)]),
    ),
    "weigh": (WeighRequest(SAMPLE), WeighResult(15123.4)),
    "load_vial": (LoadVialRequest("FePO4", "In2O3"), LoadVialResult("FePO4", 27, 30000.0, "In2O3", 48800.5, 12)),
    "mill": (MillRequest(SAMPLE, 600.0, 25.0, 4), MillResult(600.0)),
    "transfer": (
        TransferRequest(SAMPLE, "storage/1", "dosing/balance"),
        TransferResult(["arm_a"], ["storage/1", "dosing/balance"]),
    ),
    "load_furnace": (LoadRequest(SAMPLE, "buffer/2", "furnace_1", 3), LoadResult("furnace_1", 3, "furnace_1/slot_3")),
    "unload_furnace": (UnloadRequest(SAMPLE, "done/1"), UnloadResult("furnace_1", "furnace_1/slot_3")),
    "heat": (HeatRequest("furnace_1", PROFILE), HeatResult(901.5, 36000.0, 99.0)),
    "measure_xrd": (
        MeasureRequest(SAMPLE, "xrd/recovery", "done/2", ScanSettings(10.0, 80.0, 0.02, 300.0)),
        MeasureResult(XrdPattern(np.linspace(10, 80, 50), np.ones(50)), 21.5, "holder_3"),
    ),
}


def test_every_operation_has_an_example():
    assert set(EXAMPLES) == set(OPERATIONS)


def test_the_registry_and_the_stations_agree():
    served = {op: kind for kind, cls in STATION_CLASSES.items() for op in cls.operations}
    assert served == {name: op.station_kind for name, op in OPERATIONS.items()}
    for op in OPERATIONS.values():
        assert dataclasses.is_dataclass(op.request) and dataclasses.is_dataclass(op.result), op.name
        assert op.action_type.startswith("powderlab_interfaces/action/"), op.name


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_requests_and_results_round_trip_through_the_records(name):
    op = OPERATIONS[name]
    request, result = EXAMPLES[name]
    assert operation_of(request) is op
    data = op.request_to_data(request)
    assert op.request_from_data(data) == request
    stored = op.result_to_data(result)
    back = op.result_from_data(stored)
    assert op.result_to_data(back) == stored
    if name == "measure_xrd":  # the pattern is stored on its own, never in the result data
        assert "pattern" not in stored and back.pattern is None and op.pattern(result) is result.pattern
    else:
        assert back == result


def test_the_stored_form_is_the_records_form():
    """sample_id/labware_id flat, profiles as segment lists, derived totals kept, no pattern."""
    dose = OPERATIONS["dose"]
    data = dose.request_to_data(EXAMPLES["dose"][0])
    assert data["sample_id"] == "S1" and data["labware_id"] == "crucible_01" and "sample" not in data
    assert data["powders"] == [{"powder": "Li2CO3", "target_mg": 377.5}, {"powder": "Co3O4", "target_mg": 820.2}]
    assert dose.result_to_data(EXAMPLES["dose"][1])["total_mg"] == pytest.approx(389.1)
    heat = OPERATIONS["heat"].request_to_data(EXAMPLES["heat"][0])
    assert heat == {"furnace": "furnace_1", "profile": PROFILE.to_list()}
    assert OPERATIONS["measure_xrd"].result_to_data(EXAMPLES["measure_xrd"][1]) == {
        "sample_mg": 21.5,
        "holder_id": "holder_3",
    }
    assert OPERATIONS["mill"].result_to_data(None) == {} and OPERATIONS["mill"].result_from_data({}) is None


def test_goals_recorded_before_the_registry_still_read():
    """Records written by earlier versions (fewer keys) read with the fields' defaults."""
    old = {
        "dose": {"sample_id": "S1", "labware_id": "c1", "powders": [{"powder": "Li2CO3", "target_mg": 377}]},
        "mill": {"sample_id": "S1", "labware_id": "c1", "duration_s": 600, "frequency_hz": 25.0, "ball_count": 4},
        "measure_xrd": {"sample_id": "S1", "labware_id": "c1", "source": "xrd/recovery", "destination": "", "scan": {}},
    }
    dose = OPERATIONS["dose"].request_from_data(old["dose"])
    assert dose == DoseRequest(SampleRef("S1", "c1"), (PowderDose("Li2CO3", 377.0),))
    assert OPERATIONS["mill"].request_from_data(old["mill"]).position == ""
    assert OPERATIONS["measure_xrd"].request_from_data(old["measure_xrd"]).scan is None


def test_bad_data_names_the_operation_and_the_field():
    with pytest.raises(ValidationError, match=r"transfer goal.*'destination'"):
        OPERATIONS["transfer"].request_from_data({"sample_id": "S1", "source": "storage/1"})
    with pytest.raises(ValidationError, match=r"mill goal: duration_s.*not a float"):
        OPERATIONS["mill"].request_from_data({"duration_s": "long", "frequency_hz": 25})
    with pytest.raises(ValidationError, match="the dose request is a DoseRequest"):
        OPERATIONS["dose"].request_to_data(EXAMPLES["mill"][0])
    with pytest.raises(UnknownResourceError, match="regrind"):
        operation("regrind")


def test_weigh_reports_the_gross_mass_on_the_balance(lab):
    """The operation added through the registry: dose, then weigh what the crucible holds."""
    move(lab, "crucible_01", "storage/1", "dosing/balance")
    dosing = lab["dosing"]
    dosed = dosing.run("dose", DoseRequest(SAMPLE, (PowderDose("Li2CO3", 377.5),)))
    assert dosed.ok, dosed.message
    weighed = dosing.run("weigh", WeighRequest(SAMPLE))
    assert weighed.ok, weighed.message
    assert weighed.result.mass_mg == pytest.approx(dosed.result.total_mg, abs=0.05)
    assert "mg on the balance" in weighed.message
    assert dosing.estimate_s("weigh", WeighRequest(SAMPLE)) > 0
    wrong = dosing.run("weigh", WeighRequest(SampleRef("S1", "crucible_02")))
    assert wrong.code is ErrorCode.WRONG_LABWARE
