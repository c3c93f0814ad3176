"""Messages <-> the plain-Python types of powderlab.core and powderlab.stations."""

from __future__ import annotations

import dataclasses
import importlib
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import KeyValue
from powderlab_interfaces import msg

from powderlab.core.errors import UnknownResourceError
from powderlab.core.positions import PositionSnapshot
from powderlab.core.recipes import HeatingProfile, HeatingSegment, ScanSettings, SegmentKind
from powderlab.core.samples import SampleRef
from powderlab.core.xrd import XrdPattern
from powderlab.drivers.base import DeviceStatus
from powderlab.stations.base import StationStatusData
from powderlab.stations.furnace import FurnaceReading
from powderlab.stations.operations import OPERATIONS, Operation, field_types, operation_of, optional_of

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


# --- operations: goals and results, derived from the registry (ADR 0088) ---


def action_type(operation: Operation) -> type:
    """The action class named by an operation's interface ("powderlab_interfaces/action/Dose")."""
    package, kind, name = operation.action_type.split("/")
    module = importlib.import_module(f"{package}.{kind}")
    if not hasattr(module, name):  # declared in the registry, its interface file not built here yet
        raise UnknownResourceError(
            f"ROS interface of operation '{operation.name}' ({operation.action_type}: build it with "
            "`make setup` or tools/build_interfaces.py)",
            name,
            [n for n in dir(module) if n[:1].isupper() and "_" not in n],
        )
    return getattr(module, name)


def message_type(ros_type: str) -> type:
    """The message class of a field type as get_fields_and_field_types() spells it ("pkg/Name")."""
    package, name = ros_type.split("/")
    return getattr(importlib.import_module(f"{package}.msg"), name)


def _pattern_from_msg(message: msg.XrdPattern) -> XrdPattern | None:
    return pattern_from_msg(message) if len(message.two_theta_deg) else None  # a failed measurement has none


class MessageCodec:
    """A dataclass <-> its ROS message, field by field by name (ADR 0088).

    Fields of the same name are copied, converted by the dataclass field's type and the message
    field's type; nested dataclasses and sequences of them follow the same rule. A few types have
    a message form of their own (`type_codecs`): a heating profile is a list of segments, scan
    settings of zeros mean the station's defaults, a pattern carries a stamp (now()).
    """

    def __init__(self, now: Callable[[], float] = lambda: 0.0) -> None:
        self.now = now
        self.type_codecs: dict[type, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
            HeatingProfile: (profile_to_msgs, lambda segments: profile_from_msgs(list(segments))),
            ScanSettings: (scan_to_msg, scan_from_msg),
            XrdPattern: (lambda pattern: pattern_to_msg(pattern, self.now()), _pattern_from_msg),
        }

    # -- operations --

    def goal(self, request: Any) -> Any:
        """The action goal of a typed request."""
        return self.to_msg(request, action_type(operation_of(request)).Goal)

    def request(self, operation: Operation, goal: Any) -> Any:
        """The typed request of an action goal (the request's own checks raise ValidationError)."""
        return self.from_msg(operation.request, goal)

    def fill_result(self, result: Any, data: Any | None) -> None:
        """Copy a station result into the action Result (nothing when the operation produced none)."""
        if data is not None:
            self._fill(result, data)

    def result(self, operation: Operation, result: Any) -> Any:
        """The typed result of an action Result."""
        return self.from_msg(operation.result, result)

    # -- generic --

    def to_msg(self, value: Any, message_class: type) -> Any:
        """A message of this class filled from a dataclass (fields it lacks keep their zeros)."""
        message = message_class()
        self._fill(message, value)
        return message

    def _fill(self, message: Any, value: Any) -> None:
        for name, ros_type in message.get_fields_and_field_types().items():
            if hasattr(value, name):  # properties too (a dose's total_mg)
                setattr(message, name, self._to_field(getattr(value, name), ros_type))

    def _to_field(self, value: Any, ros_type: str) -> Any:
        if ros_type.startswith("sequence<"):
            inner = ros_type[len("sequence<") : ros_type.rindex(">")]
            if type(value) in self.type_codecs:
                return self.type_codecs[type(value)][0](value)
            return [self._to_field(item, inner) for item in value]
        if "/" in ros_type:
            if value is None:  # an optional field left empty: the message's zeros (scan: station defaults)
                return message_type(ros_type)()
            codec = self.type_codecs.get(type(value))
            if codec is not None:
                return codec[0](value)
            return self.to_msg(value, message_type(ros_type))
        return _primitive(value, ros_type)

    def from_msg(self, cls: type, message: Any) -> Any:
        """The dataclass of a message (fields the message lacks take their defaults)."""
        values = {}
        for name, hint in field_types(cls).items():
            if hasattr(message, name):
                values[name] = self._from_field(hint, getattr(message, name))
        return cls(**values)

    def _from_field(self, hint: Any, value: Any) -> Any:
        base, _ = optional_of(hint)
        if base in self.type_codecs:
            return self.type_codecs[base][1](value)
        if dataclasses.is_dataclass(base):
            return self.from_msg(base, value)
        origin = typing.get_origin(base)
        if origin in (tuple, list):
            item_hint = typing.get_args(base)[0]
            items = [self._from_field(item_hint, item) for item in value]
            return tuple(items) if origin is tuple else items
        if base in (float, int, str, bool):
            return base(value)
        return value


def _primitive(value: Any, ros_type: str) -> Any:
    """A Python value as the message field type wants it (ROS checks field types)."""
    if ros_type in ("double", "float", "float64", "float32"):
        return float(value)
    if ros_type == "boolean":
        return bool(value)
    if ros_type.startswith(("string", "wstring")):
        return str(value)
    if ros_type.startswith(("int", "uint")) or ros_type in ("byte", "char", "octet"):
        return int(value)
    return value


@dataclass(frozen=True)
class ActionBinding:
    """How one station operation is served as a ROS action."""

    name: str
    action_type: type
    to_request: Callable[[Any], Any]
    fill_result: Callable[[Any, Any], None]


def bindings(now: Callable[[], float]) -> dict[str, ActionBinding]:
    """Every operation's action (name, type, goal -> request, result filler), from the registry."""
    codec = MessageCodec(now)
    return {
        name: ActionBinding(name, action_type(op), lambda goal, op=op: codec.request(op, goal), codec.fill_result)
        for name, op in OPERATIONS.items()
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
