"""A target given by formula alone: structure candidates, CHGNet relaxation, hull, explained.

`powderlab plan screen FORMULA` for a compound the library does not hold:

1. Structure candidates by substitution: every library prototype (targets and intermediates) with
   the same anonymised formula and the same anion / polyanion elements; each assignment of the
   target's metals to the prototype's metal sites that gives the formula is scored by pymatgen's
   data-mined substitution probabilities (structure_prediction.SubstitutionProbability, Hautier et
   al. 2011); the most probable `candidates` are kept.
2. Each is relaxed with CHGNet (planner.candidates.relax: cell and positions, FIRE); the lowest
   energy per atom is kept as the predicted structure.
3. Competing phases generated for the same chemical system (other formulas by substitution,
   planner.candidates.substitutions, relaxed the same way) join the library's phases on the hull.
4. The kept structure is screened like a library phase (hull, air, dosable).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import sys
from dataclasses import dataclass, field
from typing import Any

from powderlab.chemistry.disorder import FRAMEWORK
from powderlab.chemistry.phases import Phase, PhaseLibrary, default_library
from powderlab.core.errors import ValidationError
from powderlab.planner.candidates import (
    RELAX_STEPS,
    Candidate,
    chgnet_optimizer,
    relax,
    substitution_table,
    substitutions,
)
from powderlab.planner.inventory import Inventory
from powderlab.planner.screening import DEFAULT_HULL_EV, Screener, Screening


@dataclass
class FormulaScreening:
    """The steps of screening a formula the library does not hold, with their numbers."""

    formula: str
    candidates: list[Candidate] = field(default_factory=list)
    competitors: list[Candidate] = field(default_factory=list)
    kept: Candidate | None = None
    phase: Phase | None = None  # the kept structure as a library phase (what `save_candidate` stores)
    screening: Screening | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.screening is not None and self.screening.passed

    def explain(self) -> str:
        lines = [f"{self.formula}: not in the phase library; screened by formula"]
        lines.append(f"1. structure candidates by substitution ({len(self.candidates)}):")
        for c in self.candidates:
            subs = ", ".join(f"{a}->{b}" for a, b in c.substitution.items())
            energy = "not relaxed" if c.energy_per_atom_ev is None else f"{c.energy_per_atom_ev:.4f} eV/atom"
            lines.append(
                f"   {c.prototype}-type ({subs}): substitution probability {c.probability:.3g}; CHGNet {energy} "
                f"after {c.relax_steps} steps"
            )
        if self.kept is not None:
            lines.append(
                f"2. kept the lowest energy: {self.kept.prototype}-type, {self.kept.energy_per_atom_ev:.4f} eV/atom"
            )
        lines.append(f"3. competing phases generated for the chemical system ({len(self.competitors)}):")
        for c in self.competitors:
            lines.append(f"   {c.formula} ({c.prototype}-type): CHGNet {c.energy_per_atom_ev:.4f} eV/atom")
        lines.extend(f"   {note}" for note in self.notes)
        if self.screening is not None:
            lines.append("4. " + self.screening.explain().replace("\n", "\n   "))
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "formula": self.formula,
            "in_library": False,
            "candidates": [c.to_dict() for c in self.candidates],
            "kept": None if self.kept is None else self.kept.to_dict(),
            "competitors": [c.to_dict() for c in self.competitors],
            "screening": None if self.screening is None else self.screening.to_dict(),
            "notes": self.notes,
            "passed": self.passed,
        }


def structure_candidates(formula: str, library: PhaseLibrary, limit: int = 3) -> list[Candidate]:
    """Prototype substitutions that give exactly `formula`, most probable first."""
    from pymatgen.core import Composition, Species

    target = Composition(formula).reduced_composition
    target_metals = {el.symbol: amount for el, amount in target.items() if el.symbol not in FRAMEWORK}
    framework = {el.symbol for el in target.elements if el.symbol not in target_metals}
    if not target_metals:
        raise ValidationError("formula", f"{formula} has no metal to put on a prototype's cation sites")
    target_states = target.oxi_state_guesses(max_sites=-50)
    if not target_states:
        raise ValidationError("formula", f"{formula} has no charge-balanced oxidation states")
    states = target_states[0]
    table = substitution_table()
    found: dict[tuple[str, tuple], Candidate] = {}
    for proto in library:
        if not ({"target", "intermediate"} & set(proto.roles)):
            continue
        comp = proto.composition
        if comp.anonymized_formula != target.anonymized_formula:
            continue
        proto_metals = sorted(el.symbol for el in comp.elements if el.symbol not in FRAMEWORK)
        if {el.symbol for el in comp.elements} - set(proto_metals) != framework or len(proto_metals) != len(
            target_metals
        ):
            continue
        proto_states = comp.oxi_state_guesses(max_sites=-50)
        if not proto_states:
            continue
        for perm in itertools.permutations(sorted(target_metals)):
            mapping = dict(zip(proto_metals, perm, strict=True))
            new = Composition({mapping.get(el.symbol, el.symbol): a for el, a in comp.items()}).reduced_composition
            if new != target:
                continue
            probability = 1.0
            for old, replacement in mapping.items():
                if old == replacement:
                    continue
                probability *= table.cond_prob(
                    Species(replacement, round(states[replacement])), Species(old, round(proto_states[0][old]))
                )
            key = (proto.phase_id, tuple(sorted(mapping.items())))
            found[key] = Candidate(target.reduced_formula, proto.phase_id, mapping, float(probability))
    return sorted(found.values(), key=lambda c: -c.probability)[:limit]


def screen_formula(
    formula: str,
    *,
    library: PhaseLibrary | None = None,
    inventory: Inventory | None = None,
    hull_threshold_ev: float = DEFAULT_HULL_EV,
    candidates: int = 3,
    competitors: int = 2,
    steps: int = RELAX_STEPS,
    optimizer: Any = None,
) -> FormulaScreening:
    """Screen a formula the library does not hold (see the module docstring for the steps)."""
    from pymatgen.core import Composition

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    library = library if library is not None else default_library()
    try:
        reduced = Composition(formula).reduced_formula
    except Exception as error:
        raise ValidationError("formula", f"'{formula}' is not a formula ({error}); e.g. MgMnO3") from None
    result = FormulaScreening(reduced)
    result.candidates = structure_candidates(reduced, library, candidates)
    if not result.candidates:
        result.notes.append("no library prototype has this stoichiometry and anion chemistry: no structure to relax")
        return result
    # CHGNet prints its banner on stdout: keep stdout for the result (--json)
    with contextlib.redirect_stdout(sys.stderr):
        optimizer = optimizer if optimizer is not None else chgnet_optimizer()
        return _relax_and_screen(result, reduced, library, inventory, hull_threshold_ev, competitors, steps, optimizer)


def _relax_and_screen(
    result: FormulaScreening,
    reduced: str,
    library: PhaseLibrary,
    inventory: Inventory | None,
    hull_threshold_ev: float,
    competitors: int,
    steps: int,
    optimizer: Any,
) -> FormulaScreening:
    from pymatgen.core import Composition

    for candidate in list(result.candidates):
        try:
            relax(candidate, library, steps, optimizer)
        except ValidationError as error:  # a prototype cell too big to relax here
            result.notes.append(f"{candidate.prototype}-type not relaxed: {error}")
            result.candidates.remove(candidate)
    if not result.candidates:
        return result
    result.kept = min(result.candidates, key=lambda c: c.energy_per_atom_ev)
    extended = library.copy()
    if competitors > 0:
        elements = sorted({el.symbol for el in Composition(reduced).elements})
        others = [c for c in substitutions(elements, library, limit=competitors + 4) if c.formula != reduced]
        for number, other in enumerate(others[:competitors], start=1):
            try:
                relax(other, library, steps, optimizer)
            except ValidationError as error:
                result.notes.append(f"competitor {other.formula} not relaxed: {error}")
                continue
            extended.add(_phase(f"generated-{other.formula}-{number}", other), replace=True)
            result.competitors.append(other)
    if not result.competitors:
        result.notes.append("none generated: the hull uses the library's phases only")
    kept = _phase(f"candidate-{reduced}", result.kept)
    screener = Screener(inventory, extended, hull_threshold_ev).with_phase(kept)
    result.screening = screener.screen(kept.phase_id)
    result.phase = kept
    return result


def _phase(phase_id: str, candidate: Candidate) -> Phase:
    return Phase.from_structure(
        phase_id,
        candidate.structure,
        roles=("candidate",),
        name=f"{candidate.formula} ({candidate.prototype}-type, substituted)",
        energy_per_atom_ev=candidate.energy_per_atom_ev,
        provenance={"prototype": candidate.prototype, "substitution": candidate.substitution, "relax": "CHGNet"},
    )
