"""Co-firing hint: heating profiles the lab is already gathering crucibles for.

A box furnace runs one heating profile per run, so two recipes that differ only by one temperature
grid step (e.g. 850 C and 900 C, both 4 h) need two furnace runs. The campaign tells the planner
which profiles are open (a furnace filling at it, a run queued for it, or experiments proposed at
it that no run holds yet) and how many more crucibles each can take; a planner that accepts the
hint may pick a neighbouring temperature of equal standing that joins one of them, and says so in
its reasons. The planner never sees the campaign's batches: only this plain, typed value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from powderlab.core.errors import ValidationError
from powderlab.core.recipes import HeatingProfile, SegmentKind

OPEN_RUN_STATES = ("filling", "queued", "proposed")


@dataclass(frozen=True)
class OpenRun:
    """A heating profile crucibles are being gathered for, and how many more fit in its run.

    state: "filling" (a furnace is being loaded at it), "queued" (a run waits for a furnace) or
    "proposed" (experiments at it that no run holds yet).
    """

    profile: HeatingProfile
    free_slots: int
    state: str = "proposed"
    furnace: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.free_slots, int) or self.free_slots < 1:
            raise ValidationError(
                "OpenRun.free_slots", f"got {self.free_slots!r}; allowed: an integer >= 1 (a full run is not open)"
            )
        if self.state not in OPEN_RUN_STATES:
            raise ValidationError("OpenRun.state", f"got {self.state!r}; allowed: {', '.join(OPEN_RUN_STATES)}")

    @property
    def temperature_c(self) -> float:
        return self.profile.max_temperature_c

    @property
    def dwell_h(self) -> float:
        return sum(s.duration_min for s in self.profile.segments if s.kind is SegmentKind.DWELL) / 60.0

    def describe(self) -> str:
        where = {
            "filling": f"a furnace run being loaded{f' in {self.furnace}' if self.furnace else ''}",
            "queued": "a furnace run waiting for a furnace",
            "proposed": "experiments already proposed",
        }[self.state]
        return (
            f"{where} at {self.temperature_c:.0f} C / {self.dwell_h:g} h "
            f"({self.free_slots} free slot{'s' if self.free_slots != 1 else ''})"
        )


@dataclass(frozen=True)
class CofiringHint:
    """The open runs, best first (filling, then queued, then proposed); empty: nothing to join.

    tolerance_c: how far from its own choice a planner may move a temperature to join a run (one
    50 C grid step: the Tamman-based estimates and the learning steps are not finer than that).
    """

    runs: tuple[OpenRun, ...] = ()
    tolerance_c: float = 50.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.tolerance_c <= 100.0:
            raise ValidationError("CofiringHint.tolerance_c", f"got {self.tolerance_c!r}; allowed: 0 to 100 C")

    def joinable(self, profile: HeatingProfile) -> OpenRun | None:
        """The first open run with exactly this profile, or None."""
        return next((run for run in self.runs if run.profile == profile), None)


def open_runs(
    batches: Iterable[tuple[HeatingProfile, int, str, str]], proposed: Iterable[HeatingProfile], capacity: int
) -> CofiringHint:
    """The hint from what a campaign holds.

    batches: (profile, free slots, state "filling" or "queued", furnace) of every run that still
    takes crucibles; proposed: the profile of every experiment that no run holds yet (each needs a
    slot). Proposed experiments fill the free slots of runs of their profile first; the rest need
    new runs of `capacity` slots, whose last one is open by what they leave free.
    """
    if capacity < 1:
        raise ValidationError("capacity", f"got {capacity!r}; allowed: slots per furnace run >= 1")
    waiting: dict[HeatingProfile, int] = {}
    for profile in proposed:
        waiting[profile] = waiting.get(profile, 0) + 1
    order = {"filling": 0, "queued": 1}
    runs: list[OpenRun] = []
    for profile, slots, state, furnace in sorted(batches, key=lambda b: order.get(b[2], 2)):
        taken = min(int(slots), waiting.get(profile, 0))  # proposed experiments join runs of their profile first
        waiting[profile] = waiting.get(profile, 0) - taken
        if int(slots) - taken > 0:
            runs.append(OpenRun(profile, int(slots) - taken, state, furnace))
    for profile, count in waiting.items():  # the rest need new runs; the last one is open by what they leave
        left = -count % capacity
        if count and left:
            runs.append(OpenRun(profile, left, "proposed"))
    return CofiringHint(tuple(runs))
