"""Formation energies, Gibbs energies against temperature and phase diagrams of library phases.

Formation enthalpies (ADR 0042): E_f = (E_CHGNet - sum_i n_i mu_i) / N, where mu_i are fitted
elemental reference energies (FERE-like least squares against experimental enthalpies of
formation of oxides, carbonates, hydroxides, nitrates and phosphates; solid elements tied weakly
to their CHGNet elemental energy, O, C, H and N free; stored with the library). Gibbs
energies at T add Bartel et al.'s SISSO descriptor G^delta(T) and subtract the elements'
experimental G(T), as pymatgen's GibbsComputedStructureEntry does, vectorised over a
temperature grid so the hidden-truth model can call it often.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from functools import cached_property, lru_cache
from importlib import resources
from itertools import combinations
from typing import Any

import numpy as np

from powderlab.chemistry.phases import Phase, PhaseLibrary, default_library
from powderlab.core.errors import ValidationError

TEMPERATURE_GRID_K = np.arange(300.0, 2001.0, 100.0)


class Thermo:
    """Energies of the phases of one library on one consistent scale."""

    def __init__(self, library: PhaseLibrary | None = None) -> None:
        self.library = library if library is not None else default_library()
        refs = self.library.meta.get("reference_chemical_potentials_ev")
        if not refs:
            raise ValidationError("phase library", "has no reference chemical potentials; rebuild it")
        self.references: dict[str, float] = dict(refs)
        self._gibbs_cache: dict[str, np.ndarray] = {}

    # --- enthalpies --------------------------------------------------------------------------

    def has_energy(self, phase: Phase | str) -> bool:
        phase = self._phase(phase)
        return phase.energy_per_atom_ev is not None and all(e in self.references for e in phase.elements)

    def formation_energy_per_atom(self, phase: Phase | str) -> float:
        """Formation enthalpy (eV/atom) on the fitted CHGNet scale (about 298 K)."""
        phase = self._phase(phase)
        if phase.energy_per_atom_ev is None:
            raise ValidationError(
                f"phase {phase.phase_id}", "has no energy; give one (CIF phases need energy_per_atom_ev)"
            )
        comp = phase.composition
        missing = sorted(e for e in phase.elements if e not in self.references)
        if missing:
            raise ValidationError(f"phase {phase.phase_id}", f"no reference energy for {', '.join(missing)}")
        reference = sum(amount * self.references[el.symbol] for el, amount in comp.items())
        return phase.energy_per_atom_ev - reference / comp.num_atoms

    def formation_energy(self, phase: Phase | str) -> float:
        """Formation enthalpy (eV) per reduced formula unit."""
        phase = self._phase(phase)
        return self.formation_energy_per_atom(phase) * phase.composition.num_atoms

    # --- Gibbs energies ----------------------------------------------------------------------

    def gibbs_formation_per_atom(self, phase: Phase | str, temperature_k: float) -> float:
        """Gibbs energy of formation (eV/atom) at T (300-2000 K), SISSO descriptor."""
        phase = self._phase(phase)
        if not 298.0 <= temperature_k <= 2000.0:
            raise ValidationError("temperature_k", f"{temperature_k:g} K is out of range; allowed: 300 to 2000 K")
        if phase.phase_id not in self._gibbs_cache:
            self._gibbs_cache[phase.phase_id] = self._gibbs_grid(phase)
        return float(np.interp(temperature_k, TEMPERATURE_GRID_K, self._gibbs_cache[phase.phase_id]))

    def _gibbs_grid(self, phase: Phase) -> np.ndarray:
        h_f = self.formation_energy_per_atom(phase)
        comp = phase.composition
        if len(comp.elements) == 1:
            return np.zeros_like(TEMPERATURE_GRID_K)
        structure = phase.structure()
        volume = structure.volume / len(structure)
        mass = _reduced_mass(comp)
        amounts = comp.get_el_amt_dict()
        elements = _element_gibbs()
        values = []
        for temperature in TEMPERATURE_GRID_K:
            g_elements = sum(a * elements[str(int(temperature))][el] for el, a in amounts.items())
            values.append(h_f + sisso_g_delta(volume, mass, temperature) - g_elements / comp.num_atoms)
        return np.asarray(values)

    # --- phase diagrams ----------------------------------------------------------------------

    def entries(self, elements: Iterable[str], temperature_k: float | None = None) -> list[Any]:
        """pymatgen PDEntry objects (formation energies; elements at zero) of a chemical system."""
        from pymatgen.analysis.phase_diagram import PDEntry
        from pymatgen.core import Composition

        allowed = sorted({e.strip() for e in elements})
        entries = [PDEntry(Composition(el), 0.0, name=el) for el in allowed]
        for phase in self.library.in_system(allowed):
            if not self.has_energy(phase) or len(phase.elements) == 1:
                continue
            per_atom = (
                self.formation_energy_per_atom(phase)
                if temperature_k is None
                else self.gibbs_formation_per_atom(phase, temperature_k)
            )
            comp = phase.composition
            entries.append(PDEntry(comp, per_atom * comp.num_atoms, name=phase.phase_id))
        return entries

    def phase_diagram(self, elements: Iterable[str], temperature_k: float | None = None) -> Any:
        """pymatgen PhaseDiagram of the chemical system (0 K enthalpies, or Gibbs energies at T)."""
        from pymatgen.analysis.phase_diagram import PhaseDiagram

        return PhaseDiagram(self.entries(elements, temperature_k))

    def e_above_hull(self, phase: Phase | str, temperature_k: float | None = None) -> float:
        """Energy above the convex hull of the phase's own chemical system (eV/atom)."""
        phase = self._phase(phase)
        diagram = self.phase_diagram(phase.elements, temperature_k)
        entry = next(e for e in diagram.all_entries if e.name == phase.phase_id)
        return float(diagram.get_e_above_hull(entry))

    def decomposition(self, phase: Phase | str, temperature_k: float | None = None) -> dict[str, float]:
        """The hull phases (by id) the phase would decompose to, with atom fractions."""
        phase = self._phase(phase)
        diagram = self.phase_diagram(phase.elements, temperature_k)
        decomposition = diagram.get_decomposition(phase.composition)
        return {entry.name: float(amount) for entry, amount in decomposition.items()}

    @cached_property
    def fit_report(self) -> dict[str, Any]:
        return dict(self.library.meta.get("reference_fit", {}))

    def _phase(self, phase: Phase | str) -> Phase:
        return phase if isinstance(phase, Phase) else self.library.find(phase)


def sisso_g_delta(volume_per_atom: float, reduced_mass: float, temperature_k: float) -> float:
    """G^delta(T) in eV/atom, Bartel et al., Nat. Commun. 9, 4168 (2018), eq. 4 (as in pymatgen)."""
    return (
        (-2.48e-4 * math.log(volume_per_atom) - 8.94e-5 * reduced_mass / volume_per_atom) * temperature_k
        + 0.181 * math.log(temperature_k)
        - 0.882
    )


def _reduced_mass(composition: Any) -> float:
    """Bartel et al. eq. 6: the stoichiometry-weighted pairwise reduced mass (amu)."""
    amounts = composition.get_el_amt_dict()
    if len(amounts) < 2:
        return 0.0
    from pymatgen.core import Element

    total = 0.0
    for (a, x_a), (b, x_b) in combinations(amounts.items(), 2):
        m_a, m_b = float(Element(a).atomic_mass), float(Element(b).atomic_mass)
        total += (x_a + x_b) * m_a * m_b / (m_a + m_b)
    return total / ((len(amounts) - 1) * composition.num_atoms)


@lru_cache(maxsize=1)
def _element_gibbs() -> dict[str, dict[str, float]]:
    """Experimental G(T) of the elements (eV/atom) shipped with pymatgen (core/data/g_els.json)."""
    return json.loads(resources.files("pymatgen.core").joinpath("data/g_els.json").read_text())


_DEFAULT: Thermo | None = None


def default_thermo() -> Thermo:
    """Thermo over the packaged library (created once)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = Thermo()
    return _DEFAULT


def e_above_hull(phase: str, temperature_k: float | None = None) -> float:
    """Energy above hull (eV/atom) of a library phase (id or formula)."""
    return default_thermo().e_above_hull(phase, temperature_k)


def phase_diagram(elements: Iterable[str], temperature_k: float | None = None) -> Any:
    """pymatgen PhaseDiagram of a chemical system from the packaged library."""
    return default_thermo().phase_diagram(elements, temperature_k)
