"""Messages <-> the plain-Python types of powderlab.core and powderlab.stations."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import KeyValue
from powderlab_interfaces import action as actions
from powderlab_interfaces import msg

from powderlab.core.positions import PositionSnapshot
from powderlab.core.recipes import HeatingProfile, HeatingSegment, PowderDose, ScanSettings, SegmentKind
from powderlab.core.samples import SampleRef
from powderlab.core.xrd import XrdPattern
from powderlab.drivers.base import DeviceStatus
from powderlab.stations.base import StationStatusData
from powderlab.stations.dosing import DoseRequest, DoseResult
from powderlab.stations.furnace import (
    FurnaceReading,
    HeatRequest,
    HeatResult,
    LoadRequest,
    LoadResult,
    UnloadRequest,
    UnloadResult,
)
from powderlab.stations.milling import MillRequest, MillResult
from powderlab.stations.transfer import TransferRequest, TransferResult
from powderlab.stations.xrd import MeasureRequest, MeasureResult

SEGMENT_KINDS = {
    msg.HeatingSegment.RAMP: SegmentKind.RAMP,
    msg.HeatingSegment.DWELL: SegmentKind.DWELL,
    msg.HeatingSegment.COOL: SegmentKind.COOL,
}
SEGMENT_CODES = {kind: code for code, kind in SEGMENT_KINDS.items()}


def stamp(seconds: float) -> Time:
    whole = math.floor(seconds)
    return Time(sec=int(whole), nanosec=int((seconds - whole) * 1e9))


# --- shared messages ---


def sample_from_msg(message: msg.SampleRef) -> SampleRef:
    return SampleRef(message.sample_id, message.labware_id)


def sample_to_msg(sample: SampleRef) -> msg.SampleRef:
    return msg.SampleRef(sample_id=sample.sample_id, labware_id=sample.labware_id)


def position_to_msg(position: PositionSnapshot) -> msg.PositionState:
    return msg.PositionState(
        name=position.name,
        kind=position.kind,
        state=int(position.state),
        labware_id=position.labware.labware_id if position.labware else "",
        labware_kind=position.labware.kind.value if position.labware else "",
        sample_id=position.sample_id,
        locked_by=position.locked_by,
    )


def profile_from_msgs(segments: list[msg.HeatingSegment]) -> HeatingProfile:
    return HeatingProfile(
        tuple(
            HeatingSegment(
                SEGMENT_KINDS.get(s.kind, s.kind), s.target_c, s.rate_c_per_min, s.duration_min
            )  # an unknown kind fails in HeatingSegment with the allowed kinds
            for s in segments
        )
    )


def profile_to_msgs(profile: HeatingProfile) -> list[msg.HeatingSegment]:
    return [
        msg.HeatingSegment(
            kind=SEGMENT_CODES[s.kind],
            target_c=float(s.target_c),
            rate_c_per_min=float(s.rate_c_per_min),
            duration_min=float(s.duration_min),
        )
        for s in profile.segments
    ]


def scan_from_msg(message: msg.XrdScanSettings) -> ScanSettings | None:
    if not any((message.two_theta_start_deg, message.two_theta_end_deg, message.step_deg, message.scan_time_s)):
        return None
    return ScanSettings(message.two_theta_start_deg, message.two_theta_end_deg, message.step_deg, message.scan_time_s)


def scan_to_msg(settings: ScanSettings | None) -> msg.XrdScanSettings:
    if settings is None:
        return msg.XrdScanSettings()
    return msg.XrdScanSettings(
        two_theta_start_deg=settings.two_theta_start_deg,
        two_theta_end_deg=settings.two_theta_end_deg,
        step_deg=settings.step_deg,
        scan_time_s=settings.scan_time_s,
    )


def pattern_to_msg(pattern: XrdPattern, now_s: float) -> msg.XrdPattern:
    return msg.XrdPattern(
        stamp=stamp(now_s),
        sample_id=pattern.sample_id,
        holder_id=pattern.holder_id,
        instrument=pattern.instrument,
        wavelength_angstrom=float(pattern.wavelength_angstrom),
        settings=scan_to_msg(pattern.settings),
        two_theta_deg=pattern.two_theta_deg.astype(float).tolist(),
        intensity=pattern.intensity.astype(float).tolist(),
    )


def pattern_from_msg(message: msg.XrdPattern) -> XrdPattern:
    return XrdPattern(
        list(message.two_theta_deg),
        list(message.intensity),
        message.wavelength_angstrom,
        scan_from_msg(message.settings),
        message.sample_id,
        message.holder_id,
        message.instrument,
    )


def device_status_to_msg(status: DeviceStatus) -> msg.DeviceStatus:
    return msg.DeviceStatus(
        name=status.name,
        kind=status.kind,
        connected=status.connected,
        state=status.state,
        fault_code=int(status.fault_code),
        fault=status.fault,
        values=[KeyValue(key=k, value=str(v)) for k, v in status.values.items()],
    )


def furnace_to_msg(reading: FurnaceReading) -> msg.FurnaceState:
    return msg.FurnaceState(
        name=reading.name,
        door=int(reading.door),
        temperature_c=float(reading.temperature_c),
        setpoint_c=float(reading.setpoint_c),
        heater_on=reading.heater_on,
        program_running=reading.program_running,
        segment_index=reading.segment_index,
        slot_count=reading.slot_count,
        slots_occupied=reading.slots_occupied,
    )


def status_to_msg(
    status: StationStatusData, lifecycle_state: str, now_s: float, furnaces: list[FurnaceReading] | None = None
) -> msg.StationStatus:
    return msg.StationStatus(
        stamp=stamp(now_s),
        station=status.station,
        kind=status.kind,
        lifecycle_state=lifecycle_state,
        mode=int(status.mode),
        operation=status.operation,
        goal_id=status.operation_id,
        sample=sample_to_msg(status.sample),
        message=status.message,
        devices=[device_status_to_msg(d) for d in status.devices],
        furnaces=[furnace_to_msg(f) for f in furnaces or []],
    )


# --- actions ---


def _dose_result(result: Any, data: DoseResult | None) -> None:
    if data is None:
        return
    result.doses = [
        msg.PowderDose(
            powder=d.powder,
            target_mg=d.target_mg,
            actual_mg=d.actual_mg,
            within_tolerance=d.within_tolerance,
            complete=d.complete,
        )
        for d in data.doses
    ]
    result.total_mg = float(data.total_mg)


def _mill_result(result: Any, data: MillResult | None) -> None:
    if data is not None:
        result.milled_s = float(data.milled_s)


def _transfer_result(result: Any, data: TransferResult | None) -> None:
    if data is not None:
        result.arms, result.path = list(data.arms), list(data.path)


def _load_result(result: Any, data: LoadResult | None) -> None:
    if data is not None:
        result.furnace, result.slot, result.position = data.furnace, data.slot, data.position


def _unload_result(result: Any, data: UnloadResult | None) -> None:
    if data is not None:
        result.furnace, result.source = data.furnace, data.source


def _heat_result(result: Any, data: HeatResult | None) -> None:
    if data is not None:
        result.max_temperature_c = float(data.max_temperature_c)
        result.duration_s = float(data.duration_s)
        result.final_temperature_c = float(data.final_temperature_c)


@dataclass(frozen=True)
class ActionBinding:
    """How one station operation is served as a ROS action."""

    name: str
    action_type: type
    to_request: Callable[[Any], Any]
    fill_result: Callable[[Any, Any], None]


def _measure_result_filler(now: Callable[[], float]) -> Callable[[Any, MeasureResult | None], None]:
    def fill(result: Any, data: MeasureResult | None) -> None:
        if data is not None:
            result.pattern = pattern_to_msg(data.pattern, now())
            result.sample_mg, result.holder_id = float(data.sample_mg), data.holder_id

    return fill


def bindings(now: Callable[[], float]) -> dict[str, ActionBinding]:
    """Every station operation's action: name, type, goal -> request, result filler."""
    return {
        "dose": ActionBinding(
            "dose",
            actions.Dose,
            lambda g: DoseRequest(
                sample_from_msg(g.sample),
                tuple(PowderDose(p.powder, p.target_mg) for p in g.powders),
                g.position,
                g.tolerance_rel,
                g.tolerance_abs_mg,
            ),
            _dose_result,
        ),
        "mill": ActionBinding(
            "mill",
            actions.Mill,
            lambda g: MillRequest(sample_from_msg(g.sample), g.duration_s, g.frequency_hz, g.ball_count, g.position),
            _mill_result,
        ),
        "transfer": ActionBinding(
            "transfer",
            actions.Transfer,
            lambda g: TransferRequest(sample_from_msg(g.sample), g.source, g.destination),
            _transfer_result,
        ),
        "load_furnace": ActionBinding(
            "load_furnace",
            actions.LoadFurnace,
            lambda g: LoadRequest(sample_from_msg(g.sample), g.source, g.furnace, g.slot),
            _load_result,
        ),
        "unload_furnace": ActionBinding(
            "unload_furnace",
            actions.UnloadFurnace,
            lambda g: UnloadRequest(sample_from_msg(g.sample), g.destination),
            _unload_result,
        ),
        "heat": ActionBinding(
            "heat", actions.Heat, lambda g: HeatRequest(g.furnace, profile_from_msgs(list(g.profile))), _heat_result
        ),
        "measure_xrd": ActionBinding(
            "measure_xrd",
            actions.MeasureXrd,
            lambda g: MeasureRequest(sample_from_msg(g.sample), g.source, g.destination, scan_from_msg(g.scan)),
            _measure_result_filler(now),
        ),
    }


def fill_feedback(feedback: Any, fields: dict[str, Any]) -> Any:
    """Copy the fields a feedback message has; ignore the rest."""
    for key, value in fields.items():
        if not hasattr(feedback, key):
            continue
        current = getattr(feedback, key)
        if isinstance(current, bool):
            setattr(feedback, key, bool(value))
        elif isinstance(current, float):
            setattr(feedback, key, float(value))
        elif isinstance(current, int):
            setattr(feedback, key, int(value))
        else:
            setattr(feedback, key, str(value) if isinstance(current, str) else value)
    return feedback
