"""The literature temperature model: gradient-boosted trees over the target and its precursors.

What sets a solid-state heating temperature is mostly the precursors (Huo et al., "Machine-learning
rationalization and prediction of solid-state synthesis conditions", Chem. Mater. 34, 7323 (2022):
the precursors' melting and decomposition points are the strongest features), then the target's
chemistry. The inputs (`features`) are:

- the similarity-weighted median of the nearest training targets' temperatures (`literature.py`);
- per precursor, the mean temperature of the training reactions that used it (a learnt stand-in for
  its melting / decomposition point, shrunk towards the table's mean when rarely used): the lowest,
  mean and highest over the set;
- the precursors' kinds (carbonate, nitrate, hydroxide, organic salt, oxide, halide, ammonium /
  phosphate source, sulfate, element): shares of the set;
- the target's closed elements' melting points (lowest, mean, highest), how many closed elements,
  its O share (per-element shares were tried and dropped: no gain on the training folds).

The model is least-absolute-deviation gradient boosting (Friedman 2001: trees fitted to the sign of
the residual, each leaf the median residual), fitted by `literature_build.with_temperature_model` on
the training split only, each training row's neighbour median and precursor means taken without the
row's own target. It ships as numbers in the literature table: the feature names, the per-precursor
means and the trees as flat arrays. Evaluating it needs numpy only.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

KINDS = ("carbonate", "nitrate", "hydroxide", "organic", "oxide", "halide", "ammonium", "sulfate", "element", "other")
PRECURSOR_SHRINK = 3.0  # pseudo-uses of the table mean in a precursor's mean temperature
_OPEN = frozenset({"O", "H", "C", "N"})


def precursor_kind(key: str) -> str:
    """A precursor's kind from its reduced formula (what leaves when it decomposes)."""
    elements = _elements(key)
    closed = elements - _OPEN
    if len(elements) == 1:
        return "element"
    if elements & {"F", "Cl", "Br", "I"}:
        return "halide"
    if "S" in elements and "O" in elements:
        return "sulfate"
    if "N" in elements and "H" in elements:
        return "ammonium"  # NH4H2PO4, (NH4)6Mo7O24, NH4VO3
    if "N" in elements and "O" in elements:
        return "nitrate"
    if "C" in elements and "H" in elements:
        return "organic"  # acetates, oxalate hydrates, citrates
    if "C" in elements and "O" in elements:
        return "carbonate"
    if "H" in elements and "O" in elements:
        return "hydroxide"
    if elements - closed == {"O"}:
        return "oxide"
    return "other"


def precursor_means(entries: Iterable[tuple[str, Sequence[str], float]]) -> dict[str, tuple[float, int]]:
    """Per precursor key: (sum of temperatures, uses) over (target, precursor keys, temperature) entries."""
    sums: dict[str, list[float]] = {}
    for _, keys, temperature in entries:
        for key in keys:
            total = sums.setdefault(key, [0.0, 0])
            total[0] += temperature
            total[1] += 1
    return {key: (round(s, 1), int(n)) for key, (s, n) in sums.items()}


class TemperatureFeatures:
    """Turns (target composition, precursor keys, neighbours' median) into the model's input row."""

    def __init__(self, means: dict[str, tuple[float, int]], table_mean_c: float) -> None:
        self.means = means
        self.table_mean_c = table_mean_c
        self.names = (
            "neighbours",
            "n_closed",
            "oxygen",
            "melt_min",
            "melt_mean",
            "melt_max",
            "precursor_min",
            "precursor_mean",
            "precursor_max",
            "precursor_uses_min",
            "n_precursors",
            *(f"kind:{k}" for k in KINDS),
        )

    def row(
        self,
        composition: dict[str, float],
        keys: Sequence[str],
        neighbour_median_c: float,
        exclude: dict[str, tuple[float, int]] | None = None,
    ) -> np.ndarray:
        """One input row; `exclude` removes a training target's own uses from the precursor means."""
        x = np.zeros(len(self.names))
        total = sum(composition.values()) or 1.0
        closed = {e: a / total for e, a in composition.items() if e not in _OPEN}
        melts = [_melting_k(e) for e in closed] or [0.0]
        x[0] = neighbour_median_c
        x[1] = len(closed)
        x[2] = composition.get("O", 0.0) / total
        weights = np.array(list(closed.values()) or [1.0])
        x[3], x[4], x[5] = min(melts), float(np.dot(melts, weights) / weights.sum()), max(melts)
        means, uses = [], []
        for key in keys:
            s, n = self.means.get(key, (0.0, 0))
            if exclude and key in exclude:
                s, n = s - exclude[key][0], n - exclude[key][1]
            means.append((s + PRECURSOR_SHRINK * self.table_mean_c) / (n + PRECURSOR_SHRINK))
            uses.append(n)
        if means:
            x[6], x[7], x[8] = min(means), sum(means) / len(means), max(means)
            x[9] = np.log1p(min(uses))
        else:
            x[6] = x[7] = x[8] = self.table_mean_c
        x[10] = len(keys)
        for key in keys:
            x[11 + KINDS.index(precursor_kind(key))] += 1.0 / len(keys)
        return x

    def to_dict(self) -> dict[str, Any]:
        return {"names": list(self.names), "means": self.means, "table_mean_c": round(self.table_mean_c, 1)}

    @staticmethod
    def from_dict(data: dict[str, Any]) -> TemperatureFeatures:
        means = {k: (float(v[0]), int(v[1])) for k, v in data["means"].items()}
        features = TemperatureFeatures(means, float(data["table_mean_c"]))
        if list(features.names) != list(data.get("names", features.names)):
            raise ValueError("the literature table's temperature features differ from this code's; rebuild the table")
        return features


class BoostedTrees:
    """Least-absolute-deviation gradient-boosted regression trees (flat arrays per tree)."""

    def __init__(self, base: float, rate: float, trees: list[dict[str, list]]) -> None:
        self.base = base
        self.rate = rate
        self.trees = [
            (
                np.array(t["feature"], dtype=np.int64),
                np.array(t["threshold"], dtype=float),
                np.array(t["left"], dtype=np.int64),
                np.array(t["right"], dtype=np.int64),
                np.array(t["value"], dtype=float),
            )
            for t in trees
        ]
        self._lists: list[tuple[list, ...]] | None = None

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predictions for rows of x (2-D)."""
        if len(x) == 1:  # the planner's case: plain Python walks a tree ~20x faster than numpy calls
            return np.array([self._predict_one([float(v) for v in x[0]])])
        out = np.full(len(x), self.base)
        rows = np.arange(len(x))
        for feature, threshold, left, right, value in self.trees:
            node = np.zeros(len(x), dtype=np.int64)
            while True:
                inner = feature[node] >= 0
                if not inner.any():
                    break
                at = node[inner]
                go_left = x[rows[inner], feature[at]] <= threshold[at]
                node[inner] = np.where(go_left, left[at], right[at])
            out += self.rate * value[node]
        return out

    def _predict_one(self, row: list[float]) -> float:
        if self._lists is None:
            self._lists = [tuple(a.tolist() for a in tree) for tree in self.trees]
        total = 0.0
        for feature, threshold, left, right, value in self._lists:
            node = 0
            while feature[node] >= 0:
                node = left[node] if row[feature[node]] <= threshold[node] else right[node]
            total += value[node]
        return self.base + self.rate * total

    @staticmethod
    def fit(
        x: np.ndarray,
        y: np.ndarray,
        weights: np.ndarray | None = None,
        trees: int = 200,
        depth: int = 4,
        rate: float = 0.1,
        min_leaf: int = 20,
        bins: int = 32,
        subsample: float = 0.7,
        seed: int = 0,
    ) -> BoostedTrees:
        """LAD boosting: each tree splits on the sign of the residual (squared error on histograms of
        quantile bins), each leaf takes the weighted median residual of its rows."""
        rng = np.random.default_rng(seed)
        weights = np.ones(len(y)) if weights is None else weights
        edges = [np.unique(np.quantile(x[:, j], np.linspace(0, 1, bins + 1)[1:-1])) for j in range(x.shape[1])]
        binned = np.stack([np.searchsorted(edges[j], x[:, j], side="left") for j in range(x.shape[1])], axis=1)
        base = _weighted_median(y, weights)
        prediction = np.full(len(y), base)
        fitted = []
        for _ in range(trees):
            residual = y - prediction
            chosen = np.flatnonzero(rng.random(len(y)) < subsample)
            tree = _grow(binned, edges, np.sign(residual), residual, weights, chosen, depth, min_leaf, bins)
            fitted.append(tree)
            prediction += rate * BoostedTrees(0.0, 1.0, [tree]).predict(x)
        return BoostedTrees(float(base), rate, fitted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "base": round(self.base, 2),
            "rate": self.rate,
            "trees": [
                {
                    "feature": f.tolist(),
                    "threshold": [float(f"{t:.5g}") for t in th],
                    "left": le.tolist(),
                    "right": r.tolist(),
                    "value": [round(float(v), 1) for v in va],
                }
                for f, th, le, r, va in self.trees
            ],
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> BoostedTrees:
        return BoostedTrees(float(data["base"]), float(data["rate"]), data["trees"])


def _grow(
    binned: np.ndarray,
    edges: list[np.ndarray],
    gradient: np.ndarray,
    residual: np.ndarray,
    weights: np.ndarray,
    rows: np.ndarray,
    depth: int,
    min_leaf: int,
    bins: int,
) -> dict[str, list]:
    feature: list[int] = []
    threshold: list[float] = []
    left: list[int] = []
    right: list[int] = []
    value: list[float] = []

    def node(members: np.ndarray, level: int) -> int:
        index = len(feature)
        feature.append(-1)
        threshold.append(0.0)
        left.append(-1)
        right.append(-1)
        value.append(_weighted_median(residual[members], weights[members]) if len(members) else 0.0)
        if level >= depth or len(members) < 2 * min_leaf:
            return index
        split = _best_split(binned[members], gradient[members], weights[members], min_leaf, bins)
        if split is None:
            return index
        j, b = split
        goes_left = binned[members, j] <= b
        feature[index] = j
        threshold[index] = float(edges[j][b]) if b < len(edges[j]) else float("inf")
        left[index] = node(members[goes_left], level + 1)
        right[index] = node(members[~goes_left], level + 1)
        return index

    node(rows, 0)
    return {"feature": feature, "threshold": threshold, "left": left, "right": right, "value": value}


def _best_split(
    binned: np.ndarray, gradient: np.ndarray, weights: np.ndarray, min_leaf: int, bins: int
) -> tuple[int, int] | None:
    n, features = binned.shape
    offsets = binned + (np.arange(features) * bins)[None, :]
    wg = np.bincount(offsets.ravel(), np.repeat(weights * gradient, features), features * bins).reshape(features, bins)
    w = np.bincount(offsets.ravel(), np.repeat(weights, features), features * bins).reshape(features, bins)
    count = np.bincount(offsets.ravel(), None, features * bins).reshape(features, bins)
    cwg, cw, cc = np.cumsum(wg, 1)[:, :-1], np.cumsum(w, 1)[:, :-1], np.cumsum(count, 1)[:, :-1]
    total_wg, total_w = wg.sum(1, keepdims=True), w.sum(1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = cwg**2 / cw + (total_wg - cwg) ** 2 / (total_w - cw) - total_wg**2 / total_w
    gain[(cc < min_leaf) | (n - cc < min_leaf)] = -np.inf
    gain = np.nan_to_num(gain, nan=-np.inf)
    best = int(np.argmax(gain))
    j, b = divmod(best, bins - 1)
    return (j, b) if np.isfinite(gain[j, b]) and gain[j, b] > 1e-9 else None


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2.0)])


@lru_cache(maxsize=256)
def _elements(key: str) -> frozenset[str]:
    from pymatgen.core import Composition

    return frozenset(el.symbol for el in Composition(key).elements)


@lru_cache(maxsize=128)
def _melting_k(element: str) -> float:
    from pymatgen.core import Element

    try:
        value = Element(element).melting_point
    except ValueError:
        return 1000.0
    return float(value) if value else 1000.0
