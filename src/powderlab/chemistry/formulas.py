"""Chemical formulas as people type them: parse once, refuse with the reason.

Every entry point that takes a target formula (targets files, the autonomy node's submit
service, the planner's target lists) checks it here, so `Xx9Q` is refused the same way
everywhere: "'Xx9Q' is not a chemical formula: unknown elements 'Xx', 'Q'".
"""

from __future__ import annotations

import re
from typing import Any

from powderlab.core.errors import ValidationError

_SYMBOL = re.compile(r"[A-Z][a-z]*")


def formula_problem(formula: Any) -> str | None:
    """Why `formula` is not a chemical formula (None when it is one pymatgen reads, of real elements)."""
    from pymatgen.core import Composition, Element

    if not isinstance(formula, str) or not formula.strip():
        return f"{formula!r} is not a chemical formula: expected a formula such as LiCoO2"
    text = formula.strip()
    if not _SYMBOL.search(text):
        return f"'{text}' is not a chemical formula: it has no element symbols; e.g. LiCoO2"
    unknown = sorted({s for s in _SYMBOL.findall(text) if not Element.is_valid_symbol(s)}, key=text.index)
    if unknown:
        names = ", ".join(repr(s) for s in unknown)
        return f"'{text}' is not a chemical formula: unknown element{'s' if len(unknown) > 1 else ''} {names}"
    try:
        composition = Composition(text)
    except Exception as error:  # pymatgen raises ValueError, KeyError, ... for malformed formulas
        detail = str(error).strip() or type(error).__name__
        return f"'{text}' is not a chemical formula ({detail}); e.g. LiCoO2, Li2CO3, Ba0.5Sr0.5TiO3"
    if composition.num_atoms <= 0:
        return f"'{text}' is not a chemical formula: it has no atoms"
    if any(type(el).__name__ == "DummySpecies" for el in composition.elements):  # lowercase tricks, e.g. 'X'
        return f"'{text}' is not a chemical formula: it names no real elements"
    return None


def parse_formula(formula: Any, where: str = "formula") -> Any:
    """The pymatgen Composition of `formula`; ValidationError naming `where` and why otherwise."""
    from pymatgen.core import Composition

    problem = formula_problem(formula)
    if problem:
        raise ValidationError(where, problem)
    return Composition(str(formula).strip())
