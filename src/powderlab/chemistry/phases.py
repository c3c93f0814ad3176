"""The reference phase library: structures, CHGNet energies, provenance and thermal data.

Loaded from the packaged `data/phases.json.gz` (written by tools/build_phase_library.py); users
add phases from CIF files with `PhaseLibrary.add_cif`. Nothing here calls CHGNet.
"""

from __future__ import annotations

import gzip
import json
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from powderlab.core.errors import UnknownResourceError, ValidationError

DATA_DIR = Path(__file__).resolve().parent / "data"
PHASES_FILE = DATA_DIR / "phases.json.gz"
REFLECTIONS_FILE = DATA_DIR / "reflections.json.gz"
GAS_ELEMENTS = frozenset({"O", "C", "H", "N"})  # elements a furnace in air can give or take as gas


@dataclass(frozen=True)
class Phase:
    """One crystalline phase: structure, energy and where both come from."""

    phase_id: str
    formula: str
    spacegroup: str
    lattice: tuple[tuple[float, float, float], ...]
    species: tuple[str, ...]
    frac_coords: tuple[tuple[float, float, float], ...]
    roles: tuple[str, ...] = ()
    name: str = ""
    energy_per_atom_ev: float | None = None  # CHGNet total energy of the relaxed primitive cell
    provenance: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    thermal: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @cached_property
    def composition(self) -> Any:
        """pymatgen Composition of the formula (reduced)."""
        from pymatgen.core import Composition

        return Composition(self.formula).reduced_composition

    @property
    def reduced_formula(self) -> str:
        return self.composition.reduced_formula

    @property
    def elements(self) -> frozenset[str]:
        return frozenset(el.symbol for el in self.composition.elements)

    @property
    def melting_c(self) -> float | None:
        """Melting (or decomposition, when it comes first) temperature in C, when known."""
        return self.thermal.get("melting_c") or self.thermal.get("decomposition_c")

    @property
    def tamman_c(self) -> float | None:
        """Tamman temperature (2/3 of the melting point in K) in C, when the melting point is known."""
        melting = self.melting_c
        return None if melting is None else (melting + 273.15) * 2.0 / 3.0 - 273.15

    def structure(self) -> Any:
        """The pymatgen Structure (conventional cell, as given by the spec or the CIF)."""
        from pymatgen.core import Lattice, Structure

        return Structure(Lattice(self.lattice), list(self.species), [list(c) for c in self.frac_coords])

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase_id": self.phase_id,
            "formula": self.formula,
            "spacegroup": self.spacegroup,
            "lattice": [list(v) for v in self.lattice],
            "species": list(self.species),
            "frac_coords": [list(c) for c in self.frac_coords],
            "roles": list(self.roles),
            "name": self.name,
            "energy_per_atom_ev": self.energy_per_atom_ev,
            "provenance": self.provenance,
            "thermal": self.thermal,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Phase:
        return Phase(
            phase_id=data["phase_id"],
            formula=data["formula"],
            spacegroup=data["spacegroup"],
            lattice=tuple(tuple(v) for v in data["lattice"]),
            species=tuple(data["species"]),
            frac_coords=tuple(tuple(c) for c in data["frac_coords"]),
            roles=tuple(data.get("roles", ())),
            name=data.get("name", ""),
            energy_per_atom_ev=data.get("energy_per_atom_ev"),
            provenance=dict(data.get("provenance", {})),
            thermal=dict(data.get("thermal", {})),
        )

    @staticmethod
    def from_structure(phase_id: str, structure: Any, **kwargs: Any) -> Phase:
        """A Phase from a pymatgen Structure (ordered sites only)."""
        if not structure.is_ordered:
            raise ValidationError(f"phase {phase_id}", "has partially occupied sites; allowed: ordered structures only")
        from pymatgen.symmetry.analyzer import SpacegroupAnalyzer

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                spacegroup = SpacegroupAnalyzer(structure, symprec=0.01).get_space_group_symbol()
            except Exception:  # spglib refuses some cells; the symbol is informative only
                spacegroup = "?"
        return Phase(
            phase_id=phase_id,
            formula=kwargs.pop("formula", structure.composition.reduced_formula),
            spacegroup=spacegroup,
            lattice=tuple(tuple(float(x) for x in row) for row in structure.lattice.matrix),
            species=tuple(site.specie.symbol for site in structure),
            frac_coords=tuple(tuple(round(float(x), 6) for x in site.frac_coords) for site in structure),
            **kwargs,
        )


class PhaseLibrary:
    """A set of phases with lookups by id, formula and chemical system."""

    def __init__(self, phases: Iterable[Phase], meta: dict[str, Any] | None = None) -> None:
        self._phases: dict[str, Phase] = {}
        self._reflections: dict[str, Any] = {}
        self.meta: dict[str, Any] = dict(meta or {})
        for phase in phases:
            self.add(phase)

    # --- loading ---------------------------------------------------------------------------

    @staticmethod
    def load(path: Path = PHASES_FILE) -> PhaseLibrary:
        """The library stored in a phases.json(.gz) file."""
        data = _read_json(path)
        return PhaseLibrary((Phase.from_dict(item) for item in data["phases"]), meta=data.get("meta", {}))

    def copy(self) -> PhaseLibrary:
        """An independent library with the same phases (add to it without touching the default)."""
        clone = PhaseLibrary(self._phases.values(), self.meta)
        clone._reflections = dict(self._reflections)
        return clone

    # --- lookups ---------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._phases)

    def __iter__(self) -> Iterator[Phase]:
        return iter(self._phases.values())

    def __contains__(self, phase_id: object) -> bool:
        return phase_id in self._phases

    @property
    def ids(self) -> list[str]:
        return list(self._phases)

    def get(self, phase_id: str) -> Phase:
        """The phase with this id, or UnknownResourceError listing similar ids."""
        try:
            return self._phases[phase_id]
        except KeyError:
            raise UnknownResourceError("phase", phase_id, self._similar_ids(phase_id)) from None

    def find(self, name: str) -> Phase:
        """A phase by id, or by formula (the lowest-energy polymorph of that formula)."""
        if name in self._phases:
            return self._phases[name]
        matches = self.by_formula(name)
        if not matches:
            raise UnknownResourceError("phase or formula", name, self._similar_ids(name))
        return matches[0]

    def by_formula(self, formula: str) -> list[Phase]:
        """Every polymorph of a formula, lowest energy first (phases without energy last)."""
        reduced = _reduced_formula(formula)
        if reduced is None:
            return []
        found = [p for p in self._phases.values() if p.reduced_formula == reduced]
        return sorted(found, key=lambda p: (p.energy_per_atom_ev is None, p.energy_per_atom_ev or 0.0))

    def in_system(self, elements: Iterable[str], include_elements: bool = False) -> list[Phase]:
        """Phases made only of these elements (elemental phases only when asked)."""
        allowed = {e.strip() for e in elements if e.strip()}
        return [
            p for p in self._phases.values() if p.elements <= allowed and (include_elements or "element" not in p.roles)
        ]

    def with_role(self, role: str) -> list[Phase]:
        return [p for p in self._phases.values() if role in p.roles]

    def chemical_systems(self, role: str = "target") -> list[str]:
        """The distinct chemical systems (elements joined by '-', gas elements included) of a role."""
        return sorted({"-".join(sorted(p.elements)) for p in self.with_role(role)})

    # --- adding ----------------------------------------------------------------------------

    def add(self, phase: Phase, replace: bool = False) -> Phase:
        if phase.phase_id in self._phases and not replace:
            raise ValidationError("phase_id", f"'{phase.phase_id}' is already in the library; give another id")
        self._phases[phase.phase_id] = phase
        self._reflections.pop(phase.phase_id, None)
        return phase

    def add_cif(
        self,
        path: str | Path,
        phase_id: str | None = None,
        energy_per_atom_ev: float | None = None,
        roles: Sequence[str] = ("user",),
        replace: bool = False,
    ) -> Phase:
        """Add the (first) structure of a CIF file; the error names the file when it cannot be read."""
        phase = phase_from_cif(path, phase_id, energy_per_atom_ev, roles)
        return self.add(phase, replace=replace)

    # --- reflections -----------------------------------------------------------------------

    def reflections(self, phase_id: str) -> Any:
        """The phase's Reflections (packaged for library phases, computed once for others)."""
        from powderlab.chemistry.xrd.reflections import Reflections, reflections_from_structure

        if phase_id not in self._reflections:
            packaged = _packaged_reflections().get(phase_id)
            phase = self.get(phase_id)
            if packaged is not None and packaged.get("spec") == phase.provenance.get("spec_hash"):
                self._reflections[phase_id] = Reflections.from_dict(packaged)
            else:
                self._reflections[phase_id] = reflections_from_structure(phase.structure())
        return self._reflections[phase_id]

    def _similar_ids(self, name: str) -> list[str]:
        key = name.lower()[:3]
        similar = [i for i in self._phases if i.lower().startswith(key)]
        return similar or list(self._phases)


def phase_from_cif(
    path: str | Path,
    phase_id: str | None = None,
    energy_per_atom_ev: float | None = None,
    roles: Sequence[str] = ("user",),
) -> Phase:
    """A Phase from a CIF file (ValidationError naming the file when it is missing or unreadable)."""
    from pymatgen.io.cif import CifParser

    path = Path(path)
    if not path.is_file():
        raise ValidationError(str(path), "no such CIF file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            structures = CifParser(str(path)).parse_structures(primitive=False)
    except Exception as error:  # pymatgen raises ValueError, KeyError, ... for malformed CIFs
        raise ValidationError(str(path), f"is not a readable CIF ({type(error).__name__}: {error})") from None
    if not structures:
        raise ValidationError(str(path), "contains no structure; allowed: a CIF with cell and atom sites")
    structure = structures[0]
    if not structure.is_ordered:
        from pymatgen.transformations.standard_transformations import OrderDisorderedStructureTransformation

        raise ValidationError(
            str(path),
            "has partially occupied sites; allowed: ordered structures (order it first, e.g. with "
            f"{OrderDisorderedStructureTransformation.__name__})",
        )
    provenance = {
        "source": f"CIF {path.name}",
        "energy": "given by the user" if energy_per_atom_ev is not None else "none",
    }
    return Phase.from_structure(
        phase_id or path.stem,
        structure,
        roles=tuple(roles),
        energy_per_atom_ev=energy_per_atom_ev,
        provenance=provenance,
    )


@lru_cache(maxsize=1)
def default_library() -> PhaseLibrary:
    """The packaged library, loaded once per process (use .copy() before adding to it)."""
    return PhaseLibrary.load()


@lru_cache(maxsize=1)
def _packaged_reflections() -> dict[str, Any]:
    if not REFLECTIONS_FILE.exists():
        return {}
    return _read_json(REFLECTIONS_FILE)


def _read_json(path: Path) -> Any:
    path = Path(path)
    if not path.exists():
        raise ValidationError(str(path), "missing; build it with tools/build_phase_library.py")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)


@lru_cache(maxsize=4096)
def _reduced_formula(formula: str) -> str | None:
    from pymatgen.core import Composition

    try:
        return Composition(formula).reduced_formula
    except Exception:  # not a formula at all
        return None
