"""Targets files: the compounds a campaign should make, with budgets, priorities and recipes.

```yaml
campaign: demo                  # optional: the campaign's name
defaults: {budget: 3, priority: 0, dwell_h: 4, handling_c: 100}
targets:
  - target: Li2TiO3
    priority: 2
    budget: 3
    recipes:                    # optional: used by the fixed-list planner, in order
      - precursors: {Li2CO3: 246.3, TiO2: 266.2}    # powder -> mg
        temperature_c: 800      # the A-Lab profile (2 C/min to 300 C, 15 C/min to T, dwell, cool)
        dwell_h: 4
      - precursors: {LiOH: 159.6, TiO2: 266.2}
        heating: [{kind: ramp, target_c: 700, rate_c_per_min: 10}, {kind: dwell, duration_min: 60},
                  {kind: cool, target_c: 150}]
        milling: {duration_s: 600, frequency_hz: 25, ball_count: 2}
```
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from powderlab.autonomy.model import Target, slug
from powderlab.chemistry.formulas import formula_problem
from powderlab.core.errors import ValidationError
from powderlab.core.recipes import (
    HeatingProfile,
    MillingSettings,
    PowderDose,
    Recipe,
    ScanSettings,
    a_lab_profile,
    from_mapping,
)

TARGET_KEYS = {"target", "formula", "priority", "budget", "elements", "recipes", "notes"}
RECIPE_KEYS = {"precursors", "temperature_c", "dwell_h", "handling_c", "heating", "milling", "scan", "notes"}
DEFAULT_KEYS = {"budget", "priority", "dwell_h", "handling_c", "milling", "scan"}


@dataclass(frozen=True)
class TargetsFile:
    """A parsed targets file."""

    campaign: str
    targets: tuple[Target, ...]


def parse_recipe(data: Any, target: str, index: int, defaults: Mapping[str, Any]) -> Recipe:
    """One compact recipe entry of a targets file."""
    where = f"{target} recipe {index}"
    if not isinstance(data, Mapping):
        raise ValidationError(where, f"expected a mapping with precursors and temperature_c, got {data!r}")
    unknown = sorted(set(data) - RECIPE_KEYS)
    if unknown:
        raise ValidationError(where, f"unknown keys {unknown}; allowed: {sorted(RECIPE_KEYS)}")
    precursors = data.get("precursors")
    if not isinstance(precursors, Mapping) or not precursors:
        raise ValidationError(where, "needs 'precursors': a mapping powder -> mg, e.g. {Li2CO3: 246.3}")
    try:
        doses = tuple(PowderDose(str(powder), float(mass)) for powder, mass in precursors.items())
    except (TypeError, ValueError):
        got = dict(precursors)
        raise ValidationError(f"{where} precursors", f"expected powder -> mg numbers, got {got!r}") from None
    if "heating" in data:
        heating = HeatingProfile.from_list(data["heating"], f"{where} heating")
    elif "temperature_c" in data:
        heating = a_lab_profile(
            float(data["temperature_c"]),
            float(data.get("dwell_h", defaults.get("dwell_h", 4.0))),
            float(data.get("handling_c", defaults.get("handling_c", 100.0))),
        )
    else:
        raise ValidationError(where, "needs 'temperature_c' (the A-Lab profile) or an explicit 'heating' list")
    milling = from_mapping(MillingSettings, data.get("milling") or defaults.get("milling") or {}, f"{where} milling")
    scan = from_mapping(ScanSettings, data.get("scan") or defaults.get("scan") or {}, f"{where} scan")
    return Recipe(f"{slug(target)}-r{index}", target, doses, heating, milling, scan, str(data.get("notes", "")))


def parse_targets(data: Any, source: str = "targets") -> TargetsFile:
    """A TargetsFile from plain data; every error names the entry and what is allowed."""
    if isinstance(data, list):
        data = {"targets": data}
    if not isinstance(data, Mapping) or not isinstance(data.get("targets"), list) or not data["targets"]:
        raise ValidationError(source, "expected a mapping with a non-empty 'targets' list")
    defaults = dict(data.get("defaults") or {})
    unknown = sorted(set(defaults) - DEFAULT_KEYS)
    if unknown:
        raise ValidationError(f"{source}: defaults", f"unknown keys {unknown}; allowed: {sorted(DEFAULT_KEYS)}")
    targets: list[Target] = []
    seen: set[str] = set()
    for number, item in enumerate(data["targets"], start=1):
        where = f"{source}: target {number}"
        entry = {"target": item} if isinstance(item, str) else item
        if not isinstance(entry, Mapping):
            raise ValidationError(where, f"expected a formula or a mapping with 'target', got {entry!r}")
        unknown = sorted(set(entry) - TARGET_KEYS)
        if unknown:
            raise ValidationError(where, f"unknown keys {unknown}; allowed: {sorted(TARGET_KEYS)}")
        formula = entry.get("target", entry.get("formula"))
        if not isinstance(formula, str) or not formula.strip():
            raise ValidationError(where, "needs 'target': the formula to make, e.g. Li2TiO3")
        formula = formula.strip()
        problem = formula_problem(formula)
        if problem:
            raise ValidationError(where, problem)
        if formula in seen:
            raise ValidationError(where, f"'{formula}' is listed twice; give each target once")
        seen.add(formula)
        recipes = tuple(
            parse_recipe(item, formula, index, defaults)
            for index, item in enumerate(entry.get("recipes") or [], start=1)
        )
        try:
            budget = int(entry.get("budget", defaults.get("budget", 4)))
            priority = int(entry.get("priority", defaults.get("priority", 0)))
        except (TypeError, ValueError):
            raise ValidationError(where, "budget and priority must be integers") from None
        targets.append(
            Target(
                formula=formula,
                priority=priority,
                budget=budget,
                elements=tuple(entry.get("elements") or ()),
                recipes=recipes,
                notes=str(entry.get("notes", "")),
            )
        )
    return TargetsFile(str(data.get("campaign") or Path(source).stem), tuple(targets))


def check_plannable(targets: Sequence[Target], planner: Any, source: str = "targets") -> None:
    """Refuse, before a campaign starts, every target the chosen planner cannot propose a recipe for.

    Asks the planner for each target's first recipe with no history (what the campaign would do
    first): the fixed-list planner needs recipes given with the target; the AI planners need the
    target in the phase library and a precursor set from the inventory. The error names the entry,
    the formula and the planner's reason.
    """
    problems = []
    for number, target in enumerate(targets, start=1):
        if planner.next_recipe(target, []) is not None:
            continue
        if not target.recipes and str(getattr(planner, "name", "")).startswith("fixed"):
            why = (
                "the fixed planner only tries the recipes given with a target, and it has none: give it "
                "'recipes:' or choose an AI planner (--planner arrows)"
            )
        else:
            explanations = getattr(planner, "explanations", {})
            why = explanations.get(target.formula) or "the planner proposes no recipe for it"
        problems.append(f"target {number}: '{target.formula}': {why}")
    if problems:
        planner_name = str(getattr(planner, "name", "planner"))
        raise ValidationError(f"{source}", f"planner {planner_name} cannot make: " + "; ".join(problems))


def load_targets(path: str | Path) -> TargetsFile:
    """Read a targets YAML file."""
    file = Path(path)
    if not file.is_file():
        raise ValidationError("targets", f"no such file: {file}")
    try:
        data = yaml.safe_load(file.read_text())
    except yaml.YAMLError as error:
        raise ValidationError(str(file), f"is not valid YAML: {error}") from None
    return parse_targets(data, str(file))


def targets_to_yaml(campaign: str, targets: list[Target]) -> str:
    """Targets as a YAML document (for the submit service): recipes in their full form."""
    items = []
    for target in targets:
        item: dict[str, Any] = {"target": target.formula, "priority": target.priority, "budget": target.budget}
        if target.recipes:
            item["recipes"] = [
                {
                    "precursors": {d.powder: d.target_mg for d in r.precursors},
                    "heating": r.heating.to_list(),
                    "milling": r.to_dict()["milling"],
                    "scan": r.to_dict()["scan"],
                    "notes": r.notes,
                }
                for r in target.recipes
            ]
        items.append(item)
    return yaml.safe_dump({"campaign": campaign, "targets": items}, sort_keys=False)
