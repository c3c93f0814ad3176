"""One formula check for every entry point: bad formulas are refused with the reason."""

from __future__ import annotations

import pytest

from powderlab.chemistry.formulas import formula_problem, parse_formula
from powderlab.core.errors import ValidationError


@pytest.mark.parametrize("formula", ["LiCoO2", "Li2CO3", "Ba0.5Sr0.5TiO3", "Li(CoO2)", " ZnFe2O4 ", "Fe2O3.5"])
def test_chemical_formulas_pass(formula: str) -> None:
    assert formula_problem(formula) is None
    assert parse_formula(formula).num_atoms > 0


@pytest.mark.parametrize(
    ("formula", "why"),
    [
        ("Xx9Q", "'Xx9Q' is not a chemical formula: unknown elements 'Xx', 'Q'"),
        ("NaCl2Xx", "'NaCl2Xx' is not a chemical formula: unknown element 'Xx'"),
        ("Q", "unknown element 'Q'"),
        ("123", "'123' is not a chemical formula: it has no element symbols"),
        ("li2o", "'li2o' is not a chemical formula: it has no element symbols"),
        ("LiCoO2)", "'LiCoO2)' is not a chemical formula ("),
        ("Li2O-", "'Li2O-' is not a chemical formula ("),
        ("", "is not a chemical formula"),
        (None, "None is not a chemical formula"),
        (42, "42 is not a chemical formula"),
    ],
)
def test_bad_formulas_are_refused_with_the_reason(formula: object, why: str) -> None:
    problem = formula_problem(formula)
    assert problem is not None and why in problem
    with pytest.raises(ValidationError) as error:
        parse_formula(formula, "targets.yaml: target 2")
    assert str(error.value).startswith("targets.yaml: target 2: ") and why in str(error.value)
