"""Every station operation, declared once: the lab's vocabulary (ADR 0088).

An `Operation` names the operation, the kind of station that serves it, its typed request and
result (the station's dataclasses) and its ROS action by interface name. Everything else is
derived from those types: the plain data the campaign store keeps (`to_data` / `from_data`,
here), the ROS goal and result messages (`powderlab.nodes.conversions`), the action servers of a
station node and the action clients of the lab port and `LabClient`.

The plain-data form follows the dataclass field by field, with two rules that hold for every
operation:

- a `SampleRef` field is flattened: its `sample_id` and `labware_id` sit at the top level of
  the goal (the records have always looked like this);
- a field holding an `XrdPattern` is not part of the data: patterns travel and are stored on
  their own (the `patterns` table).

A few types have a plain form of their own (`HeatingProfile` is its list of segments, enums are
their values); `PLAIN_CODECS` lists them. Data missing a field reads as the field's default, so
records written before a field existed still read.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import numbers
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from powderlab.core.errors import UnknownResourceError, ValidationError
from powderlab.core.recipes import HeatingProfile
from powderlab.core.samples import SampleRef
from powderlab.core.xrd import XrdPattern
from powderlab.stations.dosing import (
    DoseRequest,
    DoseResult,
    LoadVialRequest,
    LoadVialResult,
    WeighRequest,
    WeighResult,
)
from powderlab.stations.furnace import HeatRequest, HeatResult, LoadRequest, LoadResult, UnloadRequest, UnloadResult
from powderlab.stations.milling import MillRequest, MillResult
from powderlab.stations.transfer import TransferRequest, TransferResult
from powderlab.stations.xrd import MeasureRequest, MeasureResult


@dataclass(frozen=True)
class Operation:
    """One station operation: the one declaration every conversion and table is derived from."""

    name: str  # the action's name under its station: <station>/<name>
    station_kind: str  # the kind of station that serves it (a key of STATION_CLASSES)
    request: type  # dataclass: what the operation is asked to do
    result: type  # dataclass: what it reports (also when it stopped early, if the station says so)
    action_type: str  # ROS interface, e.g. "powderlab_interfaces/action/Dose" (resolved in powderlab.nodes)
    derived: tuple[str, ...] = ()  # properties of the result that are stored and sent too

    def request_to_data(self, request: Any) -> dict[str, Any]:
        """The plain data the records keep of a request (the goal column)."""
        self._check(request, self.request, "request")
        return to_data(request)

    def request_from_data(self, data: Mapping[str, Any]) -> Any:
        """The typed request of stored data (missing fields take their defaults)."""
        return from_data(self.request, data, f"{self.name} goal")

    def result_to_data(self, result: Any | None) -> dict[str, Any]:
        """The plain data of a result ({} when the operation produced none); the pattern is left out."""
        if result is None:
            return {}
        self._check(result, self.result, "result")
        data = to_data(result)
        for name in self.derived:
            data[name] = _plain(getattr(result, name))
        return data

    def result_from_data(self, data: Mapping[str, Any]) -> Any | None:
        """The typed result of stored data (None for the {} of an operation that produced none)."""
        if not data:
            return None
        return from_data(self.result, {k: v for k, v in data.items() if k not in self.derived}, f"{self.name} result")

    def pattern(self, result: Any | None) -> XrdPattern | None:
        """The XRD pattern a result carries (its XrdPattern field), if any."""
        for field in dataclasses.fields(self.result):
            value = getattr(result, field.name, None)
            if isinstance(value, XrdPattern):
                return value
        return None

    def _check(self, value: Any, expected: type, what: str) -> None:
        if not isinstance(value, expected):
            raise ValidationError(
                f"{self.name} {what}", f"is a {type(value).__name__}; the {self.name} {what} is a {expected.__name__}"
            )


OPERATIONS: dict[str, Operation] = {
    op.name: op
    for op in (
        Operation("dose", "dosing", DoseRequest, DoseResult, "powderlab_interfaces/action/Dose", ("total_mg",)),
        Operation("weigh", "dosing", WeighRequest, WeighResult, "powderlab_interfaces/action/Weigh"),
        Operation("load_vial", "dosing", LoadVialRequest, LoadVialResult, "powderlab_interfaces/action/LoadVial"),
        Operation("mill", "milling", MillRequest, MillResult, "powderlab_interfaces/action/Mill"),
        Operation("transfer", "transfer", TransferRequest, TransferResult, "powderlab_interfaces/action/Transfer"),
        Operation("load_furnace", "furnace", LoadRequest, LoadResult, "powderlab_interfaces/action/LoadFurnace"),
        Operation(
            "unload_furnace", "furnace", UnloadRequest, UnloadResult, "powderlab_interfaces/action/UnloadFurnace"
        ),
        Operation("heat", "furnace", HeatRequest, HeatResult, "powderlab_interfaces/action/Heat"),
        Operation("measure_xrd", "xrd", MeasureRequest, MeasureResult, "powderlab_interfaces/action/MeasureXrd"),
    )
}

_BY_REQUEST: dict[type, Operation] = {op.request: op for op in OPERATIONS.values()}


def operation(name: str) -> Operation:
    """The operation of this name; UnknownResourceError lists the known ones."""
    try:
        return OPERATIONS[name]
    except KeyError:
        raise UnknownResourceError("operation", name, OPERATIONS) from None


def operation_of(request: Any) -> Operation:
    """The operation a typed request belongs to."""
    try:
        return _BY_REQUEST[type(request)]
    except KeyError:
        known = ", ".join(t.__name__ for t in _BY_REQUEST)
        raise ValidationError(
            "request", f"a {type(request).__name__} is no operation's request; known: {known}"
        ) from None


# --- plain data, derived from the dataclasses ---

# Types with a plain form of their own: (to plain, from plain).
PLAIN_CODECS: dict[type, tuple[Callable[[Any], Any], Callable[[Any], Any]]] = {
    HeatingProfile: (lambda profile: profile.to_list(), HeatingProfile.from_list),
}
FLATTENED = SampleRef  # fields of this type are stored flat, at the top level of their record
SEPARATE = XrdPattern  # fields of this type are not part of the data (stored on their own)


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """The resolved type of each init field of a dataclass."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def optional_of(hint: Any) -> tuple[Any, bool]:
    """(the type, whether None is allowed) of a hint like `X | None`."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1:
            return args[0], len(args) < len(typing.get_args(hint))
    return hint, False


def to_data(value: Any) -> dict[str, Any]:
    """A dataclass as plain data (JSON-able), field by field."""
    data: dict[str, Any] = {}
    for name, hint in field_types(type(value)).items():
        item = getattr(value, name)
        base, _ = optional_of(hint)
        if base is FLATTENED:
            data.update(_plain(item))
        elif base is float and isinstance(item, numbers.Real):
            data[name] = float(item)  # as declared: an int given for a float field is stored as a float
        elif base is not SEPARATE:
            data[name] = _plain(item)
    return data


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | bool):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):  # numpy scalars included
        return float(value)
    codec = PLAIN_CODECS.get(type(value))
    if codec is not None:
        return codec[0](value)
    if dataclasses.is_dataclass(value):
        return to_data(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    raise ValidationError("data", f"a {type(value).__name__} has no plain form")


def from_data(cls: type, data: Mapping[str, Any], where: str = "") -> Any:
    """The dataclass of plain data; a missing field takes its default, one without a default fails."""
    where = where or cls.__name__
    if not isinstance(data, Mapping):
        raise ValidationError(where, f"must be a mapping of {', '.join(field_types(cls))}")
    defaults = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for name, hint in field_types(cls).items():
        base, _ = optional_of(hint)
        if base is FLATTENED:
            values[name] = from_data(base, data, where)
        elif base is SEPARATE:
            values[name] = None  # not in the data (stored on its own)
        elif name in data:
            values[name] = _typed(hint, data[name], f"{where}: {name}")
        elif _has_default(defaults[name]):
            continue
        else:
            raise ValidationError(where, f"has no '{name}'; it needs {', '.join(field_types(cls))}")
    return cls(**values)


def _has_default(field: dataclasses.Field) -> bool:
    return field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING


def _typed(hint: Any, value: Any, where: str) -> Any:
    base, optional = optional_of(hint)
    if value is None or (optional and not value and dataclasses.is_dataclass(base)):
        if optional:
            return None
        raise ValidationError(where, "is missing")
    if base in PLAIN_CODECS:
        return PLAIN_CODECS[base][1](value)
    if dataclasses.is_dataclass(base):
        return from_data(base, value, where)
    origin = typing.get_origin(base)
    if origin in (tuple, list):
        (item_hint, *_rest) = typing.get_args(base)
        items = [_typed(item_hint, item, f"{where}[{i}]") for i, item in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        return dict(value)
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return base(value)
    if base in (float, int, str, bool):
        try:
            return base(value)
        except (TypeError, ValueError):
            raise ValidationError(where, f"{value!r} is not a {base.__name__}") from None
    return value
