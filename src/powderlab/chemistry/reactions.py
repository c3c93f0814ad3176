"""Balanced reactions from precursors to a target, their energies and the precursor masses.

Gases a furnace in air exchanges balance the elements the solids cannot: CO2 (carbon), H2O and
NH3 (hydrogen, nitrogen), NO2 (nitrogen without hydrogen) and O2 in either direction. Among the
balances that are possible the one exchanging the fewest gas molecules is chosen (linear
programme), so Li2CO3 + Co3O4 -> LiCoO2 takes up O2 and releases CO2 as expected.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linprog

from powderlab.chemistry.gases import AIR, DEFAULT_RELEASE_GASES, Atmosphere, gas_enthalpy_ev, gas_gibbs_ev
from powderlab.chemistry.phases import Phase, PhaseLibrary, default_library
from powderlab.chemistry.thermo import Thermo
from powderlab.core.errors import UnknownResourceError, ValidationError
from powderlab.core.recipes import PowderDose

GAS_COST = {"CO2": 1.0, "H2O": 1.0, "NH3": 1.0, "O2": 1.01, "NO2": 2.0, "NO": 2.5, "N2": 3.0}
GAS_PRESSURE_FIELD = {"O2": "o2", "CO2": "co2", "H2O": "h2o", "N2": "n2"}
TRACE_PRESSURE_ATM = 1e-6  # NH3, NO2 and NO are swept away by the furnace's air flow


@dataclass(frozen=True)
class BalancedReaction:
    """Precursors -> 1 formula unit of the target, with gases (positive = released)."""

    target: str
    precursors: dict[str, float]
    gases: dict[str, float]
    energy_ev: float | None  # per formula unit of target
    energy_ev_per_atom: float | None  # per atom of the reactant side (solids and gases taken up)
    temperature_k: float | None

    def __str__(self) -> str:
        left = [f"{_coef(c)}{name}" for name, c in self.precursors.items()]
        left += [f"{_coef(-c)}{g}" for g, c in self.gases.items() if c < 0]
        right = [self.target] + [f"{_coef(c)}{g}" for g, c in self.gases.items() if c > 0]
        return " + ".join(left) + " -> " + " + ".join(right)

    def to_dict(self) -> dict[str, Any]:
        return {
            "equation": str(self),
            "target": self.target,
            "precursors": {k: round(v, 6) for k, v in self.precursors.items()},
            "gases": {k: round(v, 6) for k, v in self.gases.items()},
            "energy_ev": None if self.energy_ev is None else round(self.energy_ev, 5),
            "energy_ev_per_atom": None if self.energy_ev_per_atom is None else round(self.energy_ev_per_atom, 5),
            "temperature_k": self.temperature_k,
        }


# The powder a lab doses for each element, as on the reference cell (hardware/default.yaml).
OBVIOUS_PRECURSOR = {
    "Li": "Li2CO3",
    "Na": "Na2CO3",
    "K": "K2CO3",
    "Mg": "MgO",
    "Ca": "CaCO3",
    "Sr": "SrCO3",
    "Ba": "BaCO3",
    "Al": "Al2O3",
    "Si": "SiO2",
    "Ti": "TiO2",
    "Zr": "ZrO2",
    "V": "V2O5",
    "Cr": "Cr2O3",
    "Mn": "MnO2",
    "Fe": "Fe2O3",
    "Co": "Co3O4",
    "Ni": "NiO",
    "Cu": "CuO",
    "Zn": "ZnO",
    "Nb": "Nb2O5",
    "Mo": "MoO3",
    "W": "WO3",
    "Y": "Y2O3",
    "La": "La2O3",
    "P": "NH4H2PO4",
    "Bi": "Bi2O3",
    "In": "In2O3",
}


def obvious_precursors(target: str, library: PhaseLibrary | None = None) -> list[str]:
    """One common precursor per element of the target (the A-Lab's first guess)."""
    library = library if library is not None else default_library()
    phase = resolve(target, library, "target")
    missing = sorted(e for e in phase.elements - {"O"} if e not in OBVIOUS_PRECURSOR)
    if missing:
        raise ValidationError(
            "target", f"no precursor known for {', '.join(missing)}; known: {', '.join(OBVIOUS_PRECURSOR)}"
        )
    return [OBVIOUS_PRECURSOR[e] for e in sorted(phase.elements - {"O"})]


def resolve(name: str, library: PhaseLibrary, kind: str = "precursor") -> Phase:
    """A library phase by id or formula; UnknownResourceError names the kind and close ids."""
    try:
        return library.find(name)
    except UnknownResourceError as error:
        raise UnknownResourceError(kind, name, error.known) from None


def balance_reaction(
    target: str,
    precursors: Sequence[str],
    *,
    temperature_k: float | None = None,
    atmosphere: Atmosphere = AIR,
    gases: Sequence[str] = DEFAULT_RELEASE_GASES,
    library: PhaseLibrary | None = None,
    thermo: Thermo | None = None,
) -> BalancedReaction:
    """Balance precursors -> target (+ gases) and its energy (enthalpy, or Gibbs energy at T)."""
    library = library if library is not None else default_library()
    if not precursors:
        raise ValidationError("precursors", "none given; give at least one precursor")
    target_phase = resolve(target, library, "target")
    phases = [resolve(name, library) for name in precursors]
    duplicates = sorted({p.phase_id for p in phases if [q.phase_id for q in phases].count(p.phase_id) > 1})
    if duplicates:
        raise ValidationError("precursors", f"listed twice: {', '.join(duplicates)}")
    coefficients, gas_amounts = _balance(target_phase, phases, gases)
    reaction = BalancedReaction(
        target=target_phase.reduced_formula,
        precursors={p.formula: c for p, c in zip(phases, coefficients, strict=True)},
        gases=gas_amounts,
        energy_ev=None,
        energy_ev_per_atom=None,
        temperature_k=temperature_k,
    )
    thermo = thermo if thermo is not None else _thermo_for(library)
    if thermo is None or not all(thermo.has_energy(p) for p in [*phases, target_phase]):
        return reaction
    energy = _solid_energy(thermo, target_phase, 1.0, temperature_k)
    energy -= sum(_solid_energy(thermo, p, c, temperature_k) for p, c in zip(phases, coefficients, strict=True))
    for gas, amount in gas_amounts.items():
        energy += amount * _gas_energy(gas, temperature_k, atmosphere)
    atoms = sum(c * p.composition.num_atoms for p, c in zip(phases, coefficients, strict=True))
    atoms += sum(-a * _gas_atoms(g) for g, a in gas_amounts.items() if a < 0)
    return BalancedReaction(
        target=reaction.target,
        precursors=reaction.precursors,
        gases=gas_amounts,
        energy_ev=energy,
        energy_ev_per_atom=energy / atoms,
        temperature_k=temperature_k,
    )


def precursor_masses(
    target: str,
    precursors: Sequence[str],
    batch_mg: float,
    *,
    basis: str = "precursors",
    library: PhaseLibrary | None = None,
) -> tuple[PowderDose, ...]:
    """Masses to dose: `basis` "precursors" makes them sum to batch_mg, "target" makes batch_mg of target."""
    if basis not in ("precursors", "target"):
        raise ValidationError("basis", f"'{basis}'; allowed: precursors, target")
    if not (isinstance(batch_mg, int | float) and batch_mg > 0):
        raise ValidationError("batch_mg", f"{batch_mg!r}; allowed: a mass above 0 mg")
    library = library if library is not None else default_library()
    reaction = balance_reaction(target, precursors, library=library)
    names = [resolve(n, library) for n in precursors]
    molar = {p.formula: p.composition.weight for p in names}
    per_target = {formula: c * float(molar[formula]) for formula, c in reaction.precursors.items()}
    if basis == "target":
        mmol = batch_mg / float(resolve(target, library, "target").composition.weight)
        masses = {k: v * mmol for k, v in per_target.items()}
    else:
        scale = batch_mg / sum(per_target.values())
        masses = {k: v * scale for k, v in per_target.items()}
    return tuple(PowderDose(powder=phase.phase_id, target_mg=masses[phase.formula]) for phase in names)


def _balance(target: Phase, phases: list[Phase], gases: Sequence[str]) -> tuple[list[float], dict[str, float]]:
    from pymatgen.core import Composition

    solid_elements = set().union(*(p.elements for p in phases))
    missing = sorted(target.elements - solid_elements - {"O"})
    if missing:
        raise ValidationError(
            "target",
            f"{target.reduced_formula} cannot be made from {', '.join(p.reduced_formula for p in phases)}: "
            f"missing elements {', '.join(missing)}",
        )
    usable = [g for g in gases if {el.symbol for el in Composition(g).elements} <= solid_elements | {"O"}]
    stuck = sorted(
        el
        for el in solid_elements - target.elements
        if not any(el in {e.symbol for e in Composition(g).elements} for g in usable)
    )
    if stuck:
        owners = {el: [p.reduced_formula for p in phases if el in p.elements] for el in stuck}
        detail = "; ".join(f"{el} (from {', '.join(owners[el])})" for el in stuck)
        raise ValidationError(
            "precursors", f"{detail} is not in {target.reduced_formula} and cannot leave as a gas ({', '.join(usable)})"
        )
    elements = sorted(solid_elements | target.elements | {"O"})
    columns = [[p.composition[el] for el in elements] for p in phases]
    gas_columns = [[Composition(g)[el] for el in elements] for g in usable]
    # unknowns: precursors >= 0, gas released >= 0, gas taken up >= 0
    matrix = np.array(columns + [[-v for v in c] for c in gas_columns] + gas_columns).T
    rhs = np.array([target.composition[el] for el in elements])
    cost = np.array([0.0] * len(phases) + [GAS_COST.get(g, 2.0) for g in usable] * 2)
    solution = linprog(cost, A_eq=matrix, b_eq=rhs, bounds=[(0, None)] * matrix.shape[1], method="highs")
    if not solution.success:
        raise ValidationError(
            "target",
            f"{target.reduced_formula} cannot be balanced from {', '.join(p.reduced_formula for p in phases)} "
            f"with gases {', '.join(usable)}",
        )
    x = solution.x
    coefficients = [float(v) for v in x[: len(phases)]]
    unused = [p.reduced_formula for p, c in zip(phases, coefficients, strict=True) if c < 1e-9]
    if unused:
        raise ValidationError("precursors", f"not needed to make {target.reduced_formula}: {', '.join(unused)}")
    n = len(usable)
    gas_amounts = {g: float(x[len(phases) + i] - x[len(phases) + n + i]) for i, g in enumerate(usable)}
    return coefficients, {g: a for g, a in gas_amounts.items() if abs(a) > 1e-9}


def _solid_energy(thermo: Thermo, phase: Phase, amount: float, temperature_k: float | None) -> float:
    atoms = phase.composition.num_atoms
    if temperature_k is None:
        return amount * atoms * thermo.formation_energy_per_atom(phase)
    return amount * atoms * thermo.gibbs_formation_per_atom(phase, temperature_k)


def _gas_energy(gas: str, temperature_k: float | None, atmosphere: Atmosphere) -> float:
    if temperature_k is None:
        return gas_enthalpy_ev(gas)
    field = GAS_PRESSURE_FIELD.get(gas)
    pressure = getattr(atmosphere, field) if field else TRACE_PRESSURE_ATM
    return gas_gibbs_ev(gas, temperature_k, pressure)


def _gas_atoms(gas: str) -> float:
    from pymatgen.core import Composition

    return float(Composition(gas).num_atoms)


def _thermo_for(library: PhaseLibrary) -> Thermo | None:
    from powderlab.chemistry.thermo import default_thermo

    if library is default_library():
        return default_thermo()
    try:
        return Thermo(library)
    except ValidationError:
        return None


def _coef(value: float) -> str:
    if abs(value - 1.0) < 1e-9:
        return ""
    return f"{value:.4g} "
