"""Labware bodies and the true state of what is in them (masses, milling, heat, phases)."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise

from powderlab.core.recipes import HeatingProfile, HeatingSegment, MillingSettings, SegmentKind

HISTORY_STEP_S = 600.0  # temperature history resolution handed to the hidden-truth model


@dataclass
class SampleTruth:
    """What really is in a crucible or on a holder. Only the twin reads it."""

    precursors_mg: dict[str, float] = field(default_factory=dict)  # as dosed, before any heat
    milling: MillingSettings | None = None
    history: list[tuple[float, float]] = field(default_factory=list)  # (sim s, chamber C) while in a furnace
    phases_mg: dict[str, float] | None = None  # after heating: crystalline phases (library ids)
    amorphous_mg: float = 0.0
    heated_points: int = 0  # history points already reacted

    @property
    def total_mg(self) -> float:
        if self.phases_mg is not None:
            return sum(self.phases_mg.values()) + self.amorphous_mg
        return sum(self.precursors_mg.values())

    def add_powder(self, powder: str, mass_mg: float) -> None:
        if self.phases_mg is not None:  # powder on top of a heated sample: keep it as a phase
            self.phases_mg[powder] = self.phases_mg.get(powder, 0.0) + mass_mg
        else:
            self.precursors_mg[powder] = self.precursors_mg.get(powder, 0.0) + mass_mg

    def record_temperature(self, time_s: float, temperature_c: float) -> None:
        if not self.history or time_s - self.history[-1][0] >= HISTORY_STEP_S:
            self.history.append((time_s, temperature_c))

    def heating_profile(self) -> HeatingProfile | None:
        """The temperature history as ramps and dwells (None when it never got warm)."""
        if len(self.history) < 2 or max(t for _, t in self.history) < 100.0:
            return None
        segments: list[HeatingSegment] = []
        for (t0, c0), (t1, c1) in pairwise(self.history):
            minutes = max((t1 - t0) / 60.0, 1e-3)
            if abs(c1 - c0) < 1.0:
                segments.append(HeatingSegment(SegmentKind.DWELL, duration_min=minutes))
            else:
                segments.append(
                    HeatingSegment(SegmentKind.RAMP, target_c=max(c1, 20.0), rate_c_per_min=abs(c1 - c0) / minutes)
                )
        return HeatingProfile(tuple(segments))


@dataclass
class Item:
    """A dynamic body: crucible, vial or XRD holder."""

    labware_id: str
    kind: str  # crucible, vial, xrd_holder
    body: int
    position: str | None  # where it rests (None: in a gripper, or dropped)
    truth: SampleTruth = field(default_factory=SampleTruth)
    empty_mg: float = 25_000.0
    dropped: bool = False
    mass_kg: float = 0.0

    @property
    def mass_mg(self) -> float:
        return self.empty_mg + self.truth.total_mg
