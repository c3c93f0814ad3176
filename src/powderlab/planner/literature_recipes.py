"""First recipes for any target formula from any inventory: literature precedent + thermodynamics.

The A-Lab's first step (ADR 0090): precursor sets suggested by similar targets of the literature
(`literature.py`, He et al., Sci. Adv. 2023, in spirit; data of Kononova et al., Sci. Data 2019),
each balanced with the gases that leave or enter (`chemistry.balance`), scored together with the
reaction's Gibbs driving force where the phase library knows every precursor's energy, heated at
the temperature similar targets were reported at. Every recipe says why it ranks where it does.

`rank_by_driving_force` and `random_recipes` are the baselines of bench/bench_literature.py.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import combinations
from typing import Any

from powderlab.chemistry.balance import FormulaReaction, balance_formulas, precursor_composition
from powderlab.core.errors import PowderLabError, ValidationError
from powderlab.planner.literature import OPEN, Inventory, LiteratureModel, Suggestion, composition_of

DRIVING_FORCE_WEIGHT = 1.0  # log-score per eV/atom of driving force gap (tuned on a training fold: bench --tune)
CANDIDATES = 12  # literature sets balanced and scored before the cut to `count`
BATCH_MG = 1000.0
MAX_SETS = 400  # enumeration cap of the driving-force baseline
_GAS_PRESSURE_ATM = {"O2": 0.21, "CO2": 4.2e-4, "H2O": 0.01, "N2": 0.78}
_TRACE_ATM = 1e-6  # NH3, NO2 swept away by the furnace air


@dataclass(frozen=True)
class PlannedRecipe:
    """One ranked recipe for a target: precursors (inventory names), temperature, balanced equation."""

    target: str
    precursors: tuple[str, ...]
    temperature_c: float
    reaction: FormulaReaction
    score: float
    why: tuple[str, ...] = field(default_factory=tuple)

    @property
    def equation(self) -> str:
        return str(self.reaction)

    def masses_mg(self, batch_mg: float = BATCH_MG) -> dict[str, float]:
        return self.reaction.masses_mg(batch_mg)

    def to_dict(self) -> dict[str, Any]:
        """The batch command's JSON shape (issue 16): precursors, temperature_c, equation, score, why."""
        return {
            "precursors": list(self.precursors),
            "temperature_c": round(self.temperature_c),
            "equation": self.equation,
            "score": round(self.score, 4),
            "why": list(self.why),
        }


class FirstRecipePlanner:
    """Ranks precursor sets of an inventory for any target (see the module docstring)."""

    def __init__(
        self,
        inventory: Inventory,
        model: LiteratureModel | None = None,
        driving_force_weight: float = DRIVING_FORCE_WEIGHT,
    ) -> None:
        self.inventory = inventory
        self.model = model if model is not None else LiteratureModel.load()
        self.driving_force_weight = driving_force_weight

    def check(self, target: str) -> dict[str, float]:
        """The target's element fractions, or ValidationError: not a formula, or an element no powder brings."""
        composition = composition_of(target)
        wanted = frozenset(composition) - OPEN
        if not wanted:
            raise ValidationError("target", f"'{target}' has no element besides O, H, C, N; nothing to dose")
        missing = sorted(wanted - self.inventory.elements())
        if missing:
            raise ValidationError(
                "target",
                f"'{target}' needs {', '.join(missing)}, which no powder of the inventory "
                f"({self.inventory.source or 'given'}, {len(self.inventory.powders)} powders) brings",
            )
        return composition

    def recipes(self, target: str, count: int = 5) -> list[PlannedRecipe]:
        """Up to `count` recipes, best first; ValidationError when the target cannot be planned."""
        composition = self.check(target)
        neighbours = self.model.neighbours(composition)
        suggestions = self.model.suggest(composition, self.inventory, max(CANDIDATES, count), neighbours)
        scored: list[tuple[Suggestion, FormulaReaction, float, float | None, str]] = []
        for suggestion in suggestions:
            temperature, temperature_why = self.model.temperature(composition, suggestion.keys, neighbours)
            try:
                reaction = balance_formulas(target, suggestion.precursors)
            except PowderLabError:
                continue
            force = driving_force(reaction, temperature)
            scored.append((suggestion, reaction, temperature, force, temperature_why))
        if not scored:
            raise ValidationError(
                "target", f"'{target}': no precursor set of the inventory balances (every element, nothing left over)"
            )
        known = [f[0] for _, _, _, f, _ in scored if f is not None]
        best = min(known) if known else 0.0
        mean_gap = (sum(known) / len(known) - best) if known else 0.0
        ranked = []
        for suggestion, reaction, temperature, force, temperature_why in scored:
            gap = (force[0] - best) if force is not None else mean_gap
            score = suggestion.log_score - self.driving_force_weight * gap
            ranked.append((score, suggestion, reaction, temperature, force, temperature_why))
        ranked.sort(key=lambda item: (-item[0], item[1].keys))
        recipes = []
        for score, suggestion, reaction, temperature, force, temperature_why in ranked[:count]:
            why = [_literature_why(suggestion), _force_why(force, best), f"temperature: {temperature_why}"]
            recipes.append(
                PlannedRecipe(target.strip(), suggestion.precursors, temperature, reaction, score, tuple(why))
            )
        return recipes


def driving_force(reaction: FormulaReaction, temperature_c: float) -> tuple[float, bool] | None:
    """Gibbs energy of reaction at T per atom of target (eV/atom) and whether it is absolute.

    Needs every precursor's energy in the phase library; without the target's energy the value
    is relative (the target's energy left out, the same for every set of one target). None when a
    precursor has no energy."""
    temperature_k = temperature_c + 273.15
    if not 300.0 <= temperature_k <= 2000.0:
        return None
    energy = 0.0
    for name, amount in reaction.precursors.items():
        per_atom = _gibbs_per_atom(str(precursor_composition(name).reduced_formula), temperature_k)
        if per_atom is None:
            return None
        energy -= amount * float(precursor_composition(name).num_atoms) * per_atom
    for gas, amount in reaction.gases.items():
        energy += amount * _gas_gibbs(gas, temperature_k)
    target_comp = precursor_composition(reaction.target)
    target_energy = _gibbs_per_atom(str(target_comp.reduced_formula), temperature_k)
    atoms = float(target_comp.num_atoms)
    if target_energy is not None:
        return (energy + atoms * target_energy) / atoms, True
    return energy / atoms, False


def rank_by_driving_force(target: str, inventory: Inventory, count: int = 5) -> list[tuple[tuple[str, ...], float]]:
    """Baseline: every minimal covering set of the inventory, by driving force alone (sets without
    energies last, then fewest precursors); temperature: Tamman rule where known, else 1000 C."""
    sets = covering_sets(target, inventory)
    known = [n for n in sets if all(_library_energy_known(n_) for n_ in n)]
    scored = []
    for names in known:  # balanced and scored: every precursor has an energy
        try:
            reaction = balance_formulas(target, names)
        except PowderLabError:
            continue
        temperature = tamman_temperature(names)
        force = driving_force(reaction, temperature)
        if force is not None:
            scored.append((force[0], names, temperature))
    scored.sort(key=lambda item: (item[0], len(item[1]), item[1]))
    ranked = [(names, temperature) for _, names, temperature in scored[:count]]
    for names in sorted((n for n in sets if n not in known), key=lambda n: (len(n), n)):
        if len(ranked) >= count:  # then sets without energies, fewest precursors first
            break
        try:
            balance_formulas(target, names)
        except PowderLabError:
            continue
        ranked.append((names, tamman_temperature(names)))
    return ranked


def random_recipes(target: str, inventory: Inventory, count: int, rng: random.Random) -> list[tuple[str, ...]]:
    """Baseline: `count` covering sets of the inventory drawn at random."""
    sets = covering_sets(target, inventory)
    return rng.sample(sets, min(count, len(sets)))


def covering_sets(target: str, inventory: Inventory, limit: int = MAX_SETS) -> list[tuple[str, ...]]:
    """Minimal sets of inventory powders that bring every element of the target (besides O, H, C, N)."""
    wanted = frozenset(composition_of(target)) - OPEN
    usable = inventory.usable_for(wanted)
    keys = sorted(usable)
    found: list[tuple[str, ...]] = []
    for size in range(1, len(wanted) + 1):
        for combo in combinations(keys, size):
            brought = [usable[k] for k in combo]
            if frozenset().union(*brought) != wanted:
                continue
            if any(frozenset().union(*(b for j, b in enumerate(brought) if j != i)) == wanted for i in range(size)):
                continue  # a powder that brings nothing the others lack
            found.append(tuple(inventory.name_of(k) for k in combo))
            if len(found) >= limit:
                return found
    return found


def tamman_temperature(names: Sequence[str]) -> float:
    """The planner's Tamman rule (planner/recipes.py) over the precursors the library knows; 1000 C else."""
    from powderlab.planner.recipes import proposed_temperature

    phases = [_library_phase(str(precursor_composition(n).reduced_formula)) for n in names]
    if any(p is None or p.tamman_c is None for p in phases):
        return 1000.0
    return proposed_temperature(phases)[0]


def _literature_why(suggestion: Suggestion) -> str:
    if suggestion.used_for:
        examples = ", ".join(suggestion.used_for[:3])
        return f"used for {len(suggestion.used_for)} similar target(s) of the literature (e.g. {examples})"
    sources = suggestion.element_sources
    groups: dict[str, list[str]] = {}
    for element, source in sources.items():
        groups.setdefault(source, []).append(element)
    detail = "; ".join(f"{', '.join(els)}: {source}" for source, els in groups.items())
    return f"assembled element by element from the literature ({detail}); log-likelihood {suggestion.log_score:.2f}"


def _force_why(force: tuple[float, bool] | None, best: float) -> str:
    if force is None:
        return "driving force unknown (a precursor has no energy in the phase library)"
    value, absolute = force
    if absolute:
        return f"driving force {1000 * value:.0f} meV/atom at the chosen temperature"
    return (
        f"driving force {1000 * (value - best):+.0f} meV/atom against the most reactive set "
        "(target not in the phase library)"
    )


@lru_cache(maxsize=1024)
def _library_phase(reduced: str) -> Any:
    from powderlab.chemistry.phases import default_library

    try:
        return default_library().find(reduced)
    except PowderLabError:
        return None


def _library_energy_known(name: str) -> bool:
    from powderlab.chemistry.thermo import default_thermo

    phase = _library_phase(str(precursor_composition(name).reduced_formula))
    return phase is not None and default_thermo().has_energy(phase)


@lru_cache(maxsize=8192)
def _gibbs_per_atom(reduced: str, temperature_k: float) -> float | None:
    from powderlab.chemistry.thermo import default_thermo

    phase = _library_phase(reduced)
    if phase is None:
        return None
    thermo = default_thermo()
    if not thermo.has_energy(phase):
        return None
    return thermo.gibbs_formation_per_atom(phase, temperature_k)


def _gas_gibbs(gas: str, temperature_k: float) -> float:
    from powderlab.chemistry.gases import gas_gibbs_ev

    return gas_gibbs_ev(gas, temperature_k, _GAS_PRESSURE_ATM.get(gas, _TRACE_ATM))
