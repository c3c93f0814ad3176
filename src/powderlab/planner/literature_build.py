"""Reading the text-mined solid-state dataset into clean reactions, the held-out split, the table.

The dataset: Kononova et al., "Text-mined dataset of inorganic materials synthesis recipes",
Scientific Data 6, 203 (2019). Only `tools/build_literature_table.py` (which writes the shipped
table from the training split) and `bench/bench_literature.py` (which measures on the held-out
split) read it; the planner at run time reads the shipped table (`literature.py`).

Filters (text-mining errors exist):
- the target's `material_formula` must be a formula pymatgen reads, of real elements, with no
  variables (`Ba1-xSrxTiO3` is skipped);
- every precursor must parse (hydrates and adducts summed); precursors made only of H and O
  (H2O, O2, H2O2), and of C or N when the target has none (CO2, urea), are solvents or
  atmosphere and are dropped;
- the precursors must bring every element of the target except O, H, C, N, and nothing else
  but O, H, C, N (a precursor with a foreign element is a flux, a dopant or a mining error);
- a reaction's temperature is its highest heating temperature (HeatingOperation), kept when
  between 200 and 1800 C.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from powderlab.chemistry.balance import OPEN_ELEMENTS, closed_elements_of, precursor_composition
from powderlab.chemistry.formulas import formula_problem

CITATION = (
    "Kononova, O., Huo, H., He, T., Rong, Z., Botari, T., Sun, W., Tshitoyan, V. and Ceder, G. (2019). "
    "Text-mined dataset of inorganic materials synthesis recipes. Scientific Data 6: 203."
)
MIN_TEMPERATURE_C = 200.0
MAX_TEMPERATURE_C = 1800.0
HELD_OUT_DIGITS = "012"


@dataclass(frozen=True)
class LiteratureReaction:
    """One cleaned reaction: target reduced formula, precursor keys (reduced formulas), temperature."""

    target: str
    composition: dict[str, float]
    precursors: tuple[str, ...]
    names: tuple[str, ...]  # the precursors as the paper wrote them, same order
    temperature_c: float | None


def is_held_out(reduced_formula: str) -> bool:
    """The binding split: held out when sha256(reduced formula) starts with 0, 1 or 2."""
    return hashlib.sha256(reduced_formula.encode("utf-8")).hexdigest()[0] in HELD_OUT_DIGITS


def reduced_formula(formula: str) -> str:
    from pymatgen.core import Composition

    return str(Composition(formula).reduced_formula)


def read_raw(path: str | Path) -> list[dict[str, Any]]:
    """The `reactions` list of the dataset file (.json or .json.xz)."""
    path = Path(path)
    opener = lzma.open if path.suffix == ".xz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return list(json.load(handle)["reactions"])


def clean_reactions(raw: Iterable[dict[str, Any]], counts: Counter[str] | None = None) -> Iterator[LiteratureReaction]:
    """The reactions that pass the filters of the module docstring; `counts` tallies why others did not."""
    from pymatgen.core import Composition

    counts = counts if counts is not None else Counter()
    for reaction in raw:
        formula = str(reaction.get("target", {}).get("material_formula") or "").strip()
        if formula_problem(formula) is not None:
            counts["target formula not parsable (variables, mining errors)"] += 1
            continue
        target = Composition(formula)
        target_elements = frozenset(el.symbol for el in target.elements)
        wanted = target_elements - OPEN_ELEMENTS
        if not wanted:
            counts["target has no element besides O, H, C, N"] += 1
            continue
        keys: list[str] = []
        names: list[str] = []
        bad = False
        for precursor in reaction.get("precursors", []):
            name = str(precursor.get("material_formula") or "").strip()
            try:
                comp = precursor_composition(name)
            except Exception:
                bad = True
                break
            elements = frozenset(el.symbol for el in comp.elements)
            if elements <= {"H", "O"} | ((OPEN_ELEMENTS - {"H", "O"}) - target_elements):
                continue  # solvent or atmosphere
            keys.append(str(comp.reduced_formula))
            names.append(name)
        if bad:
            counts["precursor formula not parsable"] += 1
            continue
        closed = [closed_elements_of(precursor_composition(n)) for n in names]
        if not keys or frozenset().union(*closed) != wanted:
            counts["precursors do not bring exactly the target's elements"] += 1
            continue
        if len(set(keys)) != len(keys):
            keys, names = list(dict.fromkeys(keys)), [names[keys.index(k)] for k in dict.fromkeys(keys)]
        amounts = target.fractional_composition.get_el_amt_dict()
        counts["kept"] += 1
        yield LiteratureReaction(
            target=str(target.reduced_formula),
            composition={el: round(float(a), 5) for el, a in sorted(amounts.items())},
            precursors=tuple(sorted(keys)),
            names=tuple(n for _, n in sorted(zip(keys, names, strict=True))),
            temperature_c=reaction_temperature(reaction),
        )


def reaction_temperature(reaction: dict[str, Any]) -> float | None:
    """The highest heating temperature (C) of the reaction's heating operations, if plausible."""
    values = []
    for operation in reaction.get("operations") or []:
        if operation.get("type") != "HeatingOperation":
            continue
        for temperature in (operation.get("conditions") or {}).get("heating_temperature") or []:
            if temperature.get("units", "C") not in ("C", "°C"):
                continue
            values += [float(v) for v in temperature.get("values") or [] if isinstance(v, int | float)]
    values = [v for v in values if MIN_TEMPERATURE_C <= v <= MAX_TEMPERATURE_C]
    return max(values) if values else None


def build_table(reactions: Iterable[LiteratureReaction], source: str = "") -> dict[str, Any]:
    """The compact table the planner ships: per training target its precursor sets (with counts and
    median temperature) and its median temperature. Held-out targets are refused."""
    by_target: dict[str, list[LiteratureReaction]] = defaultdict(list)
    names: dict[str, Counter[str]] = defaultdict(Counter)
    for reaction in reactions:
        if is_held_out(reaction.target):
            raise ValueError(f"{reaction.target} is a held-out target; it may not enter the table")
        by_target[reaction.target].append(reaction)
        for key, name in zip(reaction.precursors, reaction.names, strict=True):
            names[key][name] += 1
    targets = []
    for target in sorted(by_target):
        group = by_target[target]
        sets: dict[tuple[str, ...], list[float | None]] = defaultdict(list)
        for reaction in group:
            sets[reaction.precursors].append(reaction.temperature_c)
        temps = [r.temperature_c for r in group if r.temperature_c is not None]
        entries = [
            [list(key), len(values), _median([v for v in values if v is not None])]
            for key, values in sorted(sets.items(), key=lambda item: (-len(item[1]), item[0]))
        ]
        targets.append([target, group[0].composition, entries, _median(temps)])
    return {
        "meta": {
            "citation": CITATION,
            "source": source,
            "split": "training only: sha256(reduced formula) first hex digit not in 0, 1, 2",
            "targets": len(targets),
            "reactions": sum(len(g) for g in by_target.values()),
            "format": "targets: [reduced formula, element fractions, [[precursor keys], count, median C], median C]",
        },
        "names": {key: counter.most_common(1)[0][0] for key, counter in sorted(names.items())},
        "targets": targets,
    }


def with_temperature_model(
    table: dict[str, Any], ridge: float = 0.1, rounds: int = 40, trees: int = 200, min_leaf: int = 20
) -> dict[str, Any]:
    """The table plus the temperature model fitted to it (training targets only; ADRs 0090, 0104):

    - a linear correction: least absolute deviations (iteratively reweighted, ridge-regularised) of
      each target's median temperature on `literature.temperature_features`;
    - boosted trees (`literature_temperature`) over the target and each of its literature precursor
      sets, fitted to the target's median temperature minus the neighbours' median for that set.

    The neighbours' median and the precursors' mean temperatures of a training target are taken
    without the target itself (leave-one-out). The planner averages the two predictions."""
    import numpy as np

    from powderlab.planner.literature import LiteratureModel, temperature_features
    from powderlab.planner.literature_temperature import BoostedTrees, TemperatureFeatures, precursor_means

    model = LiteratureModel({key: value for key, value in table.items() if key != "temperature_model"})
    entries = [
        (target, keys, temperature)
        for target, sets in zip(model.targets, model.sets, strict=True)
        for keys, _, temperature in sets
        if temperature is not None
    ]
    known = [t for t in model.temperatures if t is not None]
    features = TemperatureFeatures(precursor_means(entries), float(np.mean(known)) if known else 1000.0)
    rows, labels = [], []
    tree_rows, tree_labels, tree_weights = [], [], []
    for target, composition, sets, temperature in zip(
        model.targets, model.compositions, model.sets, model.temperatures, strict=True
    ):
        if temperature is None:
            continue
        neighbours = [n for n in model.neighbours(composition, 41) if n.target != target]
        median, _, _ = model.neighbour_temperature(neighbours)
        rows.append(temperature_features(composition, median if median is not None else model.default_temperature_c))
        labels.append(temperature)
        own = precursor_means([(target, keys, t) for keys, _, t in sets if t is not None])
        reported = [keys for keys, _, t in sets if t is not None] or [sets[0][0]]
        for keys in reported:
            set_median, _, _ = model.neighbour_temperature(neighbours, keys)
            base = set_median if set_median is not None else model.default_temperature_c
            tree_rows.append(features.row(composition, keys, base, own))
            tree_labels.append(temperature - base)
            tree_weights.append(1.0 / len(reported))  # every target counts once
    names = sorted(set().union(*rows))
    x = np.array([[row.get(name, 0.0) for name in names] for row in rows])
    y = np.array(labels)
    penalty = ridge * np.eye(len(names))
    weights = np.linalg.solve(x.T @ x + penalty, x.T @ y)
    for _ in range(rounds):
        scale = 1.0 / np.maximum(np.abs(y - x @ weights), 20.0)
        weights = np.linalg.solve((x * scale[:, None]).T @ x + penalty * scale.mean(), (x * scale[:, None]).T @ y)
    residual = float(np.mean(np.abs(y - x @ weights)))
    fitted = {name: round(float(w), 3) for name, w in zip(names, weights, strict=True) if abs(w) >= 5e-4}
    boosted = BoostedTrees.fit(
        np.array(tree_rows), np.array(tree_labels), np.array(tree_weights), trees=trees, min_leaf=min_leaf
    )
    return {
        **table,
        "temperature_model": {
            "weights": fitted,
            "targets": len(labels),
            "training_mae_c": round(residual, 1),
            "boosted": {"features": features.to_dict(), **boosted.to_dict()},
        },
    }


def _median(values: list[float]) -> float | None:
    return round(float(statistics.median(values)), 1) if values else None
