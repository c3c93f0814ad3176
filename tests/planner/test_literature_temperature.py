"""The literature temperature model (ADR 0104): boosted trees over the target and its precursors."""

from __future__ import annotations

import numpy as np
import pytest

from powderlab.planner.literature import LiteratureModel
from powderlab.planner.literature_build import with_temperature_model
from powderlab.planner.literature_temperature import BoostedTrees, TemperatureFeatures, precursor_kind, precursor_means
from tests.planner.test_literature import TABLE


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("Li2CO3", "carbonate"),
        ("Sr(NO3)2", "nitrate"),
        ("LiOH", "hydroxide"),
        ("NH4H2PO4", "ammonium"),
        ("Co(CH3COO)2", "organic"),
        ("TiO2", "oxide"),
        ("LiF", "halide"),
        ("Ti", "element"),
    ],
)
def test_precursor_kinds(key: str, kind: str) -> None:
    assert precursor_kind(key) == kind


def test_lad_boosting_learns_a_step_and_ignores_outliers_and_round_trips() -> None:
    rng = np.random.default_rng(1)
    x = rng.random((400, 3))
    y = np.where(x[:, 0] < 0.5, 700.0, 1200.0)
    y[rng.random(400) < 0.1] = 3000.0  # gross outliers (mining errors): a median model ignores them
    trees = BoostedTrees.fit(x, y, trees=60, depth=2, min_leaf=10)
    probe = np.array([[0.2, 0.5, 0.5], [0.8, 0.5, 0.5]])
    low, high = trees.predict(probe)
    assert low == pytest.approx(700.0, abs=40.0) and high == pytest.approx(1200.0, abs=40.0)
    again = BoostedTrees.from_dict(trees.to_dict())
    assert np.allclose(again.predict(probe), trees.predict(probe), atol=1.0)


def test_a_precursors_mean_temperature_leaves_out_the_training_targets_own_uses() -> None:
    means = precursor_means([("A", ("BaCO3", "TiO2"), 1200.0), ("B", ("Ba(NO3)2", "TiO2"), 700.0)])
    features = TemperatureFeatures(means, 1000.0)
    composition = {"Ba": 0.2, "Ti": 0.2, "O": 0.6}
    row = features.row(composition, ("Ba(NO3)2", "TiO2"), 900.0)
    names = list(features.names)
    shrunk_nitrate = (700.0 + 3 * 1000.0) / (1 + 3)
    assert row[names.index("precursor_min")] == pytest.approx(shrunk_nitrate)
    assert row[names.index("kind:nitrate")] == pytest.approx(0.5) and row[names.index("kind:oxide")] == 0.5
    own = precursor_means([("B", ("Ba(NO3)2", "TiO2"), 700.0)])
    left_out = features.row(composition, ("Ba(NO3)2", "TiO2"), 900.0, own)
    assert left_out[names.index("precursor_min")] == pytest.approx(1000.0)  # no other use: the table mean


def test_the_chosen_precursors_move_the_temperature() -> None:
    """A table whose trees say 'nitrates: 300 C lower' (one stump): the planner's temperature for the
    same target moves with the precursors chosen, by half of it (the mean with the linear model)."""
    features = TemperatureFeatures({}, 1000.0)
    nitrate_column = list(features.names).index("kind:nitrate")
    stump = {"feature": [nitrate_column, -1, -1], "threshold": [0.0, 0.0, 0.0], "left": [1, -1, -1]}
    stump |= {"right": [2, -1, -1], "value": [0.0, 0.0, -300.0]}
    boosted = {"features": features.to_dict(), "base": 0.0, "rate": 1.0, "trees": [stump]}
    weights = {"neighbours": 1000.0}  # the linear model: the neighbours' median as is
    model = LiteratureModel({**TABLE, "temperature_model": {"weights": weights, "boosted": boosted}})
    composition = {"Ba": 0.2, "Ti": 0.2, "O": 0.6}
    oxide, why = model.temperature(composition, ("BaO", "TiO2"))
    nitrate, _ = model.temperature(composition, ("Ba(NO3)2", "TiO2"))
    assert oxide - nitrate == pytest.approx(150.0)
    assert "boosted trees" in why and "these precursors" in why
    fitted = with_temperature_model(TABLE, trees=5)["temperature_model"]["boosted"]
    assert len(fitted["trees"]) == 5 and fitted["features"]["names"] == list(features.names)


def test_the_shipped_table_carries_the_trees() -> None:
    model = LiteratureModel.load()
    assert model.boosted is not None and len(model.boosted[1].trees) >= 50
    value, why = model.temperature({"Ba": 0.2, "Ti": 0.2, "O": 0.6}, ("BaCO3", "TiO2"))
    assert 600.0 <= value <= 1600.0 and "boosted trees" in why
