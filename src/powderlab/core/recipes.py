"""Recipes: what one sample goes through (precursors, milling, heating profile, XRD scan)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any, TypeVar

from powderlab.core.errors import ValidationError
from powderlab.core.units import (
    ROOM_TEMPERATURE_C,
    require_int_range,
    require_name,
    require_number,
    require_positive,
    require_range,
)

T = TypeVar("T")


def from_mapping(cls: type[T], data: Any, where: str) -> T:
    """cls(**data) for a dataclass, refusing first what its constructor would only report as a TypeError.

    Errors name where the mapping was (e.g. "recipe precursors[2]"), the unknown or missing keys and
    the keys allowed, e.g. "recipe precursors[1]: unknown key 'mass_mg'; allowed: powder, target_mg".
    """
    allowed = [f.name for f in fields(cls)]
    if not isinstance(data, Mapping):
        raise ValidationError(where, f"expected a mapping with the keys {', '.join(allowed)}; got {data!r}")
    unknown = [str(key) for key in data if key not in allowed]
    if unknown:
        keys = ", ".join(repr(key) for key in unknown)
        raise ValidationError(
            where, f"unknown key{'s' if len(unknown) > 1 else ''} {keys}; allowed: {', '.join(allowed)}"
        )
    required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
    missing = [name for name in required if name not in data]
    if missing:
        raise ValidationError(
            where, f"missing {', '.join(repr(name) for name in missing)}; required: {', '.join(required)}"
        )
    return cls(**data)


def _items(data: Any, where: str, example: str) -> list[Any]:
    """A YAML list field as a list (a mapping or a scalar there is refused with an example)."""
    if isinstance(data, Mapping | str | bytes) or not isinstance(data, Iterable):
        raise ValidationError(where, f"expected a list, e.g. {example}; got {data!r}")
    return list(data)


@dataclass(frozen=True)
class PowderDose:
    """One precursor and the mass of it to dose."""

    powder: str
    target_mg: float

    def __post_init__(self) -> None:
        require_name("powder", self.powder)
        object.__setattr__(self, "target_mg", require_positive(f"target_mg of {self.powder}", self.target_mg, "mg"))


class SegmentKind(StrEnum):
    """How a heating segment drives the furnace."""

    RAMP = "ramp"  # to target_c at rate_c_per_min
    DWELL = "dwell"  # hold the current temperature for duration_min
    COOL = "cool"  # heaters off, natural cooling to target_c


@dataclass(frozen=True)
class FurnaceLimits:
    """What a furnace allows; from the site profile."""

    max_temperature_c: float = 1200.0
    max_ramp_c_per_min: float = 20.0
    ambient_c: float = ROOM_TEMPERATURE_C
    cooling_time_constant_s: float = 5400.0  # Newton cooling of the loaded chamber
    safe_door_temperature_c: float = 200.0


@dataclass(frozen=True)
class HeatingSegment:
    """One segment of a heating profile."""

    kind: SegmentKind
    target_c: float = 0.0
    rate_c_per_min: float = 0.0
    duration_min: float = 0.0

    def __post_init__(self) -> None:
        try:
            object.__setattr__(self, "kind", SegmentKind(self.kind))
        except ValueError:
            allowed = ", ".join(k.value for k in SegmentKind)
            raise ValidationError("segment kind", f"'{self.kind}' is not a segment kind; allowed: {allowed}") from None
        for name in ("target_c", "rate_c_per_min", "duration_min"):
            object.__setattr__(self, name, require_number(f"{self.kind.value} {name}", getattr(self, name)))
        if self.kind is SegmentKind.RAMP:
            require_positive("ramp rate_c_per_min", self.rate_c_per_min, "C/min")
            require_range("ramp target_c", self.target_c, -50.0, None, "C")
        elif self.kind is SegmentKind.DWELL:
            require_positive("dwell duration_min", self.duration_min, "min")
        else:
            require_range("cool target_c", self.target_c, -50.0, None, "C")


@dataclass(frozen=True)
class HeatingProfile:
    """A sequence of segments run by one furnace for all crucibles inside."""

    segments: tuple[HeatingSegment, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "segments", tuple(self.segments))
        if not self.segments:
            raise ValidationError("heating profile", "has no segments; give at least one ramp")

    @property
    def max_temperature_c(self) -> float:
        return max((s.target_c for s in self.segments if s.kind is SegmentKind.RAMP), default=ROOM_TEMPERATURE_C)

    def validate(self, limits: FurnaceLimits) -> None:
        """Raise OutOfRangeError for any segment outside the furnace's limits."""
        for index, segment in enumerate(self.segments):
            if segment.kind is SegmentKind.RAMP:
                require_range(f"segment {index} target_c", segment.target_c, None, limits.max_temperature_c, "C")
                require_range(
                    f"segment {index} rate_c_per_min", segment.rate_c_per_min, None, limits.max_ramp_c_per_min, "C/min"
                )
            elif segment.kind is SegmentKind.COOL:
                require_range(
                    f"segment {index} target_c", segment.target_c, limits.ambient_c + 1.0, limits.max_temperature_c, "C"
                )

    def segment_durations_s(self, limits: FurnaceLimits, start_c: float | None = None) -> list[float]:
        """Planned duration of each segment, starting from start_c (ambient by default)."""
        temperature = limits.ambient_c if start_c is None else start_c
        durations = []
        for segment in self.segments:
            if segment.kind is SegmentKind.RAMP:
                durations.append(abs(segment.target_c - temperature) / segment.rate_c_per_min * 60.0)
                temperature = segment.target_c
            elif segment.kind is SegmentKind.DWELL:
                durations.append(segment.duration_min * 60.0)
            else:
                durations.append(natural_cooling_time_s(temperature, segment.target_c, limits))
                temperature = min(temperature, segment.target_c)
        return durations

    def duration_s(self, limits: FurnaceLimits, start_c: float | None = None) -> float:
        return sum(self.segment_durations_s(limits, start_c))

    def to_list(self) -> list[dict[str, Any]]:
        return [{**asdict(s), "kind": s.kind.value} for s in self.segments]

    @staticmethod
    def from_list(items: Iterable[Mapping[str, Any]], where: str = "heating") -> HeatingProfile:
        """A profile from plain data: a list of segment mappings (errors name the segment and its keys)."""
        example = "[{kind: ramp, target_c: 900, rate_c_per_min: 10}, {kind: dwell, duration_min: 240}]"
        segments = _items(items, where, example)
        return HeatingProfile(
            tuple(from_mapping(HeatingSegment, item, f"{where}[{index}]") for index, item in enumerate(segments, 1))
        )


def natural_cooling_time_s(from_c: float, to_c: float, limits: FurnaceLimits) -> float:
    """Newton cooling time from from_c down to to_c (0 when already there)."""
    ambient = limits.ambient_c
    if from_c <= to_c:
        return 0.0
    if to_c <= ambient:
        raise ValidationError(
            "cool target_c", f"{to_c:g} C cannot be reached by natural cooling; allowed: above ambient {ambient:g} C"
        )
    return limits.cooling_time_constant_s * math.log((from_c - ambient) / (to_c - ambient))


def a_lab_profile(temperature_c: float, dwell_h: float = 4.0, handling_c: float = 100.0) -> HeatingProfile:
    """The A-Lab's standard profile: 2 C/min to 300 C, 15 C/min to T, dwell, natural cooling."""
    segments = []
    if temperature_c > 300.0:
        segments.append(HeatingSegment(SegmentKind.RAMP, target_c=300.0, rate_c_per_min=2.0))
        segments.append(HeatingSegment(SegmentKind.RAMP, target_c=temperature_c, rate_c_per_min=15.0))
    else:
        segments.append(HeatingSegment(SegmentKind.RAMP, target_c=temperature_c, rate_c_per_min=2.0))
    segments.append(HeatingSegment(SegmentKind.DWELL, duration_min=dwell_h * 60.0))
    segments.append(HeatingSegment(SegmentKind.COOL, target_c=handling_c))
    return HeatingProfile(tuple(segments))


@dataclass(frozen=True)
class MillingSettings:
    """Milling / shaking with milling media."""

    duration_s: float = 600.0
    frequency_hz: float = 25.0
    ball_count: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "duration_s", require_positive("milling duration_s", self.duration_s, "s"))
        object.__setattr__(self, "frequency_hz", require_positive("milling frequency_hz", self.frequency_hz, "Hz"))
        object.__setattr__(self, "ball_count", require_int_range("milling ball_count", self.ball_count, 0, 1000))


@dataclass(frozen=True)
class ScanSettings:
    """An XRD scan (A-Lab: 10-100 deg 2-theta in 8 min)."""

    two_theta_start_deg: float = 10.0
    two_theta_end_deg: float = 100.0
    step_deg: float = 0.02
    scan_time_s: float = 480.0

    def __post_init__(self) -> None:
        start = require_range("two_theta_start_deg", self.two_theta_start_deg, 0.0, 180.0, "deg")
        end = require_range("two_theta_end_deg", self.two_theta_end_deg, 0.0, 180.0, "deg")
        if end <= start:
            raise ValidationError(
                "two_theta_end_deg", f"{end:g} deg must be greater than two_theta_start_deg {start:g} deg"
            )
        object.__setattr__(self, "two_theta_start_deg", start)
        object.__setattr__(self, "two_theta_end_deg", end)
        object.__setattr__(self, "step_deg", require_positive("step_deg", self.step_deg, "deg", high=end - start))
        object.__setattr__(self, "scan_time_s", require_positive("scan_time_s", self.scan_time_s, "s"))

    @property
    def point_count(self) -> int:
        return round((self.two_theta_end_deg - self.two_theta_start_deg) / self.step_deg) + 1


@dataclass(frozen=True)
class Recipe:
    """Everything one sample goes through."""

    recipe_id: str
    target: str
    precursors: tuple[PowderDose, ...]
    heating: HeatingProfile
    milling: MillingSettings = field(default_factory=MillingSettings)
    scan: ScanSettings = field(default_factory=ScanSettings)
    notes: str = ""

    def __post_init__(self) -> None:
        require_name("recipe_id", self.recipe_id)
        if not isinstance(self.target, str) or not self.target.strip():
            raise ValidationError("target", f"expected a formula, got {self.target!r}")
        object.__setattr__(self, "precursors", tuple(self.precursors))
        if not self.precursors:
            raise ValidationError("precursors", "the recipe has no precursors; give at least one")
        names = [dose.powder for dose in self.precursors]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValidationError("precursors", f"powder listed twice: {', '.join(duplicates)}")

    @property
    def total_mass_mg(self) -> float:
        return sum(dose.target_mg for dose in self.precursors)

    def to_dict(self) -> dict[str, Any]:
        return {
            "recipe_id": self.recipe_id,
            "target": self.target,
            "precursors": [{"powder": d.powder, "target_mg": d.target_mg} for d in self.precursors],
            "milling": asdict(self.milling),
            "heating": self.heating.to_list(),
            "scan": asdict(self.scan),
            "notes": self.notes,
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Recipe:
        """A recipe from plain data (a YAML/JSON file); errors name the field."""
        if not isinstance(data, Mapping):
            raise ValidationError("recipe", f"expected a mapping, got {type(data).__name__}")
        known = ("recipe_id", "target", "precursors", "milling", "heating", "scan", "notes")
        unknown = [str(key) for key in data if key not in known]
        if unknown:
            keys = ", ".join(repr(key) for key in unknown)
            raise ValidationError(
                "recipe", f"unknown key{'s' if len(unknown) > 1 else ''} {keys}; allowed: {', '.join(known)}"
            )
        for required in ("recipe_id", "target", "precursors", "heating"):
            if required not in data:
                raise ValidationError("recipe", f"missing '{required}'")
        doses = _items(data["precursors"], "recipe precursors", "[{powder: Li2CO3, target_mg: 377.5}]")
        precursors = tuple(
            from_mapping(PowderDose, item, f"recipe precursors[{index}]") for index, item in enumerate(doses, 1)
        )
        heating = HeatingProfile.from_list(data["heating"], "recipe heating")
        milling = from_mapping(MillingSettings, data.get("milling") or {}, "recipe milling")
        scan = from_mapping(ScanSettings, data.get("scan") or {}, "recipe scan")
        return Recipe(
            recipe_id=str(data["recipe_id"]),
            target=str(data["target"]),
            precursors=precursors,
            heating=heating,
            milling=milling,
            scan=scan,
            notes=str(data.get("notes", "")),
        )
