"""The planner's target queue: submit targets, propose the next recipe, report outcomes.

Plain Python behind the planner node (ROS services) and `powderlab plan` (a JSON state file), so
both behave the same. The history of each target is kept here and handed to the planner as the
campaign would (attempts with recipe, status, yield, phases).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from powderlab.chemistry.phases import Phase, PhaseLibrary, default_library
from powderlab.core.errors import PowderLabError, UnknownResourceError, ValidationError
from powderlab.core.recipes import Recipe
from powderlab.planner.inventory import Inventory
from powderlab.planner.planner import make
from powderlab.planner.screening import DEFAULT_HULL_EV, Screener
from powderlab.planner.targets import ParsedTargets, TargetEntry, entries_of, parse_entry

SUCCESS_YIELD = 0.5


@dataclass(frozen=True)
class SeenPhase:
    """A phase of an analysed pattern (the planner reads .phase and .weight_fraction)."""

    phase: str
    weight_fraction: float


@dataclass
class AttemptRecord:
    """One proposed experiment and, once reported, its outcome."""

    recipe: Recipe
    reason: str
    status: str = "planned"  # planned, analysed, failed
    target_yield: float | None = None
    phases: tuple[SeenPhase, ...] = ()
    failure: str = ""


@dataclass
class QueuedTarget:
    """A target in the queue with its attempts."""

    entry: TargetEntry
    status: str = "pending"  # pending, active, made, exhausted, gave_up
    attempts: list[AttemptRecord] = field(default_factory=list)
    last_reason: str = ""

    @property
    def formula(self) -> str:
        return self.entry.phase_id

    @property
    def budget(self) -> int:
        return self.entry.budget

    @property
    def best_yield(self) -> float:
        return max((a.target_yield or 0.0 for a in self.attempts if a.status == "analysed"), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {
            "formula": self.entry.formula,
            "phase_id": self.entry.phase_id,
            "status": self.status,
            "experiments": len(self.attempts),
            "budget": self.budget,
            "best_yield": round(self.best_yield, 4),
            "last_reason": self.last_reason,
        }


class PlannerService:
    """Targets, their histories and one planner (arrows by default)."""

    def __init__(
        self,
        planner: str = "arrows",
        *,
        inventory: Inventory | None = None,
        library: PhaseLibrary | None = None,
        hull_threshold_ev: float = DEFAULT_HULL_EV,
        seed: int = 0,
        relax: Any = "chgnet",
    ) -> None:
        """relax: how an external structure without an energy gets one ("chgnet": a short CHGNet
        relaxation; a callable structure -> eV/atom; None: such entries are refused)."""
        self.inventory = inventory if inventory is not None else Inventory.from_site("default")
        self.library = library if library is not None else default_library().copy()
        self.screener = Screener(self.inventory, self.library, hull_threshold_ev)
        self.planner_name = planner
        self.planner = make(planner, seed, inventory=self.inventory, library=self.library)
        self.targets: dict[str, QueuedTarget] = {}
        self.external: dict[str, Phase] = {}
        if relax == "chgnet":
            from powderlab.planner.candidates import relaxed_energy

            relax = relaxed_energy
        self._relax = relax

    # --- submit -----------------------------------------------------------------------------

    def submit(self, document: Any) -> ParsedTargets:
        """Check every entry; queue the good ones. Errors and warnings name the entry."""
        result = ParsedTargets()
        for index, item in enumerate(entries_of(document), start=1):
            label = f"entry {index} ({_label(item)})"
            try:
                entry, phase = parse_entry(item, self.library, self._relax)
                if phase is not None:
                    self.library.add(phase, replace=True)
                    self.external[phase.phase_id] = phase
                screening = self.screener.screen(entry.phase_id)
                dosable = screening.checks[0]
                if not dosable.passed:
                    raise ValidationError("target", dosable.reason)
                if not self.planner.sets(entry.phase_id):
                    raise ValidationError(
                        "target", self.planner.explanations.get(entry.phase_id, "no precursor set from the inventory")
                    )
                for check in screening.checks[1:]:
                    if not check.passed:
                        result.warnings.append(f"{label}: {check.name}: {check.reason}")
            except PowderLabError as error:
                result.errors.append(f"{label}: {error}")
                continue
            if entry.phase_id in self.targets:
                result.warnings.append(f"{label}: already queued; kept the first")
                continue
            self.targets[entry.phase_id] = QueuedTarget(entry)
            result.accepted.append(entry)
        return result

    # --- propose / report -----------------------------------------------------------------

    def target(self, name: str) -> QueuedTarget:
        if name in self.targets:
            return self.targets[name]
        for queued in self.targets.values():
            if name in (queued.entry.formula, queued.entry.phase_id):
                return queued
        raise UnknownResourceError("queued target", name, list(self.targets))

    def propose(self, name: str) -> AttemptRecord | None:
        """The next recipe for a target (recorded as planned), or None with the reason in last_reason."""
        queued = self.target(name)
        if queued.status in ("made", "exhausted", "gave_up"):
            return None  # last_reason keeps why it ended
        open_ = [a for a in queued.attempts if a.status == "planned"]
        if open_:
            raise ValidationError(
                f"target {queued.formula}", f"recipe {open_[-1].recipe.recipe_id} has no outcome yet; report it first"
            )
        if len(queued.attempts) >= queued.budget:
            queued.status = "exhausted"
            queued.last_reason = f"budget of {queued.budget} experiments spent"
            return None
        proposal = self.planner.next_recipe(queued, queued.attempts)
        if proposal is None:
            queued.status = "gave_up"
            queued.last_reason = self.planner.explanations.get(queued.formula, "no further recipe")
            return None
        record = AttemptRecord(proposal.recipe, proposal.reason)
        queued.attempts.append(record)
        queued.status = "active"
        queued.last_reason = proposal.reason
        return record

    def report(
        self,
        name: str,
        recipe_id: str,
        target_yield: float | None,
        phases: Mapping[str, float] | Sequence[tuple[str, float]] = (),
        *,
        failure: str = "",
    ) -> QueuedTarget:
        """The outcome of a proposed recipe: analysed phases (id -> weight fraction), or a lab failure."""
        queued = self.target(name)
        record = next((a for a in queued.attempts if a.recipe.recipe_id == recipe_id and a.status == "planned"), None)
        if record is None:
            waiting = [a.recipe.recipe_id for a in queued.attempts if a.status == "planned"]
            raise UnknownResourceError(f"recipe awaiting an outcome for {queued.formula}", recipe_id, waiting)
        items = list(phases.items()) if isinstance(phases, Mapping) else list(phases)
        for phase, fraction in items:
            if not (isinstance(fraction, int | float) and 0.0 <= fraction <= 1.0):
                raise ValidationError(f"weight fraction of {phase}", f"{fraction!r}; allowed: 0 to 1")
        if failure:
            record.status, record.failure = "failed", failure
        else:
            if target_yield is None or not 0.0 <= float(target_yield) <= 1.0:
                raise ValidationError("target_yield", f"{target_yield!r}; allowed: 0 to 1 (or report a failure)")
            record.status, record.target_yield = "analysed", float(target_yield)
            record.phases = tuple(SeenPhase(str(p), float(f)) for p, f in items)
        self.planner.report(queued, record)
        if record.status == "analysed" and (record.target_yield or 0.0) >= SUCCESS_YIELD:
            queued.status, queued.last_reason = "made", f"made by {recipe_id} ({record.target_yield:.0%})"
        elif len(queued.attempts) >= queued.budget:
            queued.status, queued.last_reason = "exhausted", f"budget of {queued.budget} experiments spent"
        return queued

    def queue(self) -> list[dict[str, Any]]:
        """The target queue, by priority (highest first), then submission order."""
        ordered = sorted(enumerate(self.targets.values()), key=lambda item: (-item[1].entry.priority, item[0]))
        return [queued.to_dict() for _, queued in ordered]

    # --- persistence (the CLI's state file) -------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "planner": self.planner_name,
            "external_phases": [p.to_dict() for p in self.external.values()],
            "targets": [
                {
                    "entry": queued.entry.__dict__,
                    "status": queued.status,
                    "last_reason": queued.last_reason,
                    "attempts": [
                        {
                            "recipe": a.recipe.to_dict(),
                            "reason": a.reason,
                            "status": a.status,
                            "target_yield": a.target_yield,
                            "phases": [[p.phase, p.weight_fraction] for p in a.phases],
                            "failure": a.failure,
                        }
                        for a in queued.attempts
                    ],
                }
                for queued in self.targets.values()
            ],
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=1))

    @staticmethod
    def load(path: str | Path, **kwargs: Any) -> PlannerService:
        """A service from a state file (a new one when the file does not exist)."""
        file = Path(path)
        if not file.exists():
            return PlannerService(**kwargs)
        data = json.loads(file.read_text())
        service = PlannerService(data.get("planner", "arrows"), **kwargs)
        for item in data.get("external_phases", []):
            phase = Phase.from_dict(item)
            service.library.add(phase, replace=True)
            service.external[phase.phase_id] = phase
        for item in data.get("targets", []):
            queued = QueuedTarget(TargetEntry(**item["entry"]), item["status"], last_reason=item.get("last_reason", ""))
            for a in item.get("attempts", []):
                queued.attempts.append(
                    AttemptRecord(
                        Recipe.from_dict(a["recipe"]),
                        a["reason"],
                        a["status"],
                        a["target_yield"],
                        tuple(SeenPhase(p, f) for p, f in a["phases"]),
                        a.get("failure", ""),
                    )
                )
            service.targets[queued.formula] = queued
        return service


def _label(item: Any) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, Mapping):
        return str(item.get("formula", item.get("target", "?")))
    return repr(item)[:40]
