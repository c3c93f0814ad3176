"""Checks that a campaign's records are complete and agree with the lab (shared by the tests)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from powderlab.autonomy import store as tables
from powderlab.autonomy.store import Store


def check_records(
    store: Store, campaign_id: str, lab_positions: dict[str, str], removed: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Assert the campaign ended with nothing lost, nothing duplicated and the inventory matching the lab.

    lab_positions: position -> labware id as the lab's position table has it; removed: crucibles a
    person took out of the cell during the run (their last recorded place is not checked).
    """
    campaign = store.campaign(campaign_id)
    assert campaign is not None and campaign["status"] == "finished", campaign
    targets = store.rows(tables.targets, campaign_id)
    experiments = store.rows(tables.experiments, campaign_id)
    samples = store.rows(tables.samples, campaign_id)
    operations = store.rows(tables.operations, campaign_id)
    patterns = store.rows(tables.patterns, campaign_id)
    analyses = store.rows(tables.analyses, campaign_id)
    assert targets and all(t["status"] in ("made", "exhausted", "gave_up") for t in targets), targets
    # experiments: one per (target, attempt), attempts numbered 1..n, each settled
    keys = Counter((e["target_id"], e["attempt"]) for e in experiments)
    assert max(keys.values()) == 1, keys
    for target in targets:
        attempts = sorted(e["attempt"] for e in experiments if e["target_id"] == target["id"])
        assert attempts == list(range(1, len(attempts) + 1)), (target["formula"], attempts)
        if target["status"] == "made":
            made = next(e for e in experiments if e["id"] == target["made_by"])
            assert made["target_yield"] >= 0.5
    assert all(e["status"] in ("analysed", "failed", "cancelled") for e in experiments), experiments
    # samples: every one closed, one crucible each, analysed ones with one pattern and one analysis
    assert all(s["closed"] for s in samples), [s for s in samples if not s["closed"]]
    labware = Counter(s["labware_id"] for s in samples)
    assert max(labware.values()) == 1, labware
    pattern_count = Counter(p["sample_id"] for p in patterns)
    analysis_count = Counter(a["sample_id"] for a in analyses)
    for sample in samples:
        assert sample["status"] in ("analysed", "discarded", "failed"), sample
        if sample["status"] == "analysed":
            assert pattern_count[sample["id"]] == 1 and analysis_count[sample["id"]] == 1, sample["id"]
    for experiment in experiments:
        mine = [s for s in samples if s["experiment_id"] == experiment["id"]]
        assert mine or experiment["status"] == "cancelled", f"{experiment['id']} has no sample"
        analysed = [s for s in mine if s["status"] == "analysed"]
        assert len(analysed) == (1 if experiment["status"] == "analysed" else 0), (experiment["id"], mine)
    # the inventory agrees with the lab's position table
    where = {lw: position for position, lw in lab_positions.items()}
    for sample in samples:
        if sample["labware_id"] in removed:
            continue
        assert where.get(sample["labware_id"]) == sample["location"], (sample, where.get(sample["labware_id"]))
    # the write-ahead log is settled
    assert not [o for o in operations if o["state"] in ("intended", "sent")]
    return {
        "targets": len(targets),
        "experiments": len(experiments),
        "samples": len(samples),
        "operations": operations,
    }


def table_of(positions: dict[str, Any]) -> dict[str, str]:
    """position -> labware id from PositionSnapshots."""
    return {name: p.labware.labware_id for name, p in positions.items() if p.labware is not None}
