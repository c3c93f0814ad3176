"""Target screening: on or near the hull, stable in air at room temperature, dosable by the lab.

Each check returns a verdict and its reason, so a proposed target comes with why it passed.
Air stability: the phase must not react with the open O2, CO2 and H2O of air at 298 K, i.e. it
must be on the hull of the grand potential (G - sum mu_i n_i over O, C, H at air's chemical
potentials, ADR 0042) among the library's solids of its elements plus O, C, H.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import linprog

from powderlab.chemistry.gases import AIR, open_element_potentials
from powderlab.chemistry.phases import GAS_ELEMENTS, Phase, PhaseLibrary, default_library
from powderlab.chemistry.thermo import Thermo, default_thermo
from powderlab.core.errors import PowderLabError
from powderlab.planner.inventory import Inventory, closed_elements

DEFAULT_HULL_EV = 0.025  # eV/atom above the hull still counted "near" (CHGNet errors are tens of meV)
ROOM_K = 298.15
AIR_TOLERANCE_EV = 0.200  # eV per atom of the phase: weaker reactions with air are kinetically blocked at 25 C
OPEN = ("O", "C", "H")


@dataclass(frozen=True)
class Check:
    """One filter's verdict."""

    name: str
    passed: bool
    reason: str
    value: float | None = None


@dataclass
class Screening:
    """All filters for one candidate, with the hull details."""

    phase_id: str
    formula: str
    e_above_hull_ev: float | None
    competing: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and all(c.passed for c in self.checks)

    def explain(self) -> str:
        lines = [f"{self.formula} ({self.phase_id}): {'TARGET' if self.passed else 'rejected'}"]
        if self.e_above_hull_ev is not None:
            lines.append(f"  e_above_hull {1000 * self.e_above_hull_ev:.1f} meV/atom")
        if self.competing:
            lines.append(f"  competing phases: {', '.join(self.competing)}")
        lines += [f"  [{'pass' if c.passed else 'FAIL'}] {c.name}: {c.reason}" for c in self.checks]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase_id": self.phase_id,
            "formula": self.formula,
            "passed": self.passed,
            "e_above_hull_mev_per_atom": None
            if self.e_above_hull_ev is None
            else round(1000 * self.e_above_hull_ev, 2),
            "competing_phases": self.competing,
            "checks": [{"name": c.name, "passed": c.passed, "reason": c.reason} for c in self.checks],
        }


class Screener:
    """Runs the three filters against a library (candidates are added to a copy of it)."""

    def __init__(
        self,
        inventory: Inventory | None = None,
        library: PhaseLibrary | None = None,
        hull_threshold_ev: float = DEFAULT_HULL_EV,
        air_tolerance_ev: float = AIR_TOLERANCE_EV,
    ) -> None:
        self.inventory = inventory if inventory is not None else Inventory.from_site("default")
        self.library = library if library is not None else default_library()
        self.thermo = default_thermo() if self.library is default_library() else Thermo(self.library)
        self.hull_threshold_ev = hull_threshold_ev
        self.air_tolerance_ev = air_tolerance_ev

    def with_phase(self, phase: Phase) -> Screener:
        """A screener whose library also holds phase (a candidate not in the library)."""
        library = self.library.copy()
        library.add(phase, replace=True)
        return Screener(self.inventory, library, self.hull_threshold_ev, self.air_tolerance_ev)

    def screen(self, name: str) -> Screening:
        phase = self.library.find(name)
        result = Screening(phase.phase_id, phase.reduced_formula, None)
        result.checks.append(self.check_dosable(phase))
        result.checks.append(self._check_hull(phase, result))
        result.checks.append(self.check_air(phase))
        return result

    def check_dosable(self, phase: Phase) -> Check:
        have = self.inventory.elements(self.library)
        missing = sorted(closed_elements(phase) - have)
        if missing:
            return Check("dosable", False, f"no powder in the inventory brings {', '.join(missing)}")
        return Check("dosable", True, f"every element ({', '.join(sorted(closed_elements(phase)))}) has a powder")

    def _check_hull(self, phase: Phase, result: Screening) -> Check:
        if not self.thermo.has_energy(phase):
            return Check("hull", False, "no energy: give energy_per_atom_ev (or a structure to relax)")
        try:
            diagram = self.thermo.phase_diagram(phase.elements)
        except PowderLabError as error:
            return Check("hull", False, f"no phase diagram: {error}")
        entry = next(e for e in diagram.all_entries if e.name == phase.phase_id)
        e_hull = float(diagram.get_e_above_hull(entry))
        result.e_above_hull_ev = e_hull
        if e_hull > 1e-6:
            decomposition = diagram.get_decomposition(phase.composition)
            result.competing = [f"{e.name} ({a:.2f})" for e, a in sorted(decomposition.items(), key=lambda x: -x[1])]
        else:
            neighbours = {
                e.name
                for facet in diagram.facets
                for e in [diagram.qhull_entries[i] for i in facet]
                if entry in [diagram.qhull_entries[i] for i in facet]
            }
            result.competing = sorted(n for n in neighbours if n != phase.phase_id and n not in phase.elements)
        passed = e_hull <= self.hull_threshold_ev
        relation = "<=" if passed else ">"
        return Check(
            "hull",
            passed,
            f"{1000 * e_hull:.1f} meV/atom above the hull {relation} threshold {1000 * self.hull_threshold_ev:.0f}",
            e_hull,
        )

    def check_air(self, phase: Phase) -> Check:
        """No favourable reaction with air's O2, CO2 and H2O at room temperature."""
        if not self.thermo.has_energy(phase):
            return Check("air", False, "no energy")
        closed = closed_elements(phase)
        if not closed:
            return Check("air", False, "made only of O, C, H, N")
        mu = open_element_potentials(ROOM_K, AIR)
        pool = [
            p
            for p in self.library.in_system(set(closed) | set(OPEN))
            if self.thermo.has_energy(p) and closed_elements(p) and not (p.elements & (GAS_ELEMENTS - set(OPEN)))
        ]
        elements = sorted(closed)

        def phi(p: Phase) -> float:
            n = p.composition.num_atoms
            g = self.thermo.gibbs_formation_per_atom(p, ROOM_K) * n
            g -= sum(float(a) * mu[el.symbol] for el, a in p.composition.items() if el.symbol in OPEN)
            return g / _closed_atoms(p)

        def column(p: Phase) -> list[float]:
            return [float(p.composition[el]) / _closed_atoms(p) for el in elements]

        pool = [p for p in pool if closed_elements(p) <= closed]
        costs = np.array([phi(p) for p in pool])
        a_eq = np.array([column(p) for p in pool]).T
        b_eq = np.array(column(phase))
        solution = linprog(costs, A_eq=a_eq, b_eq=b_eq, bounds=[(0, None)] * len(pool), method="highs")
        own = phi(phase)
        if not solution.success:
            return Check("air", True, "no competing solids in air")
        gain = (float(solution.fun) - own) * _closed_atoms(phase) / float(phase.composition.num_atoms)
        if gain < -self.air_tolerance_ev:
            products = [p for p, x in zip(pool, solution.x, strict=True) if x > 1e-6]
            gases = sorted({g for p in products for g, el in (("CO2", "C"), ("H2O", "H")) if el in p.elements})
            with_gas = ", ".join(gases) if gases else "O2"
            return Check(
                "air",
                False,
                f"reacts with air ({with_gas}) at 25 C to {' + '.join(p.phase_id for p in products)} "
                f"({1000 * gain:.0f} meV/atom, beyond the {1000 * self.air_tolerance_ev:.0f} meV/atom "
                "that room-temperature kinetics block)",
                gain,
            )
        detail = f"strongest reaction {1000 * gain:.0f} meV/atom" if gain < -1e-4 else "on the grand-potential hull"
        return Check("air", True, f"no favourable reaction with O2, CO2 or H2O at 25 C ({detail})", gain)


def _closed_atoms(phase: Phase) -> float:
    return float(sum(a for el, a in phase.composition.items() if el.symbol not in GAS_ELEMENTS))
