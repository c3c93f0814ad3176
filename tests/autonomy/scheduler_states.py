"""Small hand-built campaign states for the unit tests of the scheduler's parts (no lab, no ROS).

The cell: one dosing station, a mill, two furnaces of two slots, an XRD, two arms (arm_a: storage,
balance, clamp, staging and done racks; arm_b: staging and done racks, furnaces, XRD), four
storage places, three staging (buffer) places and three done places.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from powderlab.autonomy.campaign_state import CampaignState
from powderlab.autonomy.cell import CellModel
from powderlab.autonomy.config import CampaignConfig
from powderlab.autonomy.model import Attempt, ExperimentStatus, Proposal, Target, TargetStatus
from powderlab.autonomy.port import Completion, LabState
from powderlab.autonomy.state import QUEUED, BatchRecord, ExperimentRecord, OpRecord, SampleRecord, TargetRecord
from powderlab.autonomy.targets import parse_recipe
from powderlab.core.recipes import Recipe
from powderlab.core.samples import SampleStatus

CID = "c"


def small_cell() -> CellModel:
    """The test cell (see the module's docstring)."""
    return CellModel(
        site=None,  # type: ignore[arg-type]  # the scheduler never reads the site
        dosing="dosing",
        milling="milling",
        furnace_station="furnaces",
        xrd="xrd",
        transfer="transfer",
        balance="dosing/balance",
        clamp="milling/clamp",
        recovery="xrd/recovery",
        storage=tuple(f"storage/{i}" for i in range(1, 5)),
        buffer=tuple(f"buffer/{i}" for i in range(1, 4)),
        done=tuple(f"done/{i}" for i in range(1, 4)),
        furnaces={f: (f"{f}/slot_1", f"{f}/slot_2") for f in ("furnace_1", "furnace_2")},
        arms={
            "arm_a": ("storage/*", "dosing/*", "milling/*", "buffer/*", "done/*"),
            "arm_b": ("buffer/*", "furnace_*", "xrd/*", "done/*"),
        },
    )


class Clock:
    """Lab time the test sets by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.t = now

    def __call__(self) -> float:
        return self.t


def recipe(temperature_c: float = 900.0, formula: str = "LiTiO3") -> Recipe:
    return parse_recipe(
        {"precursors": {"Li2CO3": 200.0, "TiO2": 300.0}, "temperature_c": temperature_c}, formula, 1, {}
    )


@dataclass
class World:
    """A campaign state with records built by hand; writes made while building are not pending."""

    state: CampaignState
    clock: Clock
    config: CampaignConfig = field(default_factory=lambda: CampaignConfig(CID, max_retries=2, retry_delay_s=300.0))

    @property
    def cell(self) -> CellModel:
        return self.state.cell

    def target(self, formula: str = "LiTiO3", priority: int = 0, budget: int = 4) -> TargetRecord:
        record = TargetRecord(
            f"{CID}:{formula}", Target(formula, priority, budget), len(self.state.targets) + 1, TargetStatus.ACTIVE
        )
        self.state.targets[record.id] = record
        return record

    def experiment(
        self, target: TargetRecord, temperature_c: float = 900.0, status: ExperimentStatus = ExperimentStatus.PLANNED
    ) -> ExperimentRecord:
        attempt = sum(1 for e in self.state.experiments.values() if e.target_id == target.id) + 1
        record = ExperimentRecord(
            f"{target.id}#{attempt}",
            target.id,
            attempt,
            recipe(temperature_c, target.target.formula),
            "test",
            status=status,
            created_s=self.clock() + len(self.state.experiments),
        )
        self.state.experiments[record.id] = record
        return record

    def sample(
        self,
        experiment: ExperimentRecord,
        location: str,
        status: SampleStatus = SampleStatus.PLANNED,
        batch: BatchRecord | None = None,
    ) -> SampleRecord:
        seq = len(self.state.samples) + 1
        record = SampleRecord(
            f"{CID}-S{seq:04d}",
            experiment.id,
            seq,
            labware_id=f"crucible-{seq}",
            status=status,
            location=location,
            batch_id=batch.id if batch else "",
            created_s=self.clock(),
        )
        self.state.samples[record.id] = record
        self.state.occupied[location] = record.labware_id
        self.state.used_labware.add(record.labware_id)
        experiment.status = ExperimentStatus.RUNNING
        return record

    def batch(self, temperature_c: float = 900.0, state: str = QUEUED, furnace: str = "") -> BatchRecord:
        number = len(self.state.batches) + 1
        record = BatchRecord(
            f"{CID}-B{number:03d}",
            recipe(temperature_c).heating,
            2,
            state=state,
            furnace=furnace,
            created_s=self.clock(),
        )
        self.state.batches[record.id] = record
        self.state.seq["batch"] = number
        return record

    def crucibles(self, *positions: str) -> None:
        """Fresh crucibles (no sample used them) at these positions."""
        for position in positions:
            self.state.occupied[position] = f"fresh-{position.replace('/', '-')}"

    def op(
        self, action: str, sample: SampleRecord | None = None, batch: BatchRecord | None = None, **goal: Any
    ) -> OpRecord:
        """An operation in flight."""
        op = OpRecord(
            f"op-{len(self.state.ops) + 1}",
            "station",
            action,
            dict(goal),
            action,
            sample.id if sample else "",
            batch.id if batch else (sample.batch_id if sample else ""),
            intended_s=self.clock(),
            started_s=self.clock(),
        )
        self.state.ops[op.id] = op
        return op

    def events(self) -> list[tuple[str, Any, Any]]:
        """The pending writes of the unit of work."""
        return self.state.work.pending()


def world(now: float = 1000.0) -> World:
    clock = Clock(now)
    return World(CampaignState(CID, small_cell(), clock), clock)


def completion(op: OpRecord, code: int = 0, message: str = "", **result: Any) -> Completion:
    return Completion(op.id, code, message, dict(result))


class RecordingPlanner:
    """A planner that proposes a fixed recipe (or nothing) and records what it is told."""

    name = "recording"

    def __init__(self, recipes: list[Recipe] | None = None) -> None:
        self.recipes = list(recipes or [])
        self.reports: list[tuple[str, Attempt]] = []

    def next_recipe(self, target: Target, history: list[Attempt]) -> Proposal | None:
        return Proposal(self.recipes.pop(0), "next") if self.recipes else None

    def report(self, target: Target, attempt: Attempt) -> None:
        self.reports.append((target.formula, attempt))


class FakePort:
    """A lab that holds a position table and records the goals sent to it (no stations)."""

    def __init__(self, clock: Clock, occupied: dict[str, str] | None = None) -> None:
        self.clock = clock
        self.table = dict(occupied or {})
        self.started: list[OpRecord] = []
        self.adopted: list[OpRecord] = []
        self.completions: list[Completion] = []
        self.on_start = None  # called with each op before it is recorded as started

    def now(self) -> float:
        return self.clock()

    def start(self, op: OpRecord) -> None:
        if self.on_start is not None:
            self.on_start(op)
        self.started.append(op)

    def adopt(self, op: OpRecord) -> None:
        self.adopted.append(op)

    def cancel(self, op_id: str) -> None:
        pass

    def wait(self, timeout_s: float) -> list[Completion]:
        done, self.completions = self.completions, []
        return done

    def positions(self) -> dict[str, Any]:
        return {name: SimpleNamespace(labware=SimpleNamespace(labware_id=lw)) for name, lw in self.table.items()}

    def lab_state(self) -> LabState:
        return LabState()

    def estimate_s(self, op: OpRecord) -> float:
        return 60.0
