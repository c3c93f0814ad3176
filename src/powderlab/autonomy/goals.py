"""Operation goals as plain data (stored in the records) <-> the stations' request and result types."""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from typing import Any

from powderlab.core.errors import UnknownResourceError
from powderlab.core.recipes import HeatingProfile, PowderDose, ScanSettings
from powderlab.core.samples import SampleRef
from powderlab.stations.dosing import DoseRequest
from powderlab.stations.furnace import HeatRequest, LoadRequest, UnloadRequest
from powderlab.stations.milling import MillRequest
from powderlab.stations.transfer import TransferRequest
from powderlab.stations.xrd import MeasureRequest, MeasureResult


def sample_ref(goal: dict[str, Any]) -> SampleRef:
    return SampleRef(goal.get("sample_id", ""), goal.get("labware_id", ""))


def to_request(action: str, goal: dict[str, Any]) -> Any:
    """The station request of a stored goal."""
    if action == "transfer":
        return TransferRequest(sample_ref(goal), goal["source"], goal["destination"])
    if action == "dose":
        return DoseRequest(sample_ref(goal), tuple(PowderDose(p["powder"], p["target_mg"]) for p in goal["powders"]))
    if action == "mill":
        return MillRequest(sample_ref(goal), goal["duration_s"], goal["frequency_hz"], int(goal["ball_count"]))
    if action == "load_furnace":
        return LoadRequest(sample_ref(goal), goal["source"], goal.get("furnace", ""), int(goal.get("slot", -1)))
    if action == "unload_furnace":
        return UnloadRequest(sample_ref(goal), goal["destination"])
    if action == "heat":
        return HeatRequest(goal["furnace"], HeatingProfile.from_list(goal["profile"]))
    if action == "measure_xrd":
        scan = goal.get("scan")
        return MeasureRequest(
            sample_ref(goal),
            goal.get("source", ""),
            goal.get("destination", ""),
            ScanSettings(**scan) if scan else None,
        )
    raise UnknownResourceError(
        "action", action, ["transfer", "dose", "mill", "load_furnace", "unload_furnace", "heat", "measure_xrd"]
    )


def result_to_dict(result: Any) -> dict[str, Any]:
    """A station result as plain data (the pattern of a measurement travels separately)."""
    if result is None:
        return {}
    if isinstance(result, MeasureResult):
        return {"sample_mg": float(result.sample_mg), "holder_id": result.holder_id}
    if is_dataclass(result):
        data = asdict(result)
        if hasattr(result, "total_mg"):
            data["total_mg"] = float(result.total_mg)
        return data
    return {}
