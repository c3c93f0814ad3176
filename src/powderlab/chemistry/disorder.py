"""Order-disorder check: is a predicted ordered compound a child of a known disordered phase?

Leeman et al. (2024) found that most "new" compounds of an autonomous lab were most likely known
phases with compositional disorder: the predicted structure is an ordering of cations over the
sites of a known parent, and a powder pattern cannot tell the two apart when the superstructure
reflections are weak. Before a compound is claimed new it is matched against disordered variants
of the known phases (docs/decisions/0099-order-disorder-check.md):

1. The target's site-sharing cations are its metals (polyanion formers P, S, Si, B, C, N and the
   anions keep their own sites).
2. A known phase is a possible parent when it has one metal only (a prototype whose metal sites
   are chemically alike: rock salt, corundum, spinel Co3O4, ...; an ordered multi-metal phase is
   another ordering, not a disordered parent), the same anion / polyanion chemistry and the same
   number of metal atoms per anion as the target.
3. The parent's metal sites are made one mixed site holding the target's metals in the target's
   proportions (the fully disordered variant), and pymatgen's StructureMatcher with its
   OrderDisorderElementComparator asks whether the target's ordered structure is an ordering of
   that disordered structure (supercells tried, lattice scaled).
4. Site sharing must be plausible: the metals' ionic radii (in their likely oxidation states)
   differ by at most `max_radius_mismatch` and their charges by at most `max_charge_difference`.

Plain Python over pymatgen: no CHGNet, no lab.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from powderlab.chemistry.phases import Phase, PhaseLibrary, default_library

FRAMEWORK = frozenset({"P", "S", "Si", "B", "C", "N", "O", "F", "Cl", "Br", "I", "Se", "H"})


@dataclass(frozen=True)
class DisorderRule:
    """Tolerances of the order-disorder check (defaults: Hume-Rothery-like site sharing)."""

    max_radius_mismatch: float = 0.30  # (r_max - r_min) / r_max of the metals sharing a site
    max_charge_difference: int = 2
    ltol: float = 0.2  # StructureMatcher tolerances
    stol: float = 0.3
    angle_tol: float = 5.0
    max_matches: int = 3  # parents named (the most telling first: sharing a metal, one metal only)


@dataclass(frozen=True)
class DisorderMatch:
    """A known phase whose disordered variant the target's structure is an ordering of."""

    parent_id: str
    parent_formula: str
    parent_spacegroup: str
    mixed_site: str  # e.g. "(Li0.5Co0.5)"
    radius_mismatch: float
    charge_difference: int
    rms_distance: float | None  # StructureMatcher's normalised rms displacement

    def to_dict(self) -> dict[str, Any]:
        return {
            "parent_id": self.parent_id,
            "parent_formula": self.parent_formula,
            "parent_spacegroup": self.parent_spacegroup,
            "mixed_site": self.mixed_site,
            "radius_mismatch": round(self.radius_mismatch, 3),
            "charge_difference": self.charge_difference,
            "rms_distance": None if self.rms_distance is None else round(self.rms_distance, 4),
        }

    def describe(self) -> str:
        return (
            f"likely a known disordered phase: {self.parent_formula} ({self.parent_id}, {self.parent_spacegroup}) "
            f"with {self.mixed_site} on its metal site"
        )


@dataclass(frozen=True)
class DisorderCheck:
    """The outcome of the check for one predicted structure, with what was compared."""

    formula: str
    metals: tuple[str, ...]
    matches: tuple[DisorderMatch, ...]
    compared: tuple[str, ...]  # library phases that qualified as possible parents
    note: str = ""

    @property
    def matched(self) -> bool:
        return bool(self.matches)

    def to_dict(self) -> dict[str, Any]:
        return {
            "formula": self.formula,
            "metals": list(self.metals),
            "matched": self.matched,
            "matches": [m.to_dict() for m in self.matches],
            "compared": list(self.compared),
            "note": self.note,
        }


def _metals(composition: Any) -> dict[str, float]:
    return {el.symbol: amount for el, amount in composition.items() if el.symbol not in FRAMEWORK}


def _framework(composition: Any) -> dict[str, float]:
    return {el.symbol: amount for el, amount in composition.items() if el.symbol in FRAMEWORK}


def _per_anion(composition: Any) -> tuple[float, dict[str, float]]:
    """(metal atoms per framework atom, framework proportions) of a composition."""
    framework = _framework(composition)
    total = sum(framework.values())
    if total <= 0:
        return 0.0, {}
    return sum(_metals(composition).values()) / total, {k: v / total for k, v in framework.items()}


def _similarity(composition: Any, metals: Iterable[str]) -> tuple[float, int]:
    """(relative ionic-radius mismatch, largest charge difference) of the metals in their most
    likely oxidation states (Shannon radii, six-fold where known)."""
    from pymatgen.core import Species

    guesses = composition.oxi_state_guesses(max_sites=-50) if len(composition) > 1 else []
    states = guesses[0] if guesses else {}
    radii, charges = [], []
    for metal in metals:
        charge = round(states.get(metal, 0)) or _common_state(metal)
        charges.append(charge)
        try:
            radius = Species(metal, charge).ionic_radius
        except Exception:  # pymatgen has no radius for this state
            radius = None
        if radius:
            radii.append(float(radius))
    mismatch = (max(radii) - min(radii)) / max(radii) if len(radii) > 1 else 0.0
    return mismatch, (max(charges) - min(charges)) if charges else 0


def _common_state(metal: str) -> int:
    from pymatgen.core import Element

    states = Element(metal).common_oxidation_states
    return int(states[0]) if states else 0


def check_order_disorder(
    structure: Any,
    library: PhaseLibrary | None = None,
    *,
    exclude: Iterable[str] = (),
    rule: DisorderRule | None = None,
) -> DisorderCheck:
    """Match an ordered predicted structure (pymatgen Structure) against the disordered variants
    of the library's phases; `exclude` names phase ids not to compare with (the target itself)."""
    from pymatgen.analysis.structure_matcher import OrderDisorderElementComparator, StructureMatcher

    rule = rule or DisorderRule()
    library = library if library is not None else default_library()
    composition = structure.composition.reduced_composition
    formula = composition.reduced_formula
    metals = _metals(composition)
    if len(metals) < 2:
        return DisorderCheck(formula, tuple(metals), (), (), "one metal only: no cations to share a site")
    ratio, framework = _per_anion(composition)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pymatgen warns when it falls back to low-spin radii
        mismatch, charge_difference = _similarity(composition, metals)
    plausible = mismatch <= rule.max_radius_mismatch and charge_difference <= rule.max_charge_difference
    total = sum(metals.values())
    mixed = {metal: amount / total for metal, amount in metals.items()}
    mixed_site = "(" + "".join(f"{m}{x:.3g}" for m, x in sorted(mixed.items())) + ")"
    excluded = set(exclude)
    matcher = StructureMatcher(
        ltol=rule.ltol,
        stol=rule.stol,
        angle_tol=rule.angle_tol,
        primitive_cell=True,
        scale=True,
        attempt_supercell=True,
        comparator=OrderDisorderElementComparator(),
    )
    matches, compared = [], []
    for parent in _parents_first(library, metals):
        if len(matches) >= rule.max_matches:
            break
        if parent.phase_id in excluded or "element" in parent.roles or len(_metals(parent.composition)) != 1:
            continue
        parent_comp = parent.composition
        if parent_comp.reduced_formula == formula:
            continue
        parent_ratio, parent_framework = _per_anion(parent_comp)
        if not parent_framework or set(parent_framework) != set(framework):
            continue
        if abs(parent_ratio - ratio) > 1e-6 or any(abs(parent_framework[k] - framework[k]) > 1e-6 for k in framework):
            continue
        compared.append(parent.phase_id)
        if not plausible:
            continue  # listed as compared; site sharing is ruled out before any structure match
        disordered = _disordered_variant(parent, mixed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fits = matcher.fit(disordered, structure)
                rms = matcher.get_rms_dist(disordered, structure) if fits else None
            except Exception:  # spglib / the matcher refuse some cells: no evidence either way
                fits, rms = False, None
        if not fits:
            continue
        matches.append(
            DisorderMatch(
                parent.phase_id,
                parent.reduced_formula,
                parent.spacegroup,
                mixed_site,
                mismatch,
                charge_difference,
                None if rms is None else float(rms[0]),
            )
        )
    note = ""
    if not compared:
        note = "no known phase with the same anion chemistry and metal-to-anion ratio"
    elif not plausible:
        note = (
            f"metals too different to share a site (radius mismatch {mismatch:.2f}, "
            f"charges differ by {charge_difference})"
        )
    return DisorderCheck(formula, tuple(sorted(metals)), tuple(matches), tuple(compared), note)


def _parents_first(library: PhaseLibrary, metals: dict[str, float]) -> list[Phase]:
    """Library phases, the most telling parents first: those with a metal of the target, then
    those with one metal only (a simple disordered prototype rather than another ordering)."""

    def rank(phase: Phase) -> tuple[int, int, str]:
        own = _metals(phase.composition)
        return (0 if set(own) & set(metals) else 1, len(own), phase.phase_id)

    return sorted(library, key=rank)


def _disordered_variant(parent: Phase, mixed: dict[str, float]) -> Any:
    """The parent with every metal site holding the target's metals in its proportions."""
    structure = parent.structure()
    species = []
    for site in structure:
        symbol = site.specie.symbol
        species.append(dict(mixed) if symbol not in FRAMEWORK else {symbol: 1.0})
    from pymatgen.core import Structure

    return Structure(structure.lattice, species, structure.frac_coords)


@lru_cache(maxsize=512)
def check_library_phase(phase_id: str) -> DisorderCheck:
    """The check for a phase of the packaged library (cached: a campaign asks once per target)."""
    library = default_library()
    phase = library.get(phase_id)
    return check_order_disorder(phase.structure(), library, exclude=[phase_id])
