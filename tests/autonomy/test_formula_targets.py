"""A target given by formula alone, end to end (issue 17 items 1-2, ADR 0109): `powderlab plan screen`
predicts and saves its structure in the candidate library; a campaign plans recipes for it and
analyses against the prediction, while the hidden truth (truth/novel.py fates) decides what forms.

The local lab's mock diffractometer measures no chemistry, so the analyzer here first simulates
each sample's pattern from the hidden truth as the twin does (the synthesis model and the fate of
each predicted compound, on the same candidate file), then runs the real analysis on it."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from powderlab.autonomy import store as tables
from powderlab.autonomy.analysis import ChemistryAnalyzer, make_planner
from powderlab.autonomy.claims import ClaimLedger
from powderlab.autonomy.model import Target
from powderlab.autonomy.runner import local_campaign
from powderlab.chemistry.candidates import candidates_for, library_with_candidates, read_candidates
from powderlab.chemistry.truth.novel import NovelWorld
from powderlab.cli.main import main
from powderlab.core.errors import ValidationError
from powderlab.twin.chemistry import TwinChemistry
from powderlab.twin.items import SampleTruth

SEED = 0  # seed 0 hides: KVO3 (KNbO3-type) forms as predicted, KCrO2 (LiCrO2-type) is not stable


class HiddenTruthPatterns:
    """The twin's chemistry without the robots: what the recipe really forms in the hidden world
    (candidates included, with their fates) is measured by the twin's own diffractometer model
    (twin.chemistry.TwinChemistry, amorphous share included), and the real analysis, which only
    knows the predicted structures, reads it."""

    name = "hidden-truth patterns"

    def __init__(self, seed: int, candidates: str) -> None:
        self.twin = TwinChemistry(seed, library_with_candidates(candidates))  # the twin's world, same file
        self.analysis = ChemistryAnalyzer(library=library_with_candidates(candidates))
        self.library = self.analysis.library  # what the claims' order-disorder check sees
        self.formed: list[tuple[str, dict[str, float]]] = []  # target, true weight fractions of everything

    def analyze(self, pattern, target, elements, *, recipe=None):
        masses = {d.powder: d.target_mg for d in recipe.precursors}
        outcome = self.twin.model.react(masses, recipe.heating, recipe.milling)
        truth = SampleTruth(
            phases_mg={p: m for p, m in outcome.phases_mg.items() if m > 0},
            amorphous_mg=float(sum(outcome.amorphous_mg.values())),
        )
        self.formed.append((target, outcome.weight_fractions(crystalline_only=False)))
        measured = self.twin.pattern(truth, recipe.scan, seed=len(self.formed))
        return self.analysis.analyze(measured, target, elements, recipe=recipe)


@pytest.fixture(scope="module")
def candidates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two formulas the library does not hold, screened once (CHGNet, few steps) into the user's file."""
    folder = tmp_path_factory.mktemp("phases")
    os.environ["OMP_NUM_THREADS"] = "1"
    mp = pytest.MonkeyPatch()
    mp.setenv("POWDERLAB_PHASE_DIR", str(folder))
    try:
        code = main(["plan", "screen", "KVO3", "KCrO2", "--candidates", "1", "--competitors", "0", "--steps", "8"])
    finally:
        mp.undo()
    assert code in (0, 1)  # 1: a formula failed a screen; its structure is kept all the same
    return folder / "candidates.json"


def test_plan_screen_keeps_the_predicted_structure_in_the_candidate_library(candidates: Path) -> None:
    phases = {p.reduced_formula: p for p in read_candidates(candidates)}
    assert set(phases) == {"KVO3", "KCrO2"}
    assert all("candidate" in p.roles and p.energy_per_atom_ev is not None for p in phases.values())
    assert phases["KVO3"].provenance["prototype"] == "KNbO3"
    data = json.loads(candidates.read_text())
    assert [p["phase_id"] for p in data["phases"]] == ["candidate-KVO3", "candidate-KCrO2"]


def test_a_campaign_finds_a_formula_target_in_the_candidate_library(
    candidates: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWDERLAB_PHASE_DIR", str(candidates.parent))
    assert candidates_for(["BaTiO3"]) is None  # packaged phases only: no candidate library needed
    assert candidates_for(["BaTiO3", "KVO3"]) == str(candidates)
    assert candidates_for(["CsInO2"]) is None  # in neither library: the planner's check refuses it
    with pytest.raises(ValidationError, match="no such candidate library file"):
        candidates_for(["BaTiO3"], explicit=candidates.parent / "missing.json")
    assert candidates_for(["BaTiO3"], explicit=candidates) == str(candidates)


def test_a_formula_only_target_ends_with_the_claim_its_hidden_fate_allows(tmp_path: Path, candidates: Path) -> None:
    library = library_with_candidates(candidates)
    fates = {f: NovelWorld(SEED).fate(library.find(f), library).kind for f in ("KVO3", "KCrO2")}
    assert fates == {"KVO3": "as predicted", "KCrO2": "not stable"}
    analyzer = HiddenTruthPatterns(SEED, str(candidates))
    targets = [Target("KVO3", budget=2), Target("KCrO2", budget=2)]
    planner = make_planner("arrows", SEED, library)
    campaign = local_campaign(targets, tmp_path / "c.sqlite", "new", seed=SEED, planner=planner, analyzer=analyzer)
    campaign.run(max_sim_s=20 * 86400)
    try:
        status = {t["formula"]: t["status"] for t in campaign.store.rows(tables.targets, "new")}
        claims = ClaimLedger(campaign.store).list("new")
        made = [c for c in claims if c.verdict == "made"]
        # as predicted: the ordered compound forms, the analysis finds it with its predicted structure,
        # and the claim (checked against disordered parents with the candidate's structure) says new
        assert status["KVO3"] == "made" and [c.target for c in made] == ["KVO3"]
        assert made[0].novelty.startswith("new: no known disordered parent")
        assert any(f.get("candidate-KVO3", 0.0) >= 0.5 for t, f in analyzer.formed if t == "KVO3")
        # not stable: it never forms, so no claim says made and the budget is spent
        assert status["KCrO2"] == "exhausted"
        assert all(f.get("candidate-KCrO2", 0.0) == 0.0 for t, f in analyzer.formed if t == "KCrO2")
        assert {c.verdict for c in claims if c.target == "KCrO2"} == {"not made"}
    finally:
        campaign.close()
