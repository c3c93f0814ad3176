"""The campaign's working state in memory; the Store keeps a durable copy of every change."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from powderlab.autonomy.model import ExperimentStatus, Target, TargetStatus
from powderlab.core.recipes import HeatingProfile, Recipe
from powderlab.core.samples import SampleStatus
from powderlab.stations.operations import operation


def profile_key(profile: HeatingProfile) -> str:
    """Samples whose profiles have the same key can share one furnace run."""
    return json.dumps(profile.to_list(), sort_keys=True)


# Batch states: queued (members reserved, no furnace yet), filling (a furnace, loading), heating,
# heated (unloading), done (empty again).
QUEUED, FILLING, HEATING, HEATED, DONE = "queued", "filling", "heating", "heated", "done"


@dataclass
class TargetRecord:
    """A target in the campaign."""

    id: str
    target: Target
    seq: int
    status: TargetStatus = TargetStatus.PENDING
    made_by: str = ""


@dataclass
class ExperimentRecord:
    """One attempt (a recipe) at a target."""

    id: str
    target_id: str
    attempt: int
    recipe: Recipe
    reason: str
    status: ExperimentStatus = ExperimentStatus.PLANNED
    target_yield: float | None = None
    failure: str = ""
    created_s: float = 0.0
    finished_s: float | None = None

    @property
    def profile_key(self) -> str:
        return profile_key(self.recipe.heating)


@dataclass
class SampleRecord:
    """A crucible of powder made for one experiment; the inventory's unit."""

    id: str
    experiment_id: str
    seq: int
    labware_id: str = ""
    status: SampleStatus = SampleStatus.PLANNED
    location: str = ""
    batch_id: str = ""
    retries: int = 0
    not_before: float = 0.0
    failure: str = ""
    dosed_mg: dict[str, float] = field(default_factory=dict)
    created_s: float = 0.0
    finished_s: float | None = None
    closed: bool = False  # measured and stored, or discarded: nothing more to do with it
    analysed: bool = False


@dataclass
class BatchRecord:
    """One furnace run shared by crucibles of one heating profile."""

    id: str
    profile: HeatingProfile
    capacity: int
    state: str = QUEUED
    furnace: str = ""
    closed: bool = False  # no more members: heat once all are loaded
    created_s: float = 0.0
    last_load_s: float | None = None
    heat_started_s: float | None = None
    heat_ended_s: float | None = None
    retries: int = 0
    not_before: float = 0.0

    @property
    def key(self) -> str:
        return profile_key(self.profile)


@dataclass
class OpRecord:
    """One action goal: recorded before it is sent (intent), its result after (write-ahead)."""

    id: str  # also the ROS goal UUID (hex)
    station: str
    action: str
    goal: dict[str, Any]
    purpose: str
    sample_id: str = ""
    batch_id: str = ""
    resources: tuple[str, ...] = ()
    estimate_s: float = 0.0
    state: str = "intended"  # intended, sent, succeeded, failed, lost
    intended_s: float = 0.0
    started_s: float | None = None
    ended_s: float | None = None
    error_code: int | None = None
    error_msg: str = ""
    result: dict[str, Any] = field(default_factory=dict)
    overrun_reported: bool = False

    @property
    def request(self) -> Any:
        """The typed request of the stored goal (its operation's, ADR 0088)."""
        return operation(self.action).request_from_data(self.goal)
