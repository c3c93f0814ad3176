"""The campaign's side of co-firing: which furnace runs are open, passed to a planner that accepts it.

A furnace runs one heating profile per run (batches keyed by profile). With many distinct profiles
in flight, runs close part-filled after batch_wait_s. A planner that declares `accepts_cofiring`
(the ARROWS planner) gets, with each request, the open runs as a plain
powderlab.planner.cofiring.CofiringHint and may pick a neighbouring temperature of equal standing
that joins one; other planners are called exactly as before. See ADR 0084.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from powderlab.autonomy.state import FILLING, QUEUED, BatchRecord, ExperimentRecord, SampleRecord
from powderlab.core.samples import SampleStatus
from powderlab.planner.cofiring import CofiringHint, open_runs


def cofiring_hint(
    batches: Iterable[BatchRecord],
    samples: Iterable[SampleRecord],
    unplaced: Iterable[ExperimentRecord],
    capacity: int,
) -> CofiringHint:
    """The open runs of a campaign: runs still taking crucibles (queued or filling, not closed,
    with free slots; members are the open, not failed samples, as the engine counts them) and the
    experiments that need a sample no run holds yet (`unplaced`: the engine's pending experiments)."""
    members: dict[str, int] = {}
    for sample in samples:
        if sample.batch_id and not sample.closed and sample.status is not SampleStatus.FAILED:
            members[sample.batch_id] = members.get(sample.batch_id, 0) + 1
    runs = [
        (batch.profile, batch.capacity - members.get(batch.id, 0), batch.state, batch.furnace)
        for batch in batches
        if batch.state in (QUEUED, FILLING) and not batch.closed
    ]
    return open_runs(runs, [e.recipe.heating for e in unplaced], capacity)


def ask_planner(planner: Any, target: Any, history: Sequence[Any], hint: CofiringHint) -> Any:
    """planner.next_recipe(target, history), with cofiring=hint if the planner accepts it."""
    if getattr(planner, "accepts_cofiring", False):
        return planner.next_recipe(target, history, cofiring=hint)
    return planner.next_recipe(target, history)
