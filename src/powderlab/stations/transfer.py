"""Transfer station: the arms, and the one table of what stands where in the cell.

A transfer checks the position rules first (source holds the named labware; destination empty,
unlocked and accepting it), plans a route over the arms' reach (one arm, or two arms meeting at a
free handover position), reserves every position it will touch and the arms it needs all at
once (so two transfers never deadlock), then picks and places leg by leg. An item in a gripper
is recorded at the position `<arm>/gripper`, so after any failure the table still says where
everything is.
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
from powderlab.core.positions import PositionSnapshot, PositionSpec, PositionTable
from powderlab.core.samples import SampleRef
from powderlab.core.site import SiteProfile, StationConfig
from powderlab.drivers.arm import Arm, Height
from powderlab.drivers.base import Device
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
HANDOVER_ZONE = "handover_zone"  # the air space over the handover positions: one arm at a time


def gripper_position(arm: str) -> str:
    return f"{arm}/gripper"


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

    def _enter_handover_zone(self, context: OperationContext, carrying: bool) -> None:
        """Wait until no other arm works at the handover positions (their air space is shared)."""
        wait_s = float(self.parameters["arm_wait_timeout_s"])
        context.hold(HANDOVER_ZONE, wait_s=wait_s, cancellable=not carrying)

    def _carry(self, leg: Leg, sample: SampleRef, context: OperationContext) -> None:
        """Pick at the source, place at the destination; one arm at a time at the handover positions.

        An arm that placed at a handover position parks at home before it lets the zone go, so the
        other arm never finds it in the way (it used to wait above the buffer until its next job).
        """
        arm = self.arms()[leg.arm]
        speed = float(self.parameters["speed"])
        operation = context.operation_id
        gripper = gripper_position(leg.arm)
        context.checkpoint()  # cancel and pause take effect only with nothing in the gripper
        labware = self.table.get(leg.source).labware
        context.feedback(stage="picking", arm=leg.arm, at=leg.source)
        arm.set_gripper(False)
        from_rack, to_rack = self._is_handover(leg.source), self._is_handover(leg.destination)
        if from_rack:
            self._enter_handover_zone(context, carrying=False)
        arm.move_to(leg.source, Height.APPROACH, speed)
        context.check_estop()
        arm.move_to(leg.source, Height.GRASP, speed)
        grip = arm.set_gripper(True)
        if not grip.object_detected:
            arm.set_gripper(False)
            arm.move_to(leg.source, Height.APPROACH, speed)
            what = labware.labware_id if labware else "item"
            raise DeviceError(leg.arm, f"no {what} detected in the gripper at '{leg.source}'; check the position")
        self.table.move(leg.source, gripper, labware.labware_id if labware else None, operation)
        if sample.sample_id:
            self.table.assign_sample(gripper, sample.sample_id)
        self._positions_changed()
        arm.move_to(leg.source, Height.APPROACH, speed)
        context.check_estop()
        context.feedback(stage="moving", arm=leg.arm, at=leg.destination)
        if to_rack:
            self._enter_handover_zone(context, carrying=True)
        arm.move_to(leg.destination, Height.APPROACH, speed)
        if from_rack and not to_rack:
            context.let_go(HANDOVER_ZONE)  # above the destination: out of the zone
        context.check_estop()
        arm.move_to(leg.destination, Height.GRASP, speed)
        context.feedback(stage="placing", arm=leg.arm, at=leg.destination)
        arm.set_gripper(False)
        self.table.move(gripper, leg.destination, None, operation)
        self._positions_changed()
        arm.move_to(leg.destination, Height.APPROACH, speed)
        if to_rack:
            arm.move_home(speed)  # park out of the shared air space, then let the other arm in
            context.let_go(HANDOVER_ZONE)

    def estimate_s(self, operation: str, request: TransferRequest) -> float:
        try:
            legs = self.plan(request.source, request.destination)
        except PowderLabError:
            return 2 * (MOVES_PER_LEG + 1) * float(self.parameters["expected_move_s"])
        parks = sum(self._is_handover(leg.destination) for leg in legs)  # home after a handover placement
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
