"""The claims ledger: verdicts from the evidence, versions, reviews, and the tables on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from powderlab.autonomy import migrate
from powderlab.autonomy.claims import ClaimLedger, ClaimThresholds, judge
from powderlab.autonomy.model import AnalysisResult, PhaseFraction
from powderlab.autonomy.store import Store
from powderlab.core.errors import UnknownResourceError, ValidationError


def analysis(
    target_yield: float = 0.8,
    rwp: float | None = 0.08,
    rexp: float = 0.06,
    unexplained: float = 0.0,
    unknown: bool = False,
    alternative_delta: float = 0.3,
    esd: float = 0.01,
) -> AnalysisResult:
    phases = (PhaseFraction("BaTiO3", "BaTiO3", target_yield, 1.0), PhaseFraction("TiO2", "TiO2", 1 - target_yield))
    evidence = {
        "analysis_version": "test/1",
        "rexp": rexp,
        "goodness_of_fit": None if rwp is None else rwp / rexp,
        "unexplained_fraction": unexplained,
        "amorphous_fraction": 0.02,
        "phases": [
            {"phase_id": "BaTiO3", "formula": "BaTiO3", "weight_fraction": target_yield, "weight_fraction_esd": esd},
            {"phase_id": "TiO2", "formula": "TiO2", "weight_fraction": 1 - target_yield, "weight_fraction_esd": esd},
        ],
        "alternatives": [{"phases": [], "rwp": 0.5, "delta_rwp": alternative_delta, "note": "without BaTiO3"}],
    }
    return AnalysisResult("test", "BaTiO3", target_yield, phases, rwp, unknown, None, "", evidence)


@pytest.mark.parametrize(
    ("changes", "verdict", "missed"),
    [
        ({}, "made", None),
        ({"target_yield": 0.3}, "not made", "target yield"),
        ({"target_yield": 0.51}, "needs review", "target yield above the success yield"),
        ({"rwp": 0.31}, "needs review", "Rwp"),
        ({"unexplained": 0.08, "unknown": True}, "needs review", "unexplained fraction"),
        ({"alternative_delta": 0.005}, "needs review", "Rwp rise of the best fit without the target"),
        ({"esd": 0.2}, "needs review", "target weight-fraction uncertainty"),
    ],
)
def test_the_verdict_follows_the_thresholds(changes: dict, verdict: str, missed: str | None) -> None:
    found, checks, evidence = judge("BaTiO3", analysis(**changes), ClaimThresholds())
    assert found == verdict
    failed = [c.name for c in checks if not c.passed]
    assert (missed in failed) if missed else not failed
    assert [p["formula"] for p in evidence["impurities"]] == ["TiO2"]
    assert evidence["figures"]["rexp"] == 0.06


def test_thresholds_are_parameters_and_unknown_names_are_refused() -> None:
    lenient = ClaimThresholds.from_mapping({"max_rwp": 0.4, "max_goodness_of_fit": 6})
    assert judge("BaTiO3", analysis(rwp=0.31), lenient)[0] == "made"
    assert ClaimThresholds.from_mapping({}, success_yield=0.9).success_yield == 0.9
    with pytest.raises(ValidationError, match=r"allowed: .*max_rwp"):
        ClaimThresholds.from_mapping({"max_rpw": 0.4})


def test_an_analysis_without_a_fit_says_so() -> None:
    verdict, _, evidence = judge("BaTiO3", AnalysisResult("standin", "BaTiO3", 0.7), ClaimThresholds())
    assert verdict == "made"
    assert "no fit evidence" in evidence["warning"] and "Rwp" in evidence["not_reported"]


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A store with one campaign, brought to head from revision 0002 (the claims tables are new)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'campaign.db'}"
        cleanup = None
    else:
        server = request.getfixturevalue("postgres_url")
        name = "c_" + uuid.uuid4().hex[:12]
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f"CREATE DATABASE {name}"))
        url = server.rsplit("/", 1)[0] + "/" + name
        cleanup = (admin, name)
    first = Store(url)
    first.create_campaign("c1", "claims", 1, {}, 0.0)
    with first.engine.begin() as conn:
        command.downgrade(migrate.alembic_config(conn), "0002")
    first.close()
    opened = Store(url)  # upgraded to head: 0003 adds the claims tables, the campaign survives
    assert opened.campaign("c1") is not None
    yield opened
    opened.close()
    if cleanup is not None:
        admin, name = cleanup
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


def test_claims_are_versioned_and_reviewed_never_overwritten(store: Store) -> None:
    ledger = ClaimLedger(store)
    common = {"key": "s-1", "target_id": "c1/BaTiO3", "target": "BaTiO3", "experiment_id": "c1/BaTiO3#1"}
    first = ledger.record("c1", analysis=analysis(rwp=0.31), thresholds=ClaimThresholds(), sim_now=10.0, **common)
    assert (first.version, first.verdict, first.status) == (1, "needs review", "automatic")
    assert first.evidence["order_disorder"]["matched"] is False  # BaTiO3: Ba and Ti cannot share a site
    assert first.novelty.startswith("known compound")

    with pytest.raises(ValidationError, match="comment"):
        ledger.review(first.id, "ada", "accepted", "  ")
    with pytest.raises(ValidationError, match="allowed: accepted, rejected"):
        ledger.review(first.id, "ada", "maybe", "hm")
    with pytest.raises(UnknownResourceError):
        ledger.review(first.id + 1000, "ada", "rejected", "no such claim")
    reviewed = ledger.review(first.id, "ada", "rejected", "Rwp 0.31: the fit is poor")
    assert reviewed.status == "rejected" and reviewed.reviews[-1].reviewer == "ada"

    second = ledger.record("c1", analysis=analysis(), thresholds=ClaimThresholds(), sim_now=20.0, **common)
    assert (second.version, second.verdict, second.status, second.versions) == (2, "made", "automatic", 2)
    versions = ledger.versions("c1", "s-1")
    assert [(c.version, c.verdict, c.status) for c in versions] == [
        (1, "needs review", "rejected"),
        (2, "made", "automatic"),
    ]
    assert versions[0].evidence["figures"]["rwp"] == 0.31  # the first version is kept as it was
    assert [c.version for c in ledger.list("c1")] == [2]
    assert len(ledger.list("c1", all_versions=True)) == 2
    accepted = ledger.review(second.id, "bob", "accepted", "clean fit, alternative 0.3 worse")
    assert [c.status for c in ledger.list()] == ["accepted"] and accepted.reviews[0].comment.startswith("clean")


def test_claims_in_the_report_and_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import json

    from powderlab.autonomy.report import write_report
    from powderlab.cli.main import main

    database = tmp_path / "campaign.sqlite"
    store = Store(database)
    store.create_campaign("c1", "claims", 1, {"planner": "fixed", "analyzer": "test"}, 0.0)
    ledger = ClaimLedger(store)
    common = {"target_id": "c1/BaTiO3", "target": "BaTiO3", "thresholds": ClaimThresholds(), "sim_now": 1.0}
    made = ledger.record("c1", key="s-1", experiment_id="e1", analysis=analysis(), **common)
    held = ledger.record("c1", key="s-2", experiment_id="e2", analysis=analysis(unexplained=0.05), **common)
    paths = write_report(store, "c1", tmp_path / "report", plots=False)
    document = json.loads(paths["json"].read_text())
    assert [(c["claim"], c["verdict"]) for c in document["claims"]] == [("s-1", "made"), ("s-2", "needs review")]
    page = paths["html"].read_text()
    assert f"claim {held.id}: BaTiO3: needs review [automatic]" in page and "<b class='bad'>missed</b>" in page
    store.close()

    assert main(["claims", "list", "--database", str(database), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [c["verdict"] for c in listed] == ["made", "needs review"]
    assert main(["claims", "show", str(held.id), "--database", str(database)]) == 0
    shown = capsys.readouterr().out
    assert "needs review" in shown and "unexplained fraction 0.05 <= 0.01: MISSED" in shown
    out = tmp_path / "claims.json"
    assert main(["claims", "export", "--database", str(database), "--json", "-o", str(out)]) == 0
    exported = json.loads(out.read_text())["claims"]
    assert {c["id"] for c in exported} == {made.id, held.id} and all("curves" in c for c in exported)
    assert main(["claims", "show", "999", "--database", str(database)]) == 2
    assert "claim" in capsys.readouterr().err


class HeldFirstAnalyzer:
    """Every sample reaches 80 % of its target; the first of each target leaves unindexed peaks."""

    name = "scripted"

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def analyze(self, pattern, target, elements, *, recipe=None) -> AnalysisResult:
        first = target not in self.seen
        self.seen.add(target)
        result = analysis(unexplained=0.06 if first else 0.0)
        result.target = target
        result.phases = (PhaseFraction(target, target, 0.8), PhaseFraction("TiO2", "TiO2", 0.2))
        result.evidence["phases"][0].update(phase_id=target, formula=target)
        return result


def test_a_campaign_makes_a_target_by_its_claim_not_by_the_yield_alone(tmp_path: Path) -> None:
    from powderlab.autonomy import store as tables
    from powderlab.autonomy.runner import local_campaign
    from powderlab.autonomy.targets import load_targets
    from powderlab.core.resources import data_path

    targets = load_targets(data_path("sim", "campaigns", "default.yaml")).targets[:1]
    campaign = local_campaign(targets, tmp_path / "c.sqlite", "cl", seed=3, analyzer=HeldFirstAnalyzer())
    campaign.run(max_sim_s=10 * 86400)
    try:
        found = ClaimLedger(campaign.store).list("cl")
        assert [c.verdict for c in found][:2] == ["needs review", "made"]  # 80 % yield both times
        target = campaign.store.rows(tables.targets, "cl")[0]
        assert target["status"] == "made" and target["made_by"] == found[1].experiment_id
        analysed = {a["sample_id"] for a in campaign.store.rows(tables.analyses, "cl")}
        assert {c.key for c in found} == analysed  # one claim per analysed sample
    finally:
        campaign.close()
