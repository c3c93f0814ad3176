"""Precursor sets from the inventory, ranked by driving force, with temperatures and masses (ARROWS start)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import combinations, product
from typing import Any

from powderlab.chemistry.phases import Phase, PhaseLibrary, default_library
from powderlab.chemistry.reactions import balance_reaction, precursor_masses
from powderlab.chemistry.thermo import Thermo, default_thermo
from powderlab.core.errors import PowderLabError
from powderlab.core.recipes import MillingSettings, Recipe, a_lab_profile
from powderlab.planner.inventory import Inventory, closed_elements

MIN_TEMPERATURE_C = 600.0
MAX_TEMPERATURE_C = 1200.0  # the reference cell's box furnaces (FurnaceLimits)
TAMMAN_MARGIN_C = 200.0  # above the Tamman temperature that starts the slowest pair (benchmark: 100 C starts too cold)
# Free oxides / carbonates known to evaporate or sublime when hot (CRC notes; A-Lab practice)
VOLATILE_ELEMENTS = frozenset({"Li", "Na", "K", "Mo", "Bi", "V"})
VOLATILE_CAP_C = 950.0
BATCH_MG = 1000.0
TEMPERATURE_STEP_C = 50.0


@dataclass(frozen=True)
class PrecursorSet:
    """One precursor set for a target, with its balanced reaction and driving force."""

    target: str
    precursors: tuple[str, ...]
    equation: str
    driving_force_ev_per_atom: float  # Gibbs energy of reaction at temperature_c, per atom (negative: downhill)
    temperature_c: float  # proposed from the precursors' Tamman temperatures

    def to_dict(self) -> dict[str, Any]:
        return {
            "precursors": list(self.precursors),
            "equation": self.equation,
            "driving_force_mev_per_atom": round(1000 * self.driving_force_ev_per_atom, 1),
            "temperature_c": self.temperature_c,
        }


@dataclass(frozen=True)
class RecipeChoice:
    """A precursor set at one heating condition; `why` says how the planner got there."""

    precursor_set: PrecursorSet
    temperature_c: float
    dwell_h: float = 4.0
    why: tuple[str, ...] = field(default_factory=tuple)

    @property
    def key(self) -> tuple[tuple[str, ...], float, float]:
        return (tuple(sorted(self.precursor_set.precursors)), round(self.temperature_c), round(self.dwell_h, 1))

    def recipe(self, library: PhaseLibrary | None = None, batch_mg: float = BATCH_MG) -> Recipe:
        """The Recipe: masses from the balanced reaction, the A-Lab profile at the temperature."""
        target = self.precursor_set.target
        doses = precursor_masses(target, self.precursor_set.precursors, batch_mg, library=library)
        names = "-".join(sorted(self.precursor_set.precursors))
        recipe_id = f"{target}-{names}-{self.temperature_c:.0f}C-{self.dwell_h:g}h"
        return Recipe(
            recipe_id=recipe_id,
            target=target,
            precursors=doses,
            heating=a_lab_profile(self.temperature_c, self.dwell_h),
            milling=MillingSettings(),
            notes="; ".join(self.why),
        )


def round_temperature(value: float) -> float:
    """To the temperature grid, inside the furnace's range."""
    stepped = TEMPERATURE_STEP_C * round(value / TEMPERATURE_STEP_C)
    return float(min(max(stepped, MIN_TEMPERATURE_C), MAX_TEMPERATURE_C))


def tamman_c(phase: Phase) -> float:
    """Tamman temperature (C); 1200 C for a phase without a tabulated melting point."""
    value = phase.tamman_c
    return 1200.0 if value is None else float(value)


def proposed_temperature(precursors: Sequence[Phase]) -> tuple[float, str]:
    """Heating temperature from the precursors: every pair must pass the Tamman temperature of its
    lower-melting member (where surface diffusion starts), plus a margin; volatile elements cap it."""
    if len(precursors) == 1:
        base = tamman_c(precursors[0])
        why = f"Tamman temperature of {precursors[0].phase_id} {base:.0f} C"
    else:
        pairs = [(min(tamman_c(a), tamman_c(b)), a, b) for a, b in combinations(precursors, 2)]
        base, a, b = max(pairs, key=lambda item: item[0])
        low = a if tamman_c(a) <= tamman_c(b) else b
        why = (
            f"slowest pair {a.phase_id}+{b.phase_id} starts near the Tamman temperature of "
            f"{low.phase_id} ({base:.0f} C)"
        )
    value = base + TAMMAN_MARGIN_C
    volatile = sorted(set().union(*(closed_elements(p) for p in precursors)) & VOLATILE_ELEMENTS)
    if volatile and value > VOLATILE_CAP_C:
        value = VOLATILE_CAP_C
        why += f"; capped at {VOLATILE_CAP_C:.0f} C ({', '.join(volatile)} evaporate when hot)"
    temperature = round_temperature(value)
    return temperature, f"{why} + {TAMMAN_MARGIN_C:.0f} C -> {temperature:.0f} C"


def precursor_sets(
    target: str,
    inventory: Inventory,
    *,
    library: PhaseLibrary | None = None,
    thermo: Thermo | None = None,
    max_sets: int = 40,
) -> list[PrecursorSet]:
    """Every balanced precursor set from the inventory, most negative driving force first.

    A set uses only powders whose closed elements (not O, C, H, N) are all in the target, covers
    every closed element of the target, and needs each of its powders (no redundant source).
    """
    library = library if library is not None else default_library()
    thermo = thermo if thermo is not None else (default_thermo() if library is default_library() else Thermo(library))
    target_phase = library.find(target)
    wanted = closed_elements(target_phase)
    usable = [p for p in inventory.phases(library) if closed_elements(p) and closed_elements(p) <= wanted]
    sets: list[tuple[str, ...]] = []
    for size in range(1, len(wanted) + 1):
        for combo in combinations(usable, size):
            covered = frozenset().union(*(closed_elements(p) for p in combo))
            if covered != wanted:
                continue
            if any(frozenset().union(*(closed_elements(q) for q in combo if q is not p)) == wanted for p in combo):
                continue  # a powder that brings nothing the others lack
            sets.append(tuple(p.phase_id for p in combo))
    ranked = []
    for names in sets:
        phases = [library.get(n) for n in names]
        temperature, _ = proposed_temperature(phases)
        try:
            reaction = balance_reaction(
                target_phase.phase_id, names, temperature_k=temperature + 273.15, library=library, thermo=thermo
            )
        except PowderLabError:
            continue
        if reaction.energy_ev_per_atom is None:
            continue
        ranked.append(
            PrecursorSet(target_phase.phase_id, names, str(reaction), reaction.energy_ev_per_atom, temperature)
        )
    ranked.sort(key=lambda s: (s.driving_force_ev_per_atom, s.precursors))
    return ranked[:max_sets]


def first_recipes(sets: Sequence[PrecursorSet], count: int = 5) -> list[RecipeChoice]:
    """The ARROWS start: sets by driving force at their proposed temperature, then +-100 C around it."""
    choices: list[RecipeChoice] = []
    seen: set[Any] = set()
    offsets = (0.0, 100.0, -100.0, 200.0, -200.0)
    for offset, (rank, chosen) in product(offsets, list(enumerate(sets, start=1))):
        temperature = round_temperature(chosen.temperature_c + offset)
        why = (
            f"precursor set {rank} of {len(sets)} by driving force "
            f"({1000 * chosen.driving_force_ev_per_atom:.0f} meV/atom: {chosen.equation})",
            f"temperature {temperature:.0f} C"
            + ("" if offset == 0 else f" ({offset:+.0f} C from the Tamman estimate {chosen.temperature_c:.0f} C)"),
        )
        choice = RecipeChoice(chosen, temperature, 4.0, why)
        if choice.key in seen:
            continue
        seen.add(choice.key)
        choices.append(choice)
        if len(choices) >= count:
            break
    return choices
