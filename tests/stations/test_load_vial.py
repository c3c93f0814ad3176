"""load_vial: the dosing station swaps a stored powder vial onto a dosing head (ADR 0106), mock backend."""

import pytest

from powderlab.core.errors import ErrorCode
from powderlab.core.recipes import PowderDose
from powderlab.core.samples import SampleRef
from powderlab.stations.dosing import DoseRequest, LoadVialRequest
from powderlab.stations.lab import LocalLab
from tests.stations.conftest import move
from tests.store_site import store_site

SAMPLE = SampleRef("S1", "crucible_01")


@pytest.fixture
def lab():
    lab = LocalLab(store_site())
    yield lab
    lab.close()


def test_a_stored_powder_is_loaded_onto_a_head_and_then_dosed(lab):
    dosing = lab["dosing"]
    dispenser = dosing.dispenser
    move(lab, "crucible_01", "storage/1", "dosing/balance")
    not_yet = dosing.run("dose", DoseRequest(SAMPLE, (PowderDose("FePO4", 300.0),)))
    assert not_yet.code is ErrorCode.UNKNOWN_RESOURCE  # on no head: the station cannot dose it
    index = dispenser.head_for("In2O3").index

    loaded = dosing.run("load_vial", LoadVialRequest("FePO4", replace="In2O3"))

    assert loaded.ok, loaded.message
    result = loaded.result
    assert (result.powder, result.head, result.stock_mg) == ("FePO4", index, 30000.0)
    assert (result.returned_powder, result.returned_stock_mg, result.slot) == ("In2O3", 50000.0, 2)
    assert dispenser.head_for("FePO4").index == index and len(dispenser.heads()) == 28
    assert [(v.slot, v.powder) for v in dispenser.store()] == [(1, "Li3PO4"), (2, "In2O3"), (7, "Mn2O3")]
    assert "FePO4 on head" in loaded.message and "In2O3 back to store slot 2" in loaded.message
    dosed = dosing.run("dose", DoseRequest(SAMPLE, (PowderDose("FePO4", 300.0),)))
    assert dosed.ok, dosed.message
    assert dispenser.head_for("FePO4").remaining_mg == pytest.approx(30000.0 - dosed.result.total_mg)
    assert dosing.estimate_s("load_vial", LoadVialRequest("Li3PO4")) == 60.0


def test_without_replace_the_head_with_the_least_stock_goes_back(lab):
    dosing = lab["dosing"]
    dosing.dispenser.set_stock("ZnO", 10.0)
    loaded = dosing.run("load_vial", LoadVialRequest("Mn2O3"))
    assert loaded.ok, loaded.message
    assert (loaded.result.returned_powder, loaded.result.slot) == ("ZnO", 7)


def test_load_vial_refuses_what_the_store_lacks_or_a_head_holds(lab):
    dosing = lab["dosing"]
    missing = dosing.run("load_vial", LoadVialRequest("Unobtainium2O3", replace="ZnO"))
    assert missing.code is ErrorCode.UNKNOWN_RESOURCE and "Li3PO4" in missing.message  # names what is stored
    assert dosing.dispenser.head_for("ZnO")  # nothing was swapped
    twice = dosing.run("load_vial", LoadVialRequest("Li2CO3"))
    assert twice.code is ErrorCode.INVALID_GOAL and "already on a dosing head" in twice.message
    unknown_head = dosing.run("load_vial", LoadVialRequest("FePO4", replace="Gold"))
    assert unknown_head.code is ErrorCode.UNKNOWN_RESOURCE and "Li2CO3" in unknown_head.message
