"""The A-Lab's order for a campaign: literature recipes first, active learning when they fail.

`LiteratureStartPlanner` proposes the first `literature_attempts` recipes of a target from
`FirstRecipePlanner` (precursor sets similar targets of the literature used, ADR 0090),
restricted to what the campaign's lab can dose (the site's powders that the phase library
knows), at the literature temperature brought into the furnace's range; once those are spent
(or the literature has nothing the lab can dose) it hands the target to `ArrowsPlanner`, which
learns from every analysed attempt, the literature ones included. The active-learning planner is
used as is (composition, not a change to its internals).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from powderlab.core.errors import PowderLabError
from powderlab.planner.literature import Inventory as FormulaInventory
from powderlab.planner.literature_recipes import FirstRecipePlanner
from powderlab.planner.planner import ArrowsPlanner, PlannerProposal
from powderlab.planner.recipes import RecipeChoice, round_temperature

LITERATURE_PLANNER = "literature (literature recipes first, then ARROWS active learning)"
LITERATURE_ATTEMPTS = 2  # literature recipes per target before active learning takes over


class LiteratureStartPlanner:
    """Literature recipes first, then the active-learning planner (see the module docstring)."""

    name = LITERATURE_PLANNER

    def __init__(self, literature_attempts: int = LITERATURE_ATTEMPTS, **kwargs: Any) -> None:
        self.arrows = ArrowsPlanner(**kwargs)
        self.literature_attempts = literature_attempts
        phases = self.arrows.inventory.phases(self.arrows.library)
        self._ids = {p.formula: p.phase_id for p in phases} | {p.phase_id: p.phase_id for p in phases}
        self.literature = FirstRecipePlanner(
            FormulaInventory([p.formula for p in phases], self.arrows.inventory.source or "the site")
        )
        self._choices: dict[str, list[RecipeChoice]] = {}

    @property
    def explanations(self) -> dict[str, str]:
        return self.arrows.explanations

    @property
    def inventory(self) -> Any:
        return self.arrows.inventory

    def sets(self, formula: str) -> Any:
        return self.arrows.sets(formula)

    def report(self, target: Any, attempt: Any) -> None:
        """The active-learning planner learns from every attempt."""
        self.arrows.report(target, attempt)

    def next_recipe(self, target: Any, history: Sequence[Any]) -> PlannerProposal | None:
        from powderlab.planner.planner import _key_of

        choices = self.choices(target.formula)
        tried = {_key_of(a.recipe) for a in history}
        literature_tried = len(tried & {c.key for c in choices})
        made = any(str(a.status) == "analysed" and (a.target_yield or 0.0) >= 0.5 for a in history)
        if (
            not made
            and len(history) < int(getattr(target, "budget", 4))
            and literature_tried < self.literature_attempts
        ):
            for rank, choice in enumerate(choices, start=1):
                if choice.key in tried:
                    continue
                proposal = self.arrows._propose(choice, {"rank": rank, "source": "literature"})
                return PlannerProposal(proposal.recipe, "literature: " + proposal.reason, proposal.details)
        return self.arrows.next_recipe(target, history)

    def choices(self, formula: str) -> list[RecipeChoice]:
        """The literature's recipes that the lab can dose, as the active-learning planner's choices."""
        if formula not in self._choices:
            self._choices[formula] = self._literature_choices(formula)
        return self._choices[formula]

    def _literature_choices(self, formula: str) -> list[RecipeChoice]:
        try:
            recipes = self.literature.recipes(formula, 5)
        except PowderLabError:
            return []
        by_set = {tuple(sorted(s.precursors)): s for s in self.arrows.sets(formula)}
        choices = []
        for recipe in recipes:
            ids = tuple(sorted(self._ids.get(p, p) for p in recipe.precursors))
            precursor_set = by_set.get(ids)
            if precursor_set is None:
                continue  # the library cannot balance it with energies: leave it to active learning
            temperature = round_temperature(recipe.temperature_c)
            why = list(recipe.why)
            if temperature != round(recipe.temperature_c):
                why.append(f"{recipe.temperature_c:.0f} C brought to {temperature:.0f} C (furnace range, 50 C grid)")
            choices.append(RecipeChoice(precursor_set, temperature, 4.0, tuple(why)))
        return choices
