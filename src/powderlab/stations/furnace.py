"""Furnace station: load / unload crucibles through interlocked doors, and run heating profiles.

Each furnace is its own resource: furnace_1 may heat for hours while furnace_2 is loaded. A door
opens only when the chamber is at or below the safe temperature and no program runs, and the arm
is sent in only after the door reports open.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from powderlab.core.errors import (
    ErrorCode,
    InterlockError,
    OperationError,
    PositionEmptyError,
    PowderLabError,
    UnknownResourceError,
)
from powderlab.core.positions import Position, PositionState, furnace_of
from powderlab.core.recipes import HeatingProfile
from powderlab.core.samples import SampleRef
from powderlab.core.units import require_int_range
from powderlab.drivers.furnace import DoorState, Furnace
from powderlab.stations.base import Cell, ManualRequest, ManualResult, Station
from powderlab.stations.context import OperationContext

ARM_MAY_BE_IN_DOORWAY = {
    ErrorCode.UNKNOWN,
    ErrorCode.DEVICE_FAULT,
    ErrorCode.DEVICE_DISCONNECTED,
    ErrorCode.PROTECTIVE_STOP,
    ErrorCode.TIMEOUT,
    ErrorCode.ESTOPPED,
}


@dataclass(frozen=True)
class LoadRequest:
    """Carry the crucible at source into a furnace slot (any free one unless named)."""

    sample: SampleRef
    source: str
    furnace: str = ""
    slot: int = -1


@dataclass
class LoadResult:
    """Where the crucible went."""

    furnace: str
    slot: int
    position: str


@dataclass(frozen=True)
class UnloadRequest:
    """Carry a crucible out of its furnace slot to destination."""

    sample: SampleRef
    destination: str


@dataclass
class UnloadResult:
    """Where the crucible came from."""

    furnace: str
    source: str


@dataclass(frozen=True)
class HeatRequest:
    """Run a profile on one furnace."""

    furnace: str
    profile: HeatingProfile


@dataclass
class HeatResult:
    """What the furnace did."""

    max_temperature_c: float
    duration_s: float
    final_temperature_c: float


@dataclass(frozen=True)
class FurnaceReading:
    """One furnace for the status topic."""

    name: str
    door: DoorState
    temperature_c: float
    setpoint_c: float
    heater_on: bool
    program_running: bool
    segment_index: int
    slot_count: int
    slots_occupied: int


class FurnaceStation(Station):
    """Several box furnaces with crucible slots."""

    kind: ClassVar[str] = "furnace"
    exclusive: ClassVar[bool] = False
    operations: ClassVar[dict[str, str]] = {"load_furnace": "load", "unload_furnace": "unload", "heat": "heat"}
    manual: ClassVar[dict[str, str]] = {"open_door": "manual_door", "close_door": "manual_door"}
    default_parameters: ClassVar[dict[str, Any]] = {
        **Station.default_parameters,
        "safe_door_temperature_c": 200.0,
        "cool_wait_timeout_s": 6 * 3600.0,
        "door_timeout_s": 30.0,
        "expected_door_s": 15.0,  # for scheduling: one door motion
        "expected_transfer_s": 60.0,  # for scheduling: the arm carrying a crucible in or out
        # a heat reads the furnace this often (clock seconds), and every checkpoint slice near its
        # planned end: a 10 h program needs no 5 s feedback, and each reading costs the twin round trips
        "heat_poll_s": 60.0,
    }

    # --- furnaces ---

    def furnaces(self) -> dict[str, Furnace]:
        return {name: d for name, d in self.devices.items() if isinstance(d, Furnace)}

    def furnace(self, name: str) -> Furnace:
        furnaces = self.furnaces()
        if name not in furnaces:
            raise UnknownResourceError("furnace", name, furnaces)
        return furnaces[name]

    def _cell(self) -> Cell:
        if self.cell is None:
            raise OperationError(f"station '{self.name}' has no cell to move crucibles with", ErrorCode.UNKNOWN)
        return self.cell

    def _slot_positions(self, furnace: str) -> list[str]:
        return [Position.slot(furnace, i).name for i in range(1, self.furnace(furnace).slot_count + 1)]

    def readings(self) -> list[FurnaceReading]:
        """Every furnace's door, temperatures and program (for the status topic)."""
        occupied: dict[str, int] = {}
        if self.cell is not None:
            try:
                for position in self.cell.positions():
                    owner = furnace_of(position.name)
                    if owner and position.labware is not None:
                        occupied[owner] = occupied.get(owner, 0) + 1
            except PowderLabError:
                pass
        readings = []
        for name, furnace in self.furnaces().items():
            if not furnace.connected:
                continue
            try:
                program = furnace.program()
                temperature = furnace.temperature_c()
                door = furnace.door()
            except PowderLabError:
                readings.append(
                    FurnaceReading(
                        name,
                        DoorState.FAULT,
                        float("nan"),
                        float("nan"),
                        False,
                        False,
                        -1,
                        furnace.slot_count,
                        occupied.get(name, 0),
                    )
                )
                continue
            readings.append(
                FurnaceReading(
                    name,
                    door,
                    temperature,
                    program.setpoint_c,
                    program.running,
                    program.running,
                    program.segment_index,
                    furnace.slot_count,
                    occupied.get(name, 0),
                )
            )
        return readings

    # --- door handling ---

    def _open_door(self, name: str, context: OperationContext) -> None:
        furnace = self.furnace(name)
        safe = float(self.parameters["safe_door_temperature_c"])
        if furnace.program().running:
            raise InterlockError(name, "a heating program is running; the door stays closed until it ends")
        temperature = furnace.temperature_c()
        if temperature > safe:
            raise InterlockError(name, f"chamber at {temperature:.0f} C; the door opens at or below {safe:.0f} C")
        context.feedback(stage="opening_door", furnace=name, temperature_c=temperature)
        furnace.set_door(True, float(self.parameters["door_timeout_s"]))
        if furnace.door() is not DoorState.OPEN:
            raise InterlockError(name, f"door not confirmed open (reports {furnace.door().name.lower()}); arm not sent")

    def _close_door(self, name: str, context: OperationContext) -> None:
        context.feedback(stage="closing_door", furnace=name)
        self.furnace(name).set_door(False, float(self.parameters["door_timeout_s"]))

    def _transfer_through_door(
        self, name: str, sample: SampleRef, source: str, destination: str, context: OperationContext
    ) -> None:
        self._open_door(name, context)
        context.feedback(stage="transferring", furnace=name)
        try:
            self._cell().transfer(sample, source, destination, context)
        except PowderLabError as error:
            if error.code in ARM_MAY_BE_IN_DOORWAY:
                # Never close a door on an arm: leave it open and let a technician look.
                if error.code is not ErrorCode.ESTOPPED:
                    self.mark_fault(f"{name}: door left open after a failed transfer; check the arm, then reset")
                raise
            self._close_door(name, context)
            raise
        self._close_door(name, context)

    def manual_door(self, request: ManualRequest, context: OperationContext) -> ManualResult:
        """A technician opens or closes a door; opening obeys the same interlocks as a load."""
        furnace = self.furnace(request.target)
        context.hold(request.target)  # refused while this furnace loads, unloads or heats
        if request.command == "open_door":
            self._open_door(request.target, context)
        else:
            self._close_door(request.target, context)
        return ManualResult(f"{request.target} door {furnace.door().name.lower()}")

    # --- operations ---

    def load(self, request: LoadRequest, context: OperationContext) -> LoadResult:
        furnace, slot = self._choose_slot(request)
        context.hold(furnace)
        position = Position.slot(furnace, slot).name
        self._transfer_through_door(furnace, request.sample, request.source, position, context)
        context.feedback(stage="done", furnace=furnace)
        return LoadResult(furnace, slot, position)

    def _choose_slot(self, request: LoadRequest) -> tuple[str, int]:
        names = [request.furnace] if request.furnace else sorted(self.furnaces())
        for name in names:
            self.furnace(name)
        states = {p.name: p.state for p in self._cell().positions()}
        busy = self.locks.owners()
        reasons = []
        candidates = []
        for name in names:
            furnace = self.furnace(name)
            slots = self._slot_positions(name)
            if request.slot >= 0:
                require_int_range("slot", request.slot, 1, len(slots))
            if name in busy:
                reasons.append(f"{name}: busy")
                continue
            if furnace.program().running:
                reasons.append(f"{name}: heating")
                continue
            free = [i for i, p in enumerate(slots, start=1) if states.get(p) is PositionState.EMPTY]
            if request.slot >= 0:
                free = [i for i in free if i == request.slot]
            if not free:
                reasons.append(f"{name}: slot {request.slot} taken" if request.slot >= 0 else f"{name}: full")
                continue
            loaded = len(slots) - len([p for p in slots if states.get(p) is PositionState.EMPTY])
            candidates.append((-loaded, name, free[0]))  # fill a started furnace first: batches share a run
        if not candidates:
            raise OperationError(f"no free furnace slot ({'; '.join(reasons)})", ErrorCode.NO_FREE_SLOT)
        _, name, slot = min(candidates)
        return name, slot

    def unload(self, request: UnloadRequest, context: OperationContext) -> UnloadResult:
        source = self._find_in_furnace(request.sample)
        furnace_name = furnace_of(source)
        context.hold(furnace_name)
        furnace = self.furnace(furnace_name)
        if furnace.program().running:
            raise InterlockError(furnace_name, "a heating program is running; unload after it ends (or cancel heat)")
        safe = float(self.parameters["safe_door_temperature_c"])

        def cool_enough() -> bool:
            temperature = furnace.temperature_c()
            context.feedback(stage="waiting_cool", furnace=furnace_name, temperature_c=temperature)
            return temperature <= safe

        context.wait_for(
            cool_enough, float(self.parameters["cool_wait_timeout_s"]), f"{furnace_name} cooling to {safe:.0f} C"
        )
        self._transfer_through_door(furnace_name, request.sample, source, request.destination, context)
        context.feedback(stage="done", furnace=furnace_name)
        return UnloadResult(furnace_name, source)

    def _find_in_furnace(self, sample: SampleRef) -> str:
        for position in self._cell().positions():
            if not furnace_of(position.name) or position.labware is None:
                continue
            if position.labware.labware_id == sample.labware_id or (
                sample.sample_id and position.sample_id == sample.sample_id and not sample.labware_id
            ):
                return position.name
        what = sample.labware_id or sample.sample_id or "(no labware_id given)"
        raise PositionEmptyError(what, "is not in any furnace slot")

    def heat(self, request: HeatRequest, context: OperationContext) -> HeatResult:
        furnace = self.furnace(request.furnace)
        request.profile.validate(furnace.limits)
        context.hold(request.furnace)
        if furnace.door() is not DoorState.CLOSED:
            self._close_door(request.furnace, context)
        start_c = furnace.temperature_c()
        planned = request.profile.duration_s(furnace.limits, start_c)
        started = self.clock.now()
        peak = start_c
        furnace.start_program(request.profile)
        try:
            while True:
                program = furnace.program()
                temperature = furnace.temperature_c()
                peak = max(peak, temperature)
                elapsed = self.clock.now() - started
                context.feedback(
                    segment_index=program.segment_index,
                    setpoint_c=program.setpoint_c,
                    temperature_c=temperature,
                    elapsed_s=elapsed,
                    remaining_s=max(0.0, planned - elapsed),
                )
                if not program.running:
                    break
                # the slice near the planned end (no late finish); cancel and e-stop still end the wait at once
                poll = max(context.slice_s, min(float(self.parameters["heat_poll_s"]), planned - elapsed))
                context.sleep(poll, slice_s=poll)
        except BaseException:
            furnace.stop_program()  # heaters off: natural cooling is the safe state
            raise
        return HeatResult(peak, self.clock.now() - started, furnace.temperature_c())

    def estimate_s(self, operation: str, request: Any) -> float:
        door = float(self.parameters["expected_door_s"])
        if operation == "heat":
            furnace = self.furnace(request.furnace)
            start = furnace.temperature_c() if furnace.connected else None
            return request.profile.duration_s(furnace.limits, start)
        if operation in ("load_furnace", "unload_furnace"):
            return 2 * door + float(self.parameters["expected_transfer_s"])
        return super().estimate_s(operation, request)

    def summary(self, operation: str, result: Any) -> str:
        if isinstance(result, LoadResult):
            return f"loaded into {result.position}"
        if isinstance(result, UnloadResult):
            return f"unloaded from {result.source}"
        return f"heated to {result.max_temperature_c:.0f} C in {result.duration_s / 3600:.2f} h"
