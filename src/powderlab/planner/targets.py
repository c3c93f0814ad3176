"""External targets: a list of compounds from any planner (formula, optional structure, optional energy).

Accepted forms: a mapping with `targets:` (a list), or the list itself. Each entry is a formula
string or a mapping:

```yaml
targets:
  - LiCoO2                                  # a library phase by formula or id
  - formula: NaAlO2
    structure: |                            # optional: CIF text, or a pymatgen Structure dict
      data_NaAlO2 ...
    energy_per_atom_ev: -6.58               # optional: CHGNet / MP2020 scale (else relaxed with CHGNet)
    budget: 4
    priority: 1
```

Every entry is checked on its own; a bad entry gets an error naming it and what is allowed, the
good ones are still accepted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from powderlab.chemistry.phases import Phase, PhaseLibrary
from powderlab.core.errors import PowderLabError, UnknownResourceError, ValidationError

ENTRY_KEYS = {"formula", "target", "structure", "energy_per_atom_ev", "budget", "priority", "notes"}
DEFAULT_BUDGET = 4


@dataclass(frozen=True)
class TargetEntry:
    """One accepted target: the library phase it stands for and the campaign settings."""

    formula: str
    phase_id: str
    budget: int = DEFAULT_BUDGET
    priority: int = 0
    notes: str = ""
    new_phase: bool = False


@dataclass
class ParsedTargets:
    """Accepted entries, per-entry errors and warnings (screening the target did not pass)."""

    accepted: list[TargetEntry] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def entries_of(data: Any) -> list[Any]:
    """The list of entries of a targets document."""
    if isinstance(data, Mapping):
        if "targets" not in data:
            raise ValidationError("targets", "expected a mapping with 'targets:' (a list) or a list of entries")
        data = data["targets"]
    if not isinstance(data, list):
        raise ValidationError("targets", f"expected a list of entries, got {type(data).__name__}")
    if not data:
        raise ValidationError("targets", "the list is empty; give at least one target")
    return data


def parse_entry(item: Any, library: PhaseLibrary, relax: Any = None) -> tuple[TargetEntry, Phase | None]:
    """One entry -> (entry, a new phase to add to the library or None). Raises ValidationError."""
    if isinstance(item, str):
        item = {"formula": item}
    if not isinstance(item, Mapping):
        raise ValidationError("entry", f"expected a formula or a mapping, got {item!r}")
    unknown = sorted(set(item) - ENTRY_KEYS)
    if unknown:
        raise ValidationError("entry", f"unknown keys {unknown}; allowed: {sorted(ENTRY_KEYS)}")
    formula = item.get("formula", item.get("target"))
    if not isinstance(formula, str) or not formula.strip():
        raise ValidationError("entry", "needs 'formula', e.g. formula: LiCoO2")
    composition = _composition(formula)
    budget = item.get("budget", DEFAULT_BUDGET)
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
        raise ValidationError("budget", f"{budget!r}; allowed: an integer >= 1")
    priority = item.get("priority", 0)
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise ValidationError("priority", f"{priority!r}; allowed: an integer")
    energy = item.get("energy_per_atom_ev")
    if energy is not None and (
        isinstance(energy, bool) or not isinstance(energy, int | float) or not math.isfinite(energy)
    ):
        raise ValidationError("energy_per_atom_ev", f"{energy!r}; allowed: a number (eV/atom, CHGNet / MP2020 scale)")
    notes = str(item.get("notes", ""))
    structure = item.get("structure")
    if structure is None:
        if energy is not None:
            raise ValidationError("energy_per_atom_ev", "given without a structure; give the structure too")
        try:
            phase = library.find(formula.strip())
        except UnknownResourceError:
            raise ValidationError(
                "formula", f"{formula} is not in the phase library; give its structure (CIF) and energy"
            ) from None
        return TargetEntry(phase.reduced_formula, phase.phase_id, budget, priority, notes), None
    parsed = _structure(structure)
    if parsed.composition.reduced_formula != composition.reduced_formula:
        raise ValidationError(
            "structure", f"its composition {parsed.composition.reduced_formula} is not the formula {formula}"
        )
    if energy is None:
        if relax is None:
            raise ValidationError("energy_per_atom_ev", "missing; give it or let the planner relax with CHGNet")
        energy = float(relax(parsed))
    phase_id = f"ext-{composition.reduced_formula}"
    try:
        phase = Phase.from_structure(
            phase_id,
            parsed,
            roles=("target", "external"),
            name=f"{composition.reduced_formula} (external)",
            energy_per_atom_ev=float(energy),
            provenance={"source": "external target list"},
        )
    except PowderLabError as error:
        raise ValidationError("structure", str(error)) from None
    return TargetEntry(phase.reduced_formula, phase_id, budget, priority, notes, new_phase=True), phase


def _composition(formula: str) -> Any:
    """The formula's composition; the same check (and message) as every other entry point."""
    from powderlab.chemistry.formulas import parse_formula

    return parse_formula(formula, "formula")


def _structure(data: Any) -> Any:
    from pymatgen.core import Structure

    try:
        if isinstance(data, str):
            return Structure.from_str(data, fmt="cif")
        if isinstance(data, Mapping):
            return Structure.from_dict(dict(data))
    except Exception as error:  # CIF and dict parsers raise many kinds
        raise ValidationError("structure", f"could not be read ({type(error).__name__}: {error})") from None
    raise ValidationError("structure", "expected CIF text or a pymatgen Structure dict")
