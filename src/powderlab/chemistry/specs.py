"""Phase specifications (space group + Wyckoff positions) and the structures built from them.

`data/phase_specs.yaml` is the hand-written source of the reference library; the tools under
`tools/` build structures from it, compute their energies with CHGNet and write the packaged
library (`data/phases.json.gz`). Runtime code reads that library, not this module.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from powderlab.core.errors import ValidationError

SPECS_PATH = Path(__file__).resolve().parent / "data" / "phase_specs.yaml"
HEXAGONAL_FAMILIES = ("trigonal", "hexagonal")


@dataclass(frozen=True)
class PhaseSpec:
    """One hand-written phase: what pymatgen's Structure.from_spacegroup needs, and its provenance."""

    phase_id: str
    formula: str
    spacegroup: str
    cell: tuple[float, ...]
    sites: tuple[tuple[str, tuple[float, float, float]], ...]
    ref: str
    roles: tuple[str, ...] = ()
    name: str = ""
    origin: int = 1
    shift: tuple[float, float, float] | None = None
    quality: str = "literature"
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def digest(self) -> str:
        """A short hash of what defines the structure (an edited spec gets new energies)."""
        text = json.dumps([self.spacegroup, self.cell, self.sites, self.origin, self.shift], sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def structure(self) -> Any:
        """The conventional-cell pymatgen Structure."""
        from pymatgen.core import Lattice, Structure
        from pymatgen.symmetry.groups import SpaceGroup

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            group = SpaceGroup(self.spacegroup)
            lattice = _lattice(self.phase_id, group.crystal_system, self.cell, Lattice)
            shift = np.zeros(3)
            if self.origin == 2:
                shift = np.asarray(self.shift) if self.shift is not None else _origin_shift(group)
            species = [element for element, _ in self.sites]
            coords = [np.asarray(xyz) + shift for _, xyz in self.sites]
            structure = Structure.from_spacegroup(self.spacegroup, lattice, species, coords, tol=1e-3)
        return structure.get_sorted_structure()


def _lattice(phase_id: str, system: str, cell: tuple[float, ...], lattice_cls: Any) -> Any:
    if len(cell) == 1:
        return lattice_cls.cubic(cell[0])
    if len(cell) == 2:
        if system in HEXAGONAL_FAMILIES:
            return lattice_cls.hexagonal(cell[0], cell[1])
        return lattice_cls.tetragonal(cell[0], cell[1])
    if len(cell) == 3:
        return lattice_cls.orthorhombic(*cell)
    if len(cell) == 4:
        a, b, c, beta = cell
        return lattice_cls.monoclinic(a, b, c, beta)
    if len(cell) == 6:
        return lattice_cls.from_parameters(*cell)
    raise ValidationError(f"phase {phase_id} cell", f"{len(cell)} numbers given; allowed: 1, 2, 3, 4 or 6")


def _origin_shift(group: Any) -> np.ndarray:
    """Shift from origin choice 2 (inversion at the origin) to pymatgen's default setting."""
    centres = [op.translation_vector / 2.0 for op in group.symmetry_ops if np.allclose(op.rotation_matrix, -np.eye(3))]
    if not centres:
        raise ValidationError("origin", f"space group {group.symbol} is not centrosymmetric; origin 2 does not apply")
    return min(centres, key=lambda c: float(np.linalg.norm(c)))


def parse_sites(phase_id: str, text: str) -> tuple[tuple[str, tuple[float, float, float]], ...]:
    """'El x y z; El x y z' -> ((El, (x, y, z)), ...)."""
    sites = []
    for chunk in text.split(";"):
        parts = chunk.split()
        if len(parts) != 4:
            raise ValidationError(f"phase {phase_id} sites", f"'{chunk.strip()}' must be 'Element x y z'")
        sites.append((parts[0], (_number(parts[1]), _number(parts[2]), _number(parts[3]))))
    return tuple(sites)


def _number(text: str) -> float:
    """A coordinate: a decimal or a fraction such as 1/3."""
    if "/" in text:
        numerator, denominator = text.split("/", 1)
        return float(numerator) / float(denominator)
    return float(text)


def load_specs(path: Path = SPECS_PATH) -> list[PhaseSpec]:
    """Every PhaseSpec of the YAML file, in file order."""
    data = yaml.safe_load(Path(path).read_text())
    specs = []
    known = {"id", "formula", "sg", "cell", "sites", "ref", "roles", "name", "origin", "shift", "quality", "note"}
    for item in data["phases"]:
        unknown = sorted(set(item) - known)
        if unknown:
            raise ValidationError(f"phase {item.get('id')}", f"unknown keys {unknown}; allowed: {sorted(known)}")
        specs.append(
            PhaseSpec(
                phase_id=str(item["id"]),
                formula=str(item.get("formula", item["id"])),
                spacegroup=str(item["sg"]),
                cell=tuple(float(x) for x in item["cell"]),
                sites=parse_sites(str(item["id"]), item["sites"]),
                ref=str(item["ref"]),
                roles=tuple(item.get("roles", ())),
                name=str(item.get("name", "")),
                origin=int(item.get("origin", 1)),
                shift=tuple(item["shift"]) if "shift" in item else None,
                quality=str(item.get("quality", "literature")),
                note=str(item.get("note", "")),
            )
        )
    ids = [spec.phase_id for spec in specs]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValidationError("phase_specs", f"duplicate ids: {', '.join(duplicates)}")
    return specs
