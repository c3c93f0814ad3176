"""What one analysed attempt says: unreacted precursors, intermediates, lost elements, driving force left."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

from powderlab.chemistry.phases import Phase, PhaseLibrary
from powderlab.chemistry.reactions import balance_reaction
from powderlab.chemistry.thermo import Thermo
from powderlab.core.errors import PowderLabError, UnknownResourceError
from powderlab.core.recipes import SegmentKind
from powderlab.planner.inventory import closed_elements
from powderlab.planner.recipes import MAX_TEMPERATURE_C, VOLATILE_ELEMENTS, tamman_c

MIN_FRACTION = 0.03  # what the analysis reports reliably (ADR 0043)
INERT_EV_PER_ATOM = -0.03  # less driving force than this left for the last step: the route is trapped
SUCCESS_YIELD = 0.5
DEAD_MARGIN_C = 150.0  # this far above the slowest pair's Tamman temperature, a reaction that can run has run


@dataclass(frozen=True)
class Observation:
    """One finished attempt as the planner reads it (only what analysis of the pattern gave)."""

    precursors: tuple[str, ...]
    temperature_c: float
    dwell_h: float
    analysed: bool
    target_yield: float
    phases: Mapping[str, float]  # phase id -> weight fraction (crystalline)
    recipe_id: str = ""

    @property
    def key(self) -> tuple[tuple[str, ...], float, float]:
        return (tuple(sorted(self.precursors)), round(self.temperature_c), round(self.dwell_h, 1))


def observation_of(attempt: Any) -> Observation:
    """An Observation from a campaign Attempt (duck-typed: recipe, status, target_yield, phases)."""
    recipe = attempt.recipe
    dwell_min = sum(s.duration_min for s in recipe.heating.segments if s.kind is SegmentKind.DWELL)
    status = str(getattr(attempt, "status", ""))
    phases = {str(p.phase): float(p.weight_fraction) for p in getattr(attempt, "phases", ()) or ()}
    yield_ = getattr(attempt, "target_yield", None)
    return Observation(
        precursors=tuple(d.powder for d in recipe.precursors),
        temperature_c=float(recipe.heating.max_temperature_c),
        dwell_h=dwell_min / 60.0,
        analysed=status == "analysed" and yield_ is not None,
        target_yield=float(yield_ or 0.0),
        phases=phases,
        recipe_id=recipe.recipe_id,
    )


@dataclass
class Reading:
    """The planner's interpretation of one observation."""

    verdict: str  # made, cold, amorphous, sluggish, hot, partial, dead, not_run
    unreacted: dict[str, float] = field(default_factory=dict)
    intermediates: dict[str, float] = field(default_factory=dict)
    pair_reactions: list[tuple[tuple[str, str], str]] = field(default_factory=list)
    lost_elements: list[str] = field(default_factory=list)
    driving_force_left_ev: float | None = None
    no_reaction: bool = False  # nothing reacted although every pair was mobile (Tamman)
    notes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return f"{self.verdict}: " + "; ".join(self.notes)


def read(observation: Observation, target: str, library: PhaseLibrary, thermo: Thermo) -> Reading:
    """Classify one attempt: too cold, trapped in an inert intermediate, too hot, or partial."""
    if not observation.analysed:
        return Reading("not_run", notes=["no pattern (the attempt failed in the lab)"])
    if observation.target_yield >= SUCCESS_YIELD:
        return Reading("made", notes=[f"yield {observation.target_yield:.0%}"])
    target_phase = library.find(target)
    residue = {p: f for p, f in observation.phases.items() if p != target_phase.phase_id and f >= MIN_FRACTION}
    reading = Reading("partial")
    precursor_phases = {name: _find(library, name) for name in observation.precursors}
    for name, fraction in residue.items():
        phase = _find(library, name)
        if phase is None:
            continue
        if name in precursor_phases or len(closed_elements(phase)) == 1:
            reading.unreacted[name] = fraction
            continue
        reading.intermediates[name] = fraction
        sources = [
            p for p, ph in precursor_phases.items() if ph is not None and closed_elements(ph) & closed_elements(phase)
        ]
        if len(sources) == 2:
            reading.pair_reactions.append(((sources[0], sources[1]), name))
    reading.lost_elements = depleted_elements(observation.phases, target_phase, library)
    reading.driving_force_left_ev = driving_force_left(target_phase.phase_id, residue, observation, library, thermo)
    unreacted = sum(reading.unreacted.values())
    hot_loss = [e for e in reading.lost_elements if e in VOLATILE_ELEMENTS]
    if reading.pair_reactions:
        reading.notes.append(
            "pairwise reactions seen: " + ", ".join(f"{a}+{b}->{x}" for (a, b), x in reading.pair_reactions)
        )
    if reading.driving_force_left_ev is not None:
        reading.notes.append(f"driving force left to the target {1000 * reading.driving_force_left_ev:.0f} meV/atom")
    total_seen = sum(observation.phases.values())
    if reading.intermediates and reading.driving_force_left_ev is not None and reading.driving_force_left_ev >= 0:
        reading.verdict = "dead"
        reading.notes.append(
            f"the target is uphill from the observed {', '.join(sorted(reading.intermediates))}: "
            "this route cannot make it"
        )
    elif unreacted >= 0.9 and observation.temperature_c >= _mobile_c(reading.unreacted, library) + DEAD_MARGIN_C:
        reading.verdict, reading.no_reaction = "cold", True
        reading.notes.append(
            f"{unreacted:.0%} unreacted although {observation.temperature_c:.0f} C is far above the Tamman "
            "temperatures of the pairs: too cold, or no real driving force"
        )
    elif hot_loss:
        reading.verdict = "hot"
        reading.notes.append(f"{', '.join(hot_loss)} short in the products (evaporated): too hot")
    elif reading.intermediates and (
        reading.driving_force_left_ev is not None and reading.driving_force_left_ev > INERT_EV_PER_ATOM
    ):
        reading.verdict = "sluggish"
        reading.notes.append(f"inert intermediates {', '.join(sorted(reading.intermediates))}: last step sluggish")
    elif total_seen < 0.05:
        reading.verdict = "amorphous"
        reading.notes.append("no crystalline phase identified: products amorphous, crystallise hotter")
    elif unreacted >= 0.3 or (not reading.intermediates and observation.target_yield < 0.05):
        reading.verdict = "cold"
        reading.notes.append(f"{unreacted:.0%} of the pattern is unreacted precursor: too cold")
    else:
        reading.notes.append(f"target at {observation.target_yield:.0%} with intermediates: reaction not finished")
    return reading


def _mobile_c(unreacted: Mapping[str, float], library: PhaseLibrary) -> float:
    """Temperature (C) at which every pair of the unreacted phases has a mobile partner (Tamman)."""
    phases = [p for p in (_find(library, n) for n in unreacted) if p is not None]
    if len(phases) < 2:
        return MAX_TEMPERATURE_C - DEAD_MARGIN_C
    return max(min(tamman_c(a), tamman_c(b)) for a, b in combinations(phases, 2))


def depleted_elements(phases: Mapping[str, float], target: Phase, library: PhaseLibrary) -> list[str]:
    """Closed elements of the target that the crystalline products hold 20 % less of than the target ratio."""
    moles: dict[str, float] = {}
    for name, fraction in phases.items():
        phase = _find(library, name)
        if phase is None or fraction <= 0:
            continue
        units = fraction / float(phase.composition.weight)
        for el, amount in phase.composition.items():
            if el.symbol in closed_elements(phase):
                moles[el.symbol] = moles.get(el.symbol, 0.0) + units * float(amount)
    wanted = {el.symbol: float(a) for el, a in target.composition.items() if el.symbol in closed_elements(target)}
    total, total_wanted = sum(moles.values()), sum(wanted.values())
    if total <= 0 or len(wanted) < 2:
        return []
    return sorted(e for e, a in wanted.items() if moles.get(e, 0.0) / total < 0.8 * a / total_wanted)


def driving_force_left(
    target: str, residue: Mapping[str, float], observation: Observation, library: PhaseLibrary, thermo: Thermo
) -> float | None:
    """Gibbs energy (eV/atom) of the observed non-target phases reacting to the target at the attempt's T."""
    names = [n for n in sorted(residue, key=lambda n: -residue[n]) if _find(library, n) is not None]
    temperature_k = min(max(observation.temperature_c + 273.15, 300.0), 2000.0)
    for size in range(len(names), 0, -1):
        for subset in combinations(names, size):
            try:
                reaction = balance_reaction(target, subset, temperature_k=temperature_k, library=library, thermo=thermo)
            except PowderLabError:
                continue
            if reaction.energy_ev_per_atom is not None:
                return float(reaction.energy_ev_per_atom)
    return None


def _find(library: PhaseLibrary, name: str) -> Any:
    try:
        return library.find(name)
    except UnknownResourceError:
        return None


def observations(history: Sequence[Any]) -> list[Observation]:
    """Observations of the finished attempts of a history (running ones are left out)."""
    return [observation_of(a) for a in history if str(getattr(a, "status", "")) in ("analysed", "failed")]
