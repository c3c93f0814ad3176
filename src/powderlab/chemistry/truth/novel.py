"""The hidden truth of compounds outside the library: what a predicted new compound really becomes.

A predicted compound (substituted prototype, CHGNet energy) is a hypothesis. In this seeded world
each one has a hidden fate, drawn from (seed, formula) so it does not depend on the order in which
targets are met:

- `as predicted`: the ordered structure forms;
- `disordered`: only a disordered variant forms: its metals share their sites (possible only
  when the order-disorder check finds a known disordered parent, chemistry/disorder.py); the
  diffractometer sees that structure, without the superstructure reflections of the ordering;
- `with impurity`: it forms, but never without a share of a competing phase;
- `not stable`: a hidden energy offset puts it above the hull: it does not form, its competing
  phases do.

The twin's diffractometer uses the true structure (`true_reflections`); the analysis only ever
sees the predicted one. Only the twin and benchmarks use this module (ADR 0044).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from powderlab.chemistry.disorder import FRAMEWORK, check_order_disorder
from powderlab.chemistry.phases import Phase, PhaseLibrary, default_library

FATES = ("as predicted", "disordered", "with impurity", "not stable")


def _rng(seed: int, *names: str) -> np.random.Generator:
    digest = hashlib.sha256("|".join([str(seed), "novel", *names]).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


@dataclass(frozen=True)
class NovelFate:
    """What one predicted compound really is in this world (hidden from the lab)."""

    formula: str
    kind: str  # one of FATES
    energy_offset_ev: float  # added to the predicted energy per atom
    impurity: str = ""  # library phase id of the impurity (kind "with impurity")
    impurity_fraction: float = 0.0
    disordered_parent: str = ""  # the parent the order-disorder check names (kind "disordered")

    @property
    def forms_ordered(self) -> bool:
        """The predicted ordered compound really forms (as the majority of its product)."""
        return self.kind in ("as predicted", "with impurity")

    def to_dict(self) -> dict[str, Any]:
        return {
            "formula": self.formula,
            "kind": self.kind,
            "energy_offset_ev": round(self.energy_offset_ev, 4),
            "impurity": self.impurity,
            "impurity_fraction": round(self.impurity_fraction, 3),
            "disordered_parent": self.disordered_parent,
        }


@dataclass(frozen=True)
class NovelWorld:
    """Hidden fates of predicted compounds for one seed (shares are of targets that can have the fate)."""

    seed: int
    disordered_share: float = 0.6  # of those with a plausible disordered parent
    unstable_share: float = 0.2
    impurity_share: float = 0.25
    unstable_offset_ev: tuple[float, float] = (0.03, 0.08)
    impurity_fraction: tuple[float, float] = (0.10, 0.25)

    def energy_offset(self, phase: Phase) -> float:
        """The hidden energy offset (eV/atom) of a predicted phase: the draws `fate` makes first."""
        rng = _rng(self.seed, phase.reduced_formula)
        draw_unstable = rng.random(3)[0]
        offset = float(rng.normal(0.0, 0.01))
        if draw_unstable < self.unstable_share:
            offset += float(rng.uniform(*self.unstable_offset_ev))
        return offset

    def fate(self, phase: Phase, library: PhaseLibrary | None = None) -> NovelFate:
        """The hidden fate of a predicted phase (its structure is the prediction)."""
        library = library if library is not None else default_library()
        rng = _rng(self.seed, phase.reduced_formula)
        draw_unstable, draw_disorder, draw_impurity = rng.random(3)
        offset = float(rng.normal(0.0, 0.01))
        if draw_unstable < self.unstable_share:
            return NovelFate(phase.reduced_formula, "not stable", offset + float(rng.uniform(*self.unstable_offset_ev)))
        check = check_order_disorder(phase.structure(), library, exclude=[phase.phase_id])
        if check.matched and draw_disorder < self.disordered_share:
            return NovelFate(phase.reduced_formula, "disordered", offset, disordered_parent=check.matches[0].parent_id)
        if draw_impurity < self.impurity_share:
            competing = _competing(phase, library)
            if competing:
                impurity = competing[int(rng.integers(len(competing)))]
                fraction = float(rng.uniform(*self.impurity_fraction))
                return NovelFate(phase.reduced_formula, "with impurity", offset, impurity, fraction)
        return NovelFate(phase.reduced_formula, "as predicted", offset)


def _competing(phase: Phase, library: PhaseLibrary) -> list[str]:
    """Known phases of the target's chemical system with at least one of its metals (binary oxides,
    other ternaries): the natural impurities."""
    metals = {e for e in phase.elements if e not in FRAMEWORK}
    return sorted(
        p.phase_id
        for p in library.in_system(phase.elements)
        if p.phase_id != phase.phase_id and {e for e in p.elements if e not in FRAMEWORK} & metals
    )


def disordered_structure(phase: Phase) -> Any:
    """The predicted structure with its metals sharing every metal site (the disordered variant)."""
    from pymatgen.core import Structure

    structure = phase.structure()
    metals = {el.symbol: amount for el, amount in structure.composition.items() if el.symbol not in FRAMEWORK}
    total = sum(metals.values())
    mixed = {m: a / total for m, a in metals.items()}
    species = [dict(mixed) if site.specie.symbol not in FRAMEWORK else {site.specie.symbol: 1.0} for site in structure]
    return Structure(structure.lattice, species, structure.frac_coords)


def true_reflections(phase: Phase, fate: NovelFate) -> Any:
    """Reflections of what really forms in place of the predicted phase (for the diffractometer)."""
    from powderlab.chemistry.xrd.reflections import reflections_from_structure

    structure = disordered_structure(phase) if fate.kind == "disordered" else phase.structure()
    return reflections_from_structure(structure)


def true_product(phase: Phase, fate: NovelFate, target_share: float) -> dict[str, float]:
    """Weight fractions of what forms when a synthesis gives `target_share` of the target (the rest:
    what the recipe leaves, named 'rest'): the fate moves mass from the target to its impurity, or
    (not stable) to its competing phases."""
    share = min(max(target_share, 0.0), 1.0)
    if fate.kind == "not stable":
        return {"rest": 1.0}
    if fate.kind == "with impurity":
        taken = share * fate.impurity_fraction
        return {phase.phase_id: share - taken, fate.impurity: taken, "rest": 1.0 - share}
    return {phase.phase_id: share, "rest": 1.0 - share}


def what_forms(
    fractions: dict[str, float], library: PhaseLibrary, seed: int
) -> tuple[dict[str, float], dict[str, Any]]:
    """(weight fractions, reflections by phase id) of what a diffractometer really sees, given the
    phases the truth model formed: a predicted (candidate) phase becomes its fate (its impurity
    share split off; a disordered variant's reflections)."""
    world = NovelWorld(seed)
    seen = dict(fractions)
    references: dict[str, Any] = {}
    for phase_id, share in fractions.items():
        if phase_id not in library or "candidate" not in library.get(phase_id).roles:
            continue
        phase = library.get(phase_id)
        fate = world.fate(phase, library)
        if fate.kind == "with impurity":
            seen[phase_id] = share * (1.0 - fate.impurity_fraction)
            seen[fate.impurity] = seen.get(fate.impurity, 0.0) + share * fate.impurity_fraction
        references[phase_id] = true_reflections(phase, fate)
    return seen, references
