"""A goal the campaign has settled as unknown is tombstoned at its station and never runs (ADR 0102)."""

from __future__ import annotations

import threading

import pytest

from powderlab.stations.goal_ledger import GoalLedger


def test_a_tombstoned_goal_is_refused_when_it_arrives_late():
    ledger = GoalLedger()
    assert ledger.tombstone("late")  # the campaign settled it: it will never run
    assert not ledger.start("late") and ledger.tombstoned("late")
    assert ledger.start("fresh")  # other goals run


def test_a_goal_that_started_cannot_be_tombstoned_so_the_campaign_keeps_following_it():
    ledger = GoalLedger()
    assert ledger.start("running")
    assert not ledger.tombstone("running") and not ledger.tombstoned("running")


def _race(ledger: GoalLedger) -> dict[str, bool]:
    """start and tombstone of one goal id from two threads at once."""
    results: dict[str, bool] = {}
    go = threading.Barrier(2)

    def run(name: str, call) -> None:
        go.wait()
        results[name] = call("goal")

    threads = [
        threading.Thread(target=run, args=("start", ledger.start)),
        threading.Thread(target=run, args=("tombstone", ledger.tombstone)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_exactly_one_of_start_and_tombstone_wins_a_race():
    for _ in range(200):
        results = _race(GoalLedger())
        assert results["start"] != results["tombstone"]


def test_the_ledger_is_bounded_and_names_a_bad_size():
    ledger = GoalLedger(keep=2)
    for goal in ("a", "b", "c"):
        ledger.tombstone(goal)
    assert not ledger.tombstoned("a") and ledger.tombstoned("c")
    with pytest.raises(ValueError, match="at least 1"):
        GoalLedger(keep=0)
