"""powderlab.planner: target screening, candidate generation, recipe proposal and active learning.

Imports only powderlab.core and powderlab.chemistry (never the hidden truth): the planners see a
target's attempts only as analysed XRD patterns.

- `screening`: on/near the hull, stable in air, dosable (`Screener`).
- `candidates`: GNoME-style ion substitution on prototypes, relaxed and scored with CHGNet.
- `targets`: external target lists (formula, optional structure, optional energy).
- `recipes`: precursor sets from the inventory ranked by driving force, temperatures, masses.
- `observations`, `memory`: reading analysed attempts; pairwise reactions learned.
- `planner`: `ArrowsPlanner` (active learning) and the baselines `RankingPlanner`, `RandomPlanner`.
- `service`: the target queue behind the planner node and the CLI.
"""

from powderlab.planner.inventory import Inventory
from powderlab.planner.memory import PairwiseMemory
from powderlab.planner.planner import ArrowsPlanner, PlannerProposal, RandomPlanner, RankingPlanner, make
from powderlab.planner.recipes import PrecursorSet, RecipeChoice, first_recipes, precursor_sets
from powderlab.planner.screening import Screener, Screening

__all__ = [
    "ArrowsPlanner",
    "Inventory",
    "PairwiseMemory",
    "PlannerProposal",
    "PrecursorSet",
    "RandomPlanner",
    "RankingPlanner",
    "RecipeChoice",
    "Screener",
    "Screening",
    "first_recipes",
    "make",
    "precursor_sets",
]
