"""The planner behind the campaign's Planner protocol: registered in make_planner, runs a campaign."""

from __future__ import annotations

from pathlib import Path

from powderlab.autonomy import store as tables
from powderlab.autonomy.analysis import make_planner
from powderlab.autonomy.model import Target
from powderlab.autonomy.protocols import Planner
from powderlab.autonomy.runner import local_campaign
from powderlab.planner import ArrowsPlanner, RandomPlanner, RankingPlanner


def test_make_planner_knows_the_ai_planner_and_its_baselines() -> None:
    assert isinstance(make_planner("arrows"), ArrowsPlanner)
    assert isinstance(make_planner("ranking"), RankingPlanner)
    assert isinstance(make_planner("random", 3), RandomPlanner)
    planner: Planner = make_planner("arrows")  # structurally a Planner
    assert "arrows" in planner.name


def test_a_local_campaign_takes_its_recipes_from_the_ai_planner(tmp_path: Path) -> None:
    targets = [Target("BaTiO3", budget=2), Target("Li2TiO3", budget=2)]
    campaign = local_campaign(targets, tmp_path / "c.sqlite", "ai", seed=1, planner=make_planner("arrows"))
    campaign.run(max_sim_s=20 * 86400)
    try:
        experiments = campaign.store.rows(tables.experiments, "ai")
        assert 2 <= len(experiments) <= 4
        for row in experiments:
            assert "driving force" in row["reason"] or "after " in row["reason"], row["reason"]
        statuses = {t.target.formula: t.status.value for t in campaign.engine.targets.values()}
        assert set(statuses.values()) <= {"made", "exhausted", "gave_up"}
    finally:
        campaign.close()
