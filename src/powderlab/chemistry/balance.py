"""Balanced reactions and batch masses for any target formula, from any precursor formulas.

`reactions.py` balances phases of the library (it needs their energies); this module works on
formulas alone, so a doped target such as Ba0.8Sr0.2TiO3 or LiNi0.8Co0.1Mn0.1O2 and a powder
such as Fe(NO3)3·9H2O balance without a structure. The balance is the same linear programme:
precursor amounts >= 0, gases that leave or enter (CO2, H2O, NH3, NO2, O2 with the furnace air),
and among the possible balances the one exchanging the fewest gas molecules (ADR 0045).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from powderlab.chemistry.formulas import formula_problem
from powderlab.chemistry.gases import DEFAULT_RELEASE_GASES
from powderlab.core.errors import ValidationError

# Gas exchange costs as in reactions.GAS_COST (O2 a shade dearer so a carbonate releases CO2 first)
GAS_COST = {"CO2": 1.0, "H2O": 1.0, "NH3": 1.0, "O2": 1.01, "NO2": 2.0, "NO": 2.5, "N2": 3.0}
UPTAKE_GASES = frozenset({"O2"})
OPEN_ELEMENTS = frozenset({"O", "H", "C", "N"})  # elements a furnace in air can take away or give
_LEADING_COUNT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?=[A-Z(\[])")
_ADDUCT_SPLIT = re.compile(r"\s*[·•∙*]\s*|(?<=[\w)\]])-(?=\d*\s*[A-Z(\[])")


def precursor_composition(formula: str) -> Any:
    """The pymatgen Composition of a formula as chemists write powders: hydrates and adducts
    (`Fe(NO3)3·9H2O`, `4MgCO3-Mg(OH)2·5H2O`, `CH3COOLi·2H2O`) are summed part by part.

    Raises ValidationError saying why when a part is not a chemical formula.
    """
    return _composition(str(formula).strip())


@lru_cache(maxsize=4096)
def _composition(text: str) -> Any:
    from pymatgen.core import Composition

    if not text:
        raise ValidationError("formula", "'' is not a chemical formula: expected a formula such as LiCoO2")
    total = Composition()
    for piece in _ADDUCT_SPLIT.split(text):
        if not piece:
            continue
        count, part = 1.0, piece
        match = _LEADING_COUNT.match(piece)
        if match:
            count = float(match.group(1))
            part = piece[match.end() :]
        problem = formula_problem(part)
        if problem:
            detail = problem if part == text else f"'{text}': part {problem}"
            raise ValidationError("formula", detail)
        total += Composition(part) * count
    return total


def formula_key(formula: str) -> str:
    """The reduced formula that identifies a powder or target (pymatgen's, after summing adducts)."""
    return str(precursor_composition(formula).reduced_formula)


def closed_elements_of(composition: Any) -> frozenset[str]:
    """Elements that cannot leave or enter as a gas (all but O, H, C, N)."""
    return frozenset(el.symbol for el in composition.elements) - OPEN_ELEMENTS


@dataclass(frozen=True)
class FormulaReaction:
    """precursors -> 1 formula unit of the target as written, with gases (positive = released)."""

    target: str
    precursors: dict[str, float]
    gases: dict[str, float]

    def __str__(self) -> str:
        left = [f"{_coef(c)}{name}" for name, c in self.precursors.items()]
        left += [f"{_coef(-c)}{g}" for g, c in self.gases.items() if c < 0]
        right = [self.target] + [f"{_coef(c)}{g}" for g, c in self.gases.items() if c > 0]
        return " + ".join(left) + " -> " + " + ".join(right)

    def masses_mg(self, batch_mg: float, basis: str = "precursors") -> dict[str, float]:
        """Precursor masses (mg): basis "precursors" sums them to batch_mg, "target" makes batch_mg of target."""
        if basis not in ("precursors", "target"):
            raise ValidationError("basis", f"'{basis}'; allowed: precursors, target")
        if not (isinstance(batch_mg, int | float) and batch_mg > 0):
            raise ValidationError("batch_mg", f"{batch_mg!r}; allowed: a mass above 0 mg")
        per_unit = {p: c * float(precursor_composition(p).weight) for p, c in self.precursors.items()}
        if basis == "target":
            scale = batch_mg / float(precursor_composition(self.target).weight)
        else:
            scale = batch_mg / sum(per_unit.values())
        return {p: m * scale for p, m in per_unit.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "equation": str(self),
            "target": self.target,
            "precursors": {k: round(v, 6) for k, v in self.precursors.items()},
            "gases": {k: round(v, 6) for k, v in self.gases.items()},
        }


def balance_formulas(
    target: str, precursors: Sequence[str], gases: Sequence[str] = DEFAULT_RELEASE_GASES
) -> FormulaReaction:
    """Balance precursors -> target (+ gases) on formulas alone; ValidationError says why not."""
    from pymatgen.core import Composition
    from scipy.optimize import linprog

    problem = formula_problem(target)
    if problem:
        raise ValidationError("target", problem)
    if not precursors:
        raise ValidationError("precursors", "none given; give at least one precursor")
    target_comp = Composition(target.strip())
    comps = [precursor_composition(p) for p in precursors]
    keys = [str(c.reduced_formula) for c in comps]
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise ValidationError("precursors", f"listed twice: {', '.join(twice)}")
    target_elements = frozenset(el.symbol for el in target_comp.elements)
    solid_elements = frozenset().union(*(frozenset(el.symbol for el in c.elements) for c in comps))
    missing = sorted(target_elements - solid_elements - {"O"})
    if missing:
        raise ValidationError(
            "target",
            f"{target} cannot be made from {', '.join(precursors)}: no precursor brings {', '.join(missing)}",
        )
    usable = [g for g in gases if {el.symbol for el in Composition(g).elements} <= solid_elements | {"O"}]
    usable = _nitrogen_gases(usable, precursors)
    stuck = sorted(
        el
        for el in solid_elements - target_elements
        if not any(el in {e.symbol for e in Composition(g).elements} for g in usable)
    )
    if stuck:
        raise ValidationError(
            "precursors",
            f"{', '.join(stuck)} would stay in the product: not in {target} and cannot leave as a gas "
            f"({', '.join(usable)})",
        )
    elements = sorted(solid_elements | target_elements | {"O"})
    gas_comps = [Composition(g) for g in usable]
    columns = [[c[el] for el in elements] for c in comps]
    gas_columns = [[g[el] for el in elements] for g in gas_comps]
    n_gas = len(usable)
    matrix = np.array(columns + [[-v for v in c] for c in gas_columns] + gas_columns, dtype=float).T
    rhs = np.array([target_comp[el] for el in elements], dtype=float)
    cost = np.array([0.0] * len(comps) + [GAS_COST.get(g, 2.0) for g in usable] * 2)
    # every gas may leave; only O2 (the furnace air) may also be taken up
    bounds = [(0, None)] * (len(comps) + n_gas) + [(0, None) if g in UPTAKE_GASES else (0, 0) for g in usable]
    solution = linprog(cost, A_eq=matrix, b_eq=rhs, bounds=bounds, method="highs")
    if not solution.success:
        raise ValidationError(
            "target", f"{target} cannot be balanced from {', '.join(precursors)} with gases {', '.join(usable)}"
        )
    x = solution.x
    coefficients = [float(v) for v in x[: len(comps)]]
    unused = [p for p, c in zip(precursors, coefficients, strict=True) if c < 1e-9]
    if unused:
        raise ValidationError("precursors", f"not needed to make {target}: {', '.join(unused)}")
    n = len(usable)
    amounts = {g: float(x[len(comps) + i] - x[len(comps) + n + i]) for i, g in enumerate(usable)}
    return FormulaReaction(
        target=target.strip(),
        precursors=dict(zip(precursors, coefficients, strict=True)),
        gases={g: a for g, a in amounts.items() if abs(a) > 1e-9},
    )


def _nitrogen_gases(usable: list[str], precursors: Sequence[str]) -> list[str]:
    """Nitrogen leaves as NH3 from ammonium salts and as NO2 from nitrates (both when unclear)."""
    ammonium = any("NH" in p for p in precursors)
    nitrate = any("NO" in p for p in precursors)
    if ammonium == nitrate:
        return usable
    drop = "NO2" if ammonium else "NH3"
    return [g for g in usable if g != drop]


def _coef(value: float) -> str:
    if abs(value - 1.0) < 1e-9:
        return ""
    return f"{value:.4g} "
