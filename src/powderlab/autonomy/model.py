"""Plain data of a campaign: targets, proposals, analyses and the attempts made so far."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from powderlab.core.errors import ValidationError
from powderlab.core.recipes import Recipe

ELEMENT = re.compile(r"[A-Z][a-z]?")
SUCCESS_YIELD = 0.5  # the A-Lab's criterion: target weight fraction >= 50 %


def elements_of(formula: str) -> tuple[str, ...]:
    """Element symbols of a formula, in order of appearance (e.g. Li2TiO3 -> Li, Ti, O)."""
    found = ELEMENT.findall(formula)
    if not found:
        raise ValidationError("target", f"'{formula}' has no element symbols; give a formula such as Li2TiO3")
    return tuple(dict.fromkeys(found))


def slug(text: str) -> str:
    """A name safe in ids (letters, digits, '-', '_')."""
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "x"


class TargetStatus(StrEnum):
    """Where a target stands in the campaign."""

    PENDING = "pending"  # submitted, no experiment yet
    ACTIVE = "active"  # experiments planned or running
    MADE = "made"  # an experiment reached the success yield
    EXHAUSTED = "exhausted"  # budget spent without success
    GAVE_UP = "gave_up"  # the planner has no further recipe


TERMINAL_TARGET = frozenset({TargetStatus.MADE, TargetStatus.EXHAUSTED, TargetStatus.GAVE_UP})


class ExperimentStatus(StrEnum):
    """One attempt at a target with one recipe."""

    PLANNED = "planned"  # recipe recorded, no sample finished yet
    RUNNING = "running"  # a sample of it is in the lab
    ANALYSED = "analysed"  # pattern analysed, yield known
    FAILED = "failed"  # could not be carried out (reason recorded)
    CANCELLED = "cancelled"  # never run: its target was made by another experiment first


@dataclass(frozen=True)
class Target:
    """A compound to make, with its priority, experiment budget and optional given recipes."""

    formula: str
    priority: int = 0
    budget: int = 4
    elements: tuple[str, ...] = ()
    recipes: tuple[Recipe, ...] = ()  # recipes given with the target (the fixed-list planner uses them)
    notes: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.formula, str) or not self.formula.strip():
            raise ValidationError("target", f"expected a formula, got {self.formula!r}")
        if not isinstance(self.budget, int) or self.budget < 1:
            raise ValidationError(f"budget of {self.formula}", f"{self.budget!r} must be an integer >= 1")
        if not isinstance(self.priority, int):
            raise ValidationError(f"priority of {self.formula}", f"{self.priority!r} must be an integer")
        object.__setattr__(self, "elements", tuple(self.elements) or elements_of(self.formula))
        object.__setattr__(self, "recipes", tuple(self.recipes))

    def to_dict(self) -> dict[str, Any]:
        return {
            "formula": self.formula,
            "priority": self.priority,
            "budget": self.budget,
            "elements": list(self.elements),
            "recipes": [r.to_dict() for r in self.recipes],
            "notes": self.notes,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Target:
        return Target(
            formula=data["formula"],
            priority=int(data.get("priority", 0)),
            budget=int(data.get("budget", 4)),
            elements=tuple(data.get("elements") or ()),
            recipes=tuple(Recipe.from_dict(r) for r in data.get("recipes") or ()),
            notes=str(data.get("notes", "")),
        )


@dataclass(frozen=True)
class Proposal:
    """A recipe the planner wants tried, and why."""

    recipe: Recipe
    reason: str = ""


@dataclass(frozen=True)
class PhaseFraction:
    """One phase found in a pattern."""

    phase: str
    formula: str
    weight_fraction: float
    confidence: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase,
            "formula": self.formula,
            "weight_fraction": round(float(self.weight_fraction), 4),
            "confidence": round(float(self.confidence), 3),
        }


@dataclass
class AnalysisResult:
    """What an analyzer made of a pattern: phases, the target's yield and the fit."""

    analyzer: str
    target: str
    target_yield: float
    phases: tuple[PhaseFraction, ...] = ()
    rwp: float | None = None
    unknown_phase_suspected: bool = False
    curves: dict[str, list[float]] | None = None  # two_theta, observed, calculated, background
    notes: str = ""
    # What a claim rests on beyond the above (autonomy/claims.py): rexp, unexplained_fraction,
    # amorphous_fraction, phase uncertainties, alternative phase sets, the analysis version.
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self, include_curves: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "analyzer": self.analyzer,
            "target": self.target,
            "target_yield": round(float(self.target_yield), 4),
            "phases": [p.to_dict() for p in self.phases],
            "rwp": None if self.rwp is None else round(float(self.rwp), 4),
            "unknown_phase_suspected": bool(self.unknown_phase_suspected),
            "notes": self.notes,
        }
        if self.evidence:
            data["evidence"] = self.evidence
        if include_curves:
            data["curves"] = self.curves
        return data


@dataclass(frozen=True)
class Attempt:
    """One experiment of a target as the planner sees it (history for active learning)."""

    experiment_id: str
    attempt: int
    recipe: Recipe
    status: ExperimentStatus
    target_yield: float | None = None
    phases: tuple[PhaseFraction, ...] = ()
    failure: str = ""
    reason: str = ""


@dataclass(frozen=True)
class SampleProgress:
    """One sample of a campaign as the dashboard lists it."""

    sample_id: str
    target: str
    recipe_id: str  # the experiment's id
    state: str  # queued, running, done, failed
    stage: str  # the sample's status (dosed, milled, heated, ...) or the operation running on it
    station: str = ""  # where it is being worked on; empty when idle
    target_yield: float = -1.0  # 0..1 once analysed

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Progress:
    """The campaign at a glance (the progress topic and the CLI's live line)."""

    campaign: str
    state: str  # running, paused, suspended, finished
    reasons: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    targets_total: int = 0
    targets_made: int = 0
    targets_failed: int = 0
    targets_active: int = 0
    experiments_done: int = 0
    experiments_planned: int = 0
    samples_total: int = 0
    samples_done: int = 0
    samples_failed: int = 0
    samples_in_flight: int = 0
    operations_in_flight: int = 0
    sim_time_s: float = 0.0
    sim_elapsed_s: float = 0.0
    eta_s: float | None = None
    samples: list[SampleProgress] = field(default_factory=list)

    def line(self) -> str:
        eta = "--" if self.eta_s is None else f"{self.eta_s / 3600:.1f} h"
        text = (
            f"[{self.state}] targets {self.targets_made} made / {self.targets_failed} failed / "
            f"{self.targets_active} in flight of {self.targets_total}; experiments {self.experiments_done} done; "
            f"samples in flight {self.samples_in_flight}; sim time {self.sim_elapsed_s / 3600:.1f} h; ETA {eta}"
        )
        if self.reasons:
            text += " (" + "; ".join(self.reasons) + ")"
        return text

    def to_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["samples"] = [s.to_dict() for s in self.samples]
        return data
