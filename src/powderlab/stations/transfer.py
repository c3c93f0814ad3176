"""Transfer station: the arms, and the one table of what stands where in the cell.

A transfer checks the position rules first (source holds the named labware; destination empty,
unlocked and accepting it), plans a route over the arms' reach (one arm, or two arms meeting at a
free handover position), reserves every position it will touch and the arms it needs all at
once (so two transfers never deadlock), then picks and places leg by leg. An item in a gripper
is recorded at the position `<arm>/gripper`, so after any failure the table still says where
everything is.

Every arm motion (of a transfer or of teleoperation) is granted by one ArmCoordinator against the
zones of shared air space it passes through (ADR 0080): a motion the other arm is in the way of
waits for it, bounded by `arm_wait_timeout_s`, and an arm that ends a leg in shared space parks
at home. A failed operation stops only its own arms.
"""

from __future__ import annotations

import fnmatch
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from powderlab.core.clock import Clock
from powderlab.core.errors import DeviceError, ErrorCode, OperationError, PowderLabError, UnknownResourceError
from powderlab.core.labware import Labware, parse_labware_kind
from powderlab.core.positions import Position, PositionSnapshot, PositionSpec, PositionTable
from powderlab.core.samples import SampleRef
from powderlab.core.site import SiteProfile, StationConfig
from powderlab.drivers.arm import Arm, Height
from powderlab.drivers.base import Device
from powderlab.stations.arm_zones import HOME, ArmCoordinator, shared_zones
from powderlab.stations.base import Station
from powderlab.stations.context import OperationContext
from powderlab.stations.teleop import ArmTeleop


@dataclass(frozen=True)
class TransferRequest:
    """Move the labware at source to destination."""

    sample: SampleRef
    source: str
    destination: str


@dataclass(frozen=True)
class Leg:
    """One arm carrying one item from one position to another."""

    arm: str
    source: str
    destination: str


@dataclass
class TransferResult:
    """The arms used and the positions visited."""

    arms: list[str]
    path: list[str]


MOVES_PER_LEG = 6  # approach, grasp, retreat at the source; approach, place, retreat at the destination


def gripper_position(arm: str) -> str:
    return Position.gripper(arm).name


class TransferStation(ArmTeleop, Station):
    """Owns the arms and the position table of the whole cell; teleoperation of the arms (ArmTeleop)."""

    kind: ClassVar[str] = "transfer"
    exclusive: ClassVar[bool] = False
    operations: ClassVar[dict[str, str]] = {"transfer": "transfer"}
    default_parameters: ClassVar[dict[str, Any]] = {
        **Station.default_parameters,
        "speed": 0.5,
        "arm_wait_timeout_s": 600.0,
        "handover_positions": "buffer/*",
        # Position patterns in the arms' shared space besides those two arms serve (comma-separated).
        "shared_space_positions": "",
        "state_file": "",
        "expected_move_s": 5.0,  # for scheduling: one arm motion (six per leg)
        **ArmTeleop.teleop_parameters,
    }

    def __init__(
        self,
        config: StationConfig,
        devices: Mapping[str, Device],
        clock: Clock,
        parameters: Mapping[str, Any] | None = None,
        site: SiteProfile | None = None,
    ) -> None:
        super().__init__(config, devices, clock, parameters)
        arms = self.arms()
        specs = list(site.positions()) if site else []
        specs += [PositionSpec.parse(gripper_position(name)) for name in arms]
        self.table = PositionTable(specs)
        self.state_path = Path(str(self.parameters["state_file"])) if self.parameters["state_file"] else None
        if self.state_path is not None and self.state_path.is_file():
            self.table.load_occupancy(json.loads(self.state_path.read_text()))
        elif site is not None:
            for position, labware in site.initial_labware.items():
                self.table.place(position, labware)
        self.on_positions_changed: Any = None
        self._save()
        extra = [p.strip() for p in str(self.parameters["shared_space_positions"]).split(",")]
        self.coordinator = ArmCoordinator(
            arms, shared_zones({name: arm.serves for name, arm in arms.items()}, extra), clock
        )

    def arms(self) -> dict[str, Arm]:
        return {name: d for name, d in self.devices.items() if isinstance(d, Arm)}

    # --- positions ---

    def positions(self) -> list[PositionSnapshot]:
        return self.table.snapshot()

    def gripper_item(self, arm: str) -> PositionSnapshot:
        """What the position table says the arm's gripper holds."""
        return self.table.get(gripper_position(arm))

    def set_position(self, position: str, labware_id: str = "", labware_kind: str = "", sample_id: str = "") -> None:
        """A technician's word on what stands at a position (empty labware_id: nothing)."""
        labware = Labware(labware_id, parse_labware_kind(labware_kind or "crucible")) if labware_id else None
        self.table.set(position, labware, sample_id)
        self._positions_changed()

    def _positions_changed(self) -> None:
        self._save()
        if self.on_positions_changed is not None:
            self.on_positions_changed()

    def _save(self) -> None:
        """Write the occupancy atomically, so a crash never leaves a half-written file."""
        if self.state_path is None:
            return
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=self.state_path.parent, delete=False, suffix=".tmp") as handle:
            json.dump(self.table.to_dict(), handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(handle.name, self.state_path)

    # --- planning ---

    def plan(self, source: str, destination: str) -> list[Leg]:
        """The legs of a transfer: one arm, or two meeting at a free handover position."""
        arms = self.arms()
        for name in (source, destination):
            if name not in self.table:
                raise UnknownResourceError("position", name, self.table.names())
        direct = [a for a, arm in arms.items() if arm.reaches(source) and arm.reaches(destination)]
        if direct:
            return [Leg(direct[0], source, destination)]
        handover = str(self.parameters["handover_positions"])
        free = [p for p in self.table.free() if self._is_handover(p)]
        for first, first_arm in arms.items():
            if not first_arm.reaches(source):
                continue
            for second, second_arm in arms.items():
                if second == first or not second_arm.reaches(destination):
                    continue
                for buffer in free:
                    if first_arm.reaches(buffer) and second_arm.reaches(buffer):
                        return [Leg(first, source, buffer), Leg(second, buffer, destination)]
        reach = {a: list(arm.serves) for a, arm in arms.items()}
        raise OperationError(
            f"no arm route from '{source}' to '{destination}' (no free handover position '{handover}' between "
            f"arms that reach them; reach: {reach})",
            ErrorCode.NOT_REACHABLE,
        )

    # --- the operation ---

    def transfer(self, request: TransferRequest, context: OperationContext) -> TransferResult:
        operation = context.operation_id
        labware_id = request.sample.labware_id or None
        self.table.check_move(request.source, request.destination, labware_id, operation)
        legs = self.plan(request.source, request.destination)
        touched = [request.source, request.destination]
        touched += [leg.destination for leg in legs[:-1]] + [gripper_position(leg.arm) for leg in legs]
        context.feedback(stage="reserving", arm="", at=request.source)
        self.table.reserve(touched, operation)
        self._positions_changed()
        try:
            context.hold(*sorted({leg.arm for leg in legs}), wait_s=float(self.parameters["arm_wait_timeout_s"]))
            for leg in legs:
                self._carry(leg, request.sample, context)
        finally:
            self.table.release(operation)
            self._positions_changed()
        context.feedback(stage="done", arm=legs[-1].arm, at=request.destination)
        return TransferResult([leg.arm for leg in legs], [request.source, *[leg.destination for leg in legs]])

    def _is_handover(self, position: str) -> bool:
        return fnmatch.fnmatchcase(position, str(self.parameters["handover_positions"]))

    def move_arm(
        self,
        name: str,
        context: OperationContext,
        goal: str,
        height: Height = Height.APPROACH,
        *,
        carrying: bool = False,
        speed: float | None = None,
        wait_s: float | None = None,
    ) -> None:
        """One motion of an arm, granted by the coordinator: to a position at a height, or HOME.

        carrying=True: only the e-stop ends a wait for the other arm (a cancel takes effect only
        with an empty gripper). wait_s: the bound of that wait (default the parameter
        arm_wait_timeout_s; teleoperation passes 0 and is refused at once).
        """
        speed = float(self.parameters["speed"]) if speed is None else speed
        arm = self.arms()[name]
        with self.coordinator.motion(
            name,
            goal,
            float(self.parameters["arm_wait_timeout_s"]) if wait_s is None else wait_s,
            context.operation_id,
            check=context.check_estop if carrying else context.check,
            stop=None if carrying else context.stop_event,
        ):
            if goal == HOME:
                arm.move_home(speed)
            else:
                arm.move_to(goal, height, speed)

    def park(self, name: str, context: OperationContext) -> None:
        """Move the arm home if it stands in shared space, so the other arm never finds it in the way."""
        if self.coordinator.held(name):
            self.move_arm(name, context, HOME)

    def _carry(self, leg: Leg, sample: SampleRef, context: OperationContext) -> None:
        """Pick at the source, place at the destination; every motion granted by the coordinator.

        An arm that ends the leg in shared space (it placed in the buffer or done rack) parks at
        home, so the other arm never finds it in the way (it used to wait there until its next job).
        """
        arm = self.arms()[leg.arm]
        operation = context.operation_id
        gripper = gripper_position(leg.arm)
        context.checkpoint()  # cancel and pause take effect only with nothing in the gripper
        labware = self.table.get(leg.source).labware
        context.feedback(stage="picking", arm=leg.arm, at=leg.source)
        arm.set_gripper(False)
        self.move_arm(leg.arm, context, leg.source, Height.APPROACH)
        context.check_estop()
        self.move_arm(leg.arm, context, leg.source, Height.GRASP)
        grip = arm.set_gripper(True)
        if not grip.object_detected:
            arm.set_gripper(False)
            self.move_arm(leg.arm, context, leg.source, Height.APPROACH)
            self.park(leg.arm, context)
            what = labware.labware_id if labware else "item"
            raise DeviceError(leg.arm, f"no {what} detected in the gripper at '{leg.source}'; check the position")
        self.table.move(leg.source, gripper, labware.labware_id if labware else None, operation)
        if sample.sample_id:
            self.table.assign_sample(gripper, sample.sample_id)
        self._positions_changed()
        self.move_arm(leg.arm, context, leg.source, Height.APPROACH, carrying=True)
        context.check_estop()
        context.feedback(stage="moving", arm=leg.arm, at=leg.destination)
        self.move_arm(leg.arm, context, leg.destination, Height.APPROACH, carrying=True)
        context.check_estop()
        self.move_arm(leg.arm, context, leg.destination, Height.GRASP, carrying=True)
        context.feedback(stage="placing", arm=leg.arm, at=leg.destination)
        arm.set_gripper(False)
        self.table.move(gripper, leg.destination, None, operation)
        self._positions_changed()
        self.move_arm(leg.arm, context, leg.destination, Height.APPROACH)
        self.park(leg.arm, context)

    def stop_scope(self, context: OperationContext) -> list[str] | None:
        """A failed transfer or teleop command stops only the arms it holds, never the other arm's motion."""
        arms = self.arms()
        return [name for name in context.held if name in arms]

    def estimate_s(self, operation: str, request: TransferRequest) -> float:
        try:
            legs = self.plan(request.source, request.destination)
        except PowderLabError:
            return 2 * (MOVES_PER_LEG + 1) * float(self.parameters["expected_move_s"])
        parks = sum(bool(self.coordinator.zones_of(leg.destination)) for leg in legs)  # home after shared space
        return (len(legs) * MOVES_PER_LEG + parks) * float(self.parameters["expected_move_s"])

    def summary(self, operation: str, result: TransferResult) -> str:
        return f"moved {' -> '.join(result.path)} with {', '.join(result.arms)}"


class LocalCell:
    """A Cell backed by a TransferStation in the same process (scripts, tests)."""

    def __init__(self, transfer_station: TransferStation) -> None:
        self.transfer_station = transfer_station

    def position(self, name: str) -> PositionSnapshot:
        return self.transfer_station.table.get(name)

    def positions(self) -> list[PositionSnapshot]:
        return self.transfer_station.positions()

    def transfer(self, sample: SampleRef, source: str, destination: str, context: OperationContext) -> None:
        outcome = self.transfer_station.run(
            "transfer", TransferRequest(sample, source, destination), cancel=context.cancel_event
        )
        if not outcome.ok:
            raise OperationError(f"transfer {source} -> {destination}: {outcome.message}", outcome.code)
