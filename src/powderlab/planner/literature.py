"""What chemists used for similar targets: a materials-similarity precursor recommender and a
temperature model, both learnt from the training split of the text-mined dataset.

In the spirit of He et al., "Precursor recommendation for inorganic synthesis by machine
learning materials similarity from scientific literature", Sci. Adv. 9, eadg8180 (2023): a
target is encoded by its composition (element fractions, plus the fractions summed over
periodic-table group and row so that Sr stands near Ba and Nb near Ta); its nearest training
targets vote for the precursor each of them used for each element, the inventory decides which
of those powders exist, and a beam search assembles whole precursor sets from the votes (an
element no neighbour covers falls back to the powder the whole table used most for it). The
temperature starts from the similarity-weighted median of the neighbours' reported temperatures,
corrected for the composition (a linear L1 fit) and, averaged with it, for the composition and the
chosen precursors (boosted trees, `literature_temperature.py`, ADR 0104).

The table (`data/literature.json.gz`) is built by `tools/build_literature_table.py` from
Kononova et al., Scientific Data 6, 203 (2019), training split only (ADR 0090).
"""

from __future__ import annotations

import gzip
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from powderlab.chemistry.balance import closed_elements_of, precursor_composition
from powderlab.core.errors import ValidationError
from powderlab.planner.literature_temperature import BoostedTrees, TemperatureFeatures

TABLE_FILE = Path(__file__).resolve().parent / "data" / "literature.json.gz"
NEIGHBOURS = 30  # training targets that vote
SIMILARITY_POWER = 4.0  # votes weigh similarity**power: the nearest targets dominate
PRIOR_WEIGHT = 0.02  # weight of the table-wide use of a precursor for an element against the neighbours
SET_BONUS = 1.0  # log-score bonus per unit of whole-set vote (a neighbour used exactly this set)
TEMPERATURE_NEIGHBOURS = 40
EXTRA_SOURCE_PRIOR = 0.05  # prior odds of a second powder for an element already brought
GROUP_WEIGHT = 0.5  # weight of the group/row part of the embedding against the element part
OXYGEN_WEIGHT = 0.5  # O (or any open element) counts less than a cation in similarity


@dataclass(frozen=True)
class Neighbour:
    """A training target similar to the query, its similarity (cosine) and what was used for it."""

    target: str
    similarity: float
    sets: tuple[tuple[tuple[str, ...], int, float | None], ...]
    temperature_c: float | None


@dataclass(frozen=True)
class Suggestion:
    """A precursor set (inventory names) with its literature score and evidence."""

    precursors: tuple[str, ...]
    keys: tuple[str, ...]
    log_score: float
    used_for: tuple[str, ...] = field(default_factory=tuple)  # similar targets made with exactly this set
    element_sources: dict[str, str] = field(default_factory=dict)  # element -> where the choice came from


class LiteratureModel:
    """The recommender and the temperature model over one literature table."""

    def __init__(self, table: dict[str, Any]) -> None:
        self.meta = dict(table.get("meta", {}))
        self.names: dict[str, str] = dict(table.get("names", {}))
        rows = table["targets"]
        self.targets = [row[0] for row in rows]
        self.index = {formula: i for i, formula in enumerate(self.targets)}
        self.compositions = [dict(row[1]) for row in rows]
        self.sets = [tuple((tuple(s[0]), int(s[1]), s[2]) for s in row[2]) for row in rows]
        self.temperatures = [row[3] for row in rows]
        temperature_model = table.get("temperature_model", {})
        self.temperature_weights: dict[str, float] = dict(temperature_model.get("weights", {}))
        self.boosted: tuple[TemperatureFeatures, BoostedTrees] | None = None
        if "boosted" in temperature_model:  # the trees over target + precursors (ADR 0104)
            boosted = temperature_model["boosted"]
            self.boosted = (TemperatureFeatures.from_dict(boosted["features"]), BoostedTrees.from_dict(boosted))
        self._features = np.vstack([embed(c) for c in self.compositions]) if rows else np.zeros((0, _DIM))
        self._prior = self._element_prior()
        temps = [t for t in self.temperatures if t is not None]
        self.default_temperature_c = float(np.median(temps)) if temps else 1000.0

    @staticmethod
    def load(path: str | Path | None = None) -> LiteratureModel:
        """The packaged table (or another file written by tools/build_literature_table.py)."""
        return _load(str(path or TABLE_FILE))

    # --- similarity ----------------------------------------------------------------------------

    def neighbours(self, composition: dict[str, float], count: int = NEIGHBOURS) -> list[Neighbour]:
        """The `count` most similar training targets (an identical formula included)."""
        if not self.targets:
            return []
        query = embed(composition)
        similarity = self._features @ query
        order = np.argsort(-similarity, kind="stable")[:count]
        return [Neighbour(self.targets[i], float(similarity[i]), self.sets[i], self.temperatures[i]) for i in order]

    # --- precursors ----------------------------------------------------------------------------

    def suggest(
        self,
        composition: dict[str, float],
        inventory: Inventory,
        count: int = 10,
        neighbours: Sequence[Neighbour] | None = None,
    ) -> list[Suggestion]:
        """Precursor sets from the inventory for a target composition, best first."""
        wanted = frozenset(composition) - OPEN
        if not wanted:
            raise ValidationError("target", "has no element besides O, H, C, N; nothing to dose")
        neighbours = list(neighbours) if neighbours is not None else self.neighbours(composition)
        usable = inventory.usable_for(wanted)
        votes: dict[str, dict[str, float]] = {e: defaultdict(float) for e in wanted}
        set_votes: dict[tuple[str, ...], float] = defaultdict(float)
        set_targets: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for neighbour in neighbours:
            weight = max(neighbour.similarity, 0.0) ** SIMILARITY_POWER
            total = sum(n for _, n, _ in neighbour.sets) or 1
            for keys, n, _ in neighbour.sets:
                share = weight * n / total
                if all(k in usable for k in keys):
                    covered = frozenset().union(*(usable[k] for k in keys))
                    if covered == wanted:
                        set_votes[keys] += share
                        set_targets[keys].append(neighbour.target)
                for key in keys:
                    if key not in usable:
                        continue
                    for element in usable[key]:
                        votes[element][key] += share
        probabilities: dict[str, dict[str, float]] = {}
        sources: dict[str, str] = {}
        for element in wanted:
            candidates = {k: v for k, v in votes[element].items()}
            neighbour_total = sum(candidates.values())
            prior = {k: v for k, v in self._prior.get(element, {}).items() if k in usable}
            prior_total = sum(prior.values())
            for key, value in prior.items():
                candidates[key] = candidates.get(key, 0.0) + PRIOR_WEIGHT * max(neighbour_total, 1e-3) * (
                    value / prior_total
                )
            if not candidates:  # no one used an inventory powder for it: any powder that brings it
                candidates = {k: 1.0 for k, els in usable.items() if element in els}
                sources[element] = "no literature precedent in the inventory"
            else:
                sources[element] = "similar targets" if neighbour_total > 0 else "the table's usual source"
            if not candidates:
                raise ValidationError(
                    "target", f"no inventory powder brings {element} (alone or with other elements of the target)"
                )
            total = sum(candidates.values())
            probabilities[element] = {k: v / total for k, v in candidates.items()}
        ranked = _beam(wanted, usable, probabilities, set_votes, count)
        return [
            Suggestion(
                precursors=tuple(inventory.name_of(k) for k in keys),
                keys=keys,
                log_score=score,
                used_for=tuple(set_targets.get(keys, ())),
                element_sources={e: sources[e] for e in sorted(wanted)},
            )
            for keys, score in ranked
        ]

    # --- temperature ---------------------------------------------------------------------------

    def temperature(
        self, composition: dict[str, float], keys: Iterable[str] = (), neighbours: Sequence[Neighbour] | None = None
    ) -> tuple[float, str]:
        """Heating temperature (C) for a target (and precursor set) and how it was reached: the
        weighted median of similar targets' reported temperatures, through the table's linear
        correction on the composition when the table has one."""
        neighbours = list(neighbours) if neighbours is not None else self.neighbours(composition)
        median, count, same_set = self.neighbour_temperature(neighbours, keys)
        if median is None:
            return (
                self.default_temperature_c,
                f"no similar target reports one: table median {self.default_temperature_c:.0f} C",
            )
        detail = f"weighted median of {count} similar targets' reported temperatures"
        if same_set:
            detail += f" ({same_set} with this precursor set)"
        if not self.temperature_weights:
            return median, f"{detail}: {median:.0f} C"
        features = temperature_features(composition, median)
        value = sum(self.temperature_weights.get(name, 0.0) * x for name, x in features.items())
        value = float(min(max(value, 200.0), 1800.0))
        if self.boosted is None or not tuple(keys):
            return value, f"{detail} {median:.0f} C, corrected for the composition (L1 fit on the table): {value:.0f} C"
        inputs, trees = self.boosted
        chosen = tuple(sorted(keys))
        offset = float(trees.predict(inputs.row(composition, chosen, median)[None, :])[0])
        trees_c = min(max(median + offset, 200.0), 1800.0)
        mean = (value + trees_c) / 2.0
        return mean, (
            f"{detail} {median:.0f} C; corrected for the composition (L1 fit on the table) {value:.0f} C, "
            f"for the composition and these precursors (boosted trees) {trees_c:.0f} C; mean {mean:.0f} C"
        )

    def neighbour_temperature(
        self, neighbours: Sequence[Neighbour], keys: Iterable[str] = ()
    ) -> tuple[float | None, int, int]:
        """Similarity-weighted median of the neighbours' temperatures (a neighbour's temperature for
        the same precursor set preferred), how many reported one, how many with this set."""
        chosen = tuple(sorted(keys))
        values: list[tuple[float, float]] = []
        same_set = 0
        for neighbour in neighbours[:TEMPERATURE_NEIGHBOURS]:
            temperature = neighbour.temperature_c
            for set_keys, _, set_temperature in neighbour.sets:
                if set_keys == chosen and set_temperature is not None:
                    temperature, same_set = set_temperature, same_set + 1
            if temperature is not None:
                values.append((temperature, max(neighbour.similarity, 0.0) ** SIMILARITY_POWER))
        if not values or sum(w for _, w in values) <= 0:
            return None, 0, 0
        return _weighted_median(values), len(values), same_set

    def _element_prior(self) -> dict[str, dict[str, float]]:
        """How often each precursor brought each element across the whole table."""
        prior: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
        for sets in self.sets:
            for keys, n, _ in sets:
                for key in keys:
                    for element in _closed(key):
                        prior[element][key] += n
        return {e: dict(v) for e, v in prior.items()}


OPEN = frozenset({"O", "H", "C", "N"})


class Inventory:
    """Powders on the shelf by formula (as the site or file writes them) and their closed elements."""

    def __init__(self, powders: Iterable[str], source: str = "") -> None:
        self.powders = tuple(dict.fromkeys(p.strip() for p in powders if p.strip()))
        self.source = source
        self._by_key: dict[str, str] = {}
        self._elements: dict[str, frozenset[str]] = {}
        for name in self.powders:
            comp = precursor_composition(name)
            key = str(comp.reduced_formula)
            self._by_key.setdefault(key, name)
            self._elements[key] = closed_elements_of(comp)

    @staticmethod
    def from_file(path: str | Path) -> Inventory:
        """One formula a line; `#` starts a comment; blank lines are skipped."""
        path = Path(path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as error:
            raise ValidationError("--inventory", f"cannot read {path}: {error.strerror or error}") from None
        powders = []
        for number, line in enumerate(lines, start=1):
            text = line.split("#", 1)[0].strip()
            if not text:
                continue
            try:
                precursor_composition(text)
            except ValidationError as error:
                raise ValidationError(f"--inventory {path} line {number}", str(error).split(": ", 1)[-1]) from None
            powders.append(text)
        if not powders:
            raise ValidationError("--inventory", f"{path} lists no powder (one formula a line, # comments)")
        return Inventory(powders, str(path))

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(self._by_key)

    def name_of(self, key: str) -> str:
        return self._by_key[key]

    def elements(self) -> frozenset[str]:
        """Every element the inventory can bring besides O, H, C, N."""
        return frozenset().union(*self._elements.values()) if self._elements else frozenset()

    def usable_for(self, wanted: frozenset[str]) -> dict[str, frozenset[str]]:
        """Powders that bring only elements of the target (besides O, H, C, N): key -> those elements."""
        return {k: els for k, els in self._elements.items() if els and els <= wanted}


def embed(composition: dict[str, float]) -> np.ndarray:
    """Unit vector of a composition: element fractions + fractions summed by group and by row."""
    vector = np.zeros(_DIM)
    total = sum(composition.values()) or 1.0
    for element, amount in composition.items():
        if element not in _ELEMENT_INDEX:
            continue
        share = amount / total * (OXYGEN_WEIGHT if element in OPEN else 1.0)
        group, row = _GROUP_ROW[element]
        vector[_ELEMENT_INDEX[element]] += share
        vector[_N_ELEMENTS + group - 1] += GROUP_WEIGHT * share
        vector[_N_ELEMENTS + 18 + row - 1] += GROUP_WEIGHT * share
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def temperature_features(composition: dict[str, float], neighbour_median_c: float) -> dict[str, float]:
    """Inputs of the temperature correction: which elements, their fractions, how many cations,
    and the neighbours' median (in units of 1000 C)."""
    total = sum(composition.values()) or 1.0
    features = {"bias": 1.0, "neighbours": neighbour_median_c / 1000.0}
    features["n_closed"] = float(len(frozenset(composition) - OPEN))
    for element, amount in composition.items():
        features[f"has:{element}"] = 1.0
        features[f"frac:{element}"] = amount / total
    return features


def composition_of(formula: str) -> dict[str, float]:
    """Element fractions of a target formula (ValidationError when it is not a formula)."""
    from powderlab.chemistry.formulas import parse_formula

    comp = parse_formula(formula, "target")
    return {el: float(a) for el, a in comp.fractional_composition.get_el_amt_dict().items()}


def _beam(
    wanted: frozenset[str],
    usable: dict[str, frozenset[str]],
    probabilities: dict[str, dict[str, float]],
    set_votes: dict[tuple[str, ...], float],
    count: int,
    width: int = 60,
) -> list[tuple[tuple[str, ...], float]]:
    """Whole sets covering every wanted element, by summed log-probabilities of what each powder adds."""
    order = sorted(wanted, key=lambda e: (len(probabilities[e]), e))
    states: list[tuple[float, frozenset[str], tuple[str, ...]]] = [(0.0, frozenset(), ())]
    for element in order:
        grown = []
        for score, covered, keys in states:
            if element in covered:
                grown.append((score, covered, keys))
                # or a second source of it (SrCO3 beside SrF2: the fluoride alone brings too much F)
                for key, p in probabilities[element].items():
                    if key not in keys and usable[key] <= covered:
                        grown.append((score + math.log(p * EXTRA_SOURCE_PRIOR), covered, (*keys, key)))
                continue
            for key in probabilities[element]:
                if key in keys:
                    continue
                # a powder may also bring an element already covered (SrF2 beside SrCO3 for F);
                # it is scored on what it adds
                brings = usable[key] - covered
                gain = sum(math.log(probabilities[e].get(key, 1e-6)) for e in brings)
                grown.append((score + gain, covered | brings, (*keys, key)))
        grown.sort(key=lambda s: (-s[0], s[2]))
        states = grown[:width]
    final: dict[tuple[str, ...], float] = {}
    for score, covered, keys in states:
        if covered != wanted:
            continue
        ordered = tuple(sorted(keys))
        bonus = SET_BONUS * math.log1p(set_votes.get(ordered, 0.0) / max(sum(set_votes.values()), 1e-9) * 10)
        final[ordered] = max(final.get(ordered, -math.inf), score + bonus)
    return sorted(final.items(), key=lambda item: (-item[1], item[0]))[:count]


def _weighted_median(values: list[tuple[float, float]]) -> float:
    values = sorted(values)
    half = sum(w for _, w in values) / 2.0
    running = 0.0
    for value, weight in values:
        running += weight
        if running >= half:
            return value
    return values[-1][0]


@lru_cache(maxsize=512)
def _closed(key: str) -> frozenset[str]:
    return closed_elements_of(precursor_composition(key))


@lru_cache(maxsize=4)
def _load(path: str) -> LiteratureModel:
    try:
        data = json.loads(gzip.decompress(Path(path).read_bytes()))
    except OSError as error:
        raise ValidationError(
            "literature table", f"cannot read {path}: {error}; run tools/build_literature_table.py"
        ) from None
    return LiteratureModel(data)


def _periodic() -> tuple[dict[str, int], dict[str, tuple[int, int]]]:
    from pymatgen.core import Element

    index, group_row = {}, {}
    for element in Element:
        if element.Z > 103:
            continue
        index[element.symbol] = len(index)
        group = element.group if 1 <= (element.group or 0) <= 18 else 3  # lanthanides and actinides: group 3
        group_row[element.symbol] = (int(group), min(int(element.row), 7))
    return index, group_row


_ELEMENT_INDEX, _GROUP_ROW = _periodic()
_N_ELEMENTS = len(_ELEMENT_INDEX)
_DIM = _N_ELEMENTS + 18 + 7
