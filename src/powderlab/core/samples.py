"""Samples and what happened to them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from powderlab.core.errors import ErrorCode
from powderlab.core.units import require_name


@dataclass(frozen=True)
class SampleRef:
    """Which sample an operation is about and the labware that carries it."""

    sample_id: str = ""
    labware_id: str = ""


class SampleStatus(StrEnum):
    """Where a sample is in its life; FAILED and PARTIAL keep the sample for the record."""

    PLANNED = "planned"
    DOSED = "dosed"
    PARTIAL = "partial"  # dosing stopped early: what went in is recorded
    MILLED = "milled"
    HEATED = "heated"
    MEASURED = "measured"
    ANALYSED = "analysed"
    FAILED = "failed"
    DISCARDED = "discarded"


@dataclass(frozen=True)
class SampleEvent:
    """One thing that happened to a sample (an operation and its outcome)."""

    time: float
    operation: str
    code: ErrorCode
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class Sample:
    """A sample: a crucible of powder made for one recipe."""

    sample_id: str
    recipe_id: str = ""
    target: str = ""
    labware_id: str = ""
    status: SampleStatus = SampleStatus.PLANNED
    dosed_mg: dict[str, float] = field(default_factory=dict)
    events: list[SampleEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        require_name("sample_id", self.sample_id)

    def record(self, event: SampleEvent, status: SampleStatus | None = None) -> None:
        """Append an event; never drops or rewrites earlier ones."""
        self.events.append(event)
        if status is not None:
            self.status = status
