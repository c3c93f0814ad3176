"""Named positions of the cell and the rules of what they hold.

A position holds at most one item of labware. Its state is EMPTY, OCCUPIED or LOCKED (reserved
by an operation, with or without an item in it), as in AlabOS. Unlike AlabOS, every change goes
through one table with one lock, reservations are all-or-nothing (no half-booked transfers to
deadlock on), and the table serialises to plain data so it can be persisted and reconciled.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import ClassVar

from powderlab.core.errors import (
    PositionEmptyError,
    PositionLockedError,
    PositionOccupiedError,
    UnknownResourceError,
    ValidationError,
    WrongLabwareError,
)
from powderlab.core.labware import Labware, LabwareKind, parse_labware_kind
from powderlab.core.units import require_name


@dataclass(frozen=True)
class Position:
    """A position's name as a typed value: `<owner>/<place>`, parsed here and nowhere else.

    The owner is a rack (`storage/3`), a station (`dosing/balance`), a furnace (`furnace_1/slot_2`,
    slots count from 1) or an arm (`arm_a/gripper`, where a crucible in flight is recorded).
    """

    owner: str
    place: str

    GRIPPER: ClassVar[str] = "gripper"
    _SLOT: ClassVar[re.Pattern[str]] = re.compile(r"^slot_(?P<index>\d+)$")

    def __post_init__(self) -> None:
        for part, value in (("owner", self.owner), ("place", self.place)):
            if not value or "/" in value:
                raise ValidationError(
                    "position", f"{part} '{value}' of '{self.owner}/{self.place}' must be a non-empty name without '/'"
                )

    @staticmethod
    def parse(name: str) -> Position:
        """`owner/place` -> Position; ValidationError names the expected form."""
        owner, slash, place = str(name).partition("/")
        if not slash or not owner or not place or "/" in place:
            raise ValidationError(
                "position", f"'{name}' is not a position name; expected <owner>/<place>, e.g. furnace_1/slot_3"
            )
        return Position(owner, place)

    @staticmethod
    def slot(furnace: str, index: int) -> Position:
        """Slot `index` (from 1) of a furnace."""
        return Position(furnace, f"slot_{int(index)}")

    @staticmethod
    def gripper(arm: str) -> Position:
        return Position(arm, Position.GRIPPER)

    @property
    def name(self) -> str:
        return f"{self.owner}/{self.place}"

    @property
    def slot_index(self) -> int | None:
        """The slot number when this is a furnace slot (owner = the furnace), else None."""
        match = self._SLOT.match(self.place)
        return int(match["index"]) if match else None

    @property
    def is_gripper(self) -> bool:
        return self.place == self.GRIPPER

    def __str__(self) -> str:
        return self.name


@functools.cache  # a cell has a few hundred names; the scheduler asks for them at every step
def furnace_of(name: str) -> str:
    """The furnace whose slot `name` is ("" for any other position, or no position at all)."""
    try:
        position = Position.parse(name)
    except ValidationError:
        return ""
    return position.owner if position.slot_index is not None else ""


@functools.cache
def in_gripper(name: str) -> bool:
    """Is this an arm's gripper (where a crucible in flight is recorded)?"""
    try:
        return Position.parse(name).is_gripper
    except ValidationError:
        return False


class PositionState(IntEnum):
    """State of a position; the values equal powderlab_interfaces/PositionState."""

    EMPTY = 0
    OCCUPIED = 1
    LOCKED = 2


@dataclass(frozen=True)
class PositionSnapshot:
    """What a position looks like at one moment (immutable)."""

    name: str
    accepts: frozenset[LabwareKind]
    state: PositionState
    labware: Labware | None
    sample_id: str
    locked_by: str

    @property
    def kind(self) -> str:
        """The kind of labware accepted, as one word ("any" when it takes everything)."""
        if not self.accepts:
            return "any"
        return ",".join(sorted(kind.value for kind in self.accepts))


@dataclass
class _Position:
    name: str
    accepts: frozenset[LabwareKind]
    labware: Labware | None = None
    sample_id: str = ""
    locked_by: str = ""

    @property
    def state(self) -> PositionState:
        if self.locked_by:
            return PositionState.LOCKED
        return PositionState.OCCUPIED if self.labware else PositionState.EMPTY

    def snapshot(self) -> PositionSnapshot:
        return PositionSnapshot(self.name, self.accepts, self.state, self.labware, self.sample_id, self.locked_by)


@dataclass(frozen=True)
class PositionSpec:
    """A position as a site profile declares it."""

    name: str
    accepts: frozenset[LabwareKind] = field(default_factory=frozenset)

    @staticmethod
    def parse(name: str, accepts: Iterable[str] | str | None = None) -> PositionSpec:
        require_name("position", name)
        if accepts is None or accepts == "any":
            kinds: frozenset[LabwareKind] = frozenset()
        elif isinstance(accepts, str):
            kinds = frozenset({parse_labware_kind(accepts)})
        else:
            kinds = frozenset(parse_labware_kind(kind) for kind in accepts)
        return PositionSpec(name, kinds)


class PositionTable:
    """Every position of the cell; the one place where occupancy and reservations change.

    Thread-safe. An operation (any string id) may reserve several positions at once; while it
    holds them, only that operation may place into or take from them.
    """

    def __init__(self, specs: Iterable[PositionSpec]) -> None:
        self._lock = threading.RLock()
        self._positions: dict[str, _Position] = {}
        for spec in specs:
            if spec.name in self._positions:
                raise ValidationError("positions", f"position '{spec.name}' is declared twice")
            self._positions[spec.name] = _Position(spec.name, spec.accepts)

    # --- reading ---

    def names(self) -> list[str]:
        return list(self._positions)

    def __contains__(self, name: object) -> bool:
        return name in self._positions

    def get(self, name: str) -> PositionSnapshot:
        with self._lock:
            return self._position(name).snapshot()

    def snapshot(self) -> list[PositionSnapshot]:
        with self._lock:
            return [position.snapshot() for position in self._positions.values()]

    def find(self, labware_id: str) -> str | None:
        """The position holding this labware, or None."""
        with self._lock:
            for position in self._positions.values():
                if position.labware and position.labware.labware_id == labware_id:
                    return position.name
        return None

    def free(self, prefix: str = "", kind: LabwareKind | None = None) -> list[str]:
        """Empty, unlocked positions whose name starts with prefix and that accept kind."""
        with self._lock:
            return [
                p.name
                for p in self._positions.values()
                if p.state is PositionState.EMPTY
                and p.name.startswith(prefix)
                and (kind is None or not p.accepts or kind in p.accepts)
            ]

    # --- reservations ---

    def reserve(self, names: Iterable[str], operation: str) -> None:
        """Lock every named position for `operation`, or none of them."""
        require_name("operation", operation)
        wanted = list(dict.fromkeys(names))
        with self._lock:
            for name in wanted:
                position = self._position(name)
                if position.locked_by and position.locked_by != operation:
                    raise PositionLockedError(name, f"is locked by operation '{position.locked_by}'")
            for name in wanted:
                self._positions[name].locked_by = operation

    def release(self, operation: str, names: Iterable[str] | None = None) -> None:
        """Unlock the positions `operation` holds (all of them when names is None)."""
        with self._lock:
            targets = self._positions.values() if names is None else [self._position(n) for n in names]
            for position in targets:
                if position.locked_by == operation:
                    position.locked_by = ""

    # --- changes ---

    def place(self, name: str, labware: Labware, sample_id: str = "", operation: str = "") -> None:
        """Put labware at an empty position that accepts it."""
        with self._lock:
            position = self._position(name)
            self._check_lock(position, operation)
            if position.labware is not None:
                raise PositionOccupiedError(name, f"already holds '{position.labware.labware_id}'")
            if position.accepts and labware.kind not in position.accepts:
                allowed = ", ".join(sorted(kind.value for kind in position.accepts))
                raise ValidationError(
                    "labware", f"position '{name}' does not accept a {labware.kind.value}; it accepts: {allowed}"
                )
            existing = self.find(labware.labware_id)
            if existing is not None:
                raise ValidationError("labware", f"'{labware.labware_id}' is already at position '{existing}'")
            position.labware, position.sample_id = labware, sample_id

    def take(self, name: str, labware_id: str | None = None, operation: str = "") -> tuple[Labware, str]:
        """Remove and return (labware, sample_id) from a position."""
        with self._lock:
            position = self._check_holds(name, labware_id, operation)
            assert position.labware is not None
            taken = (position.labware, position.sample_id)
            position.labware, position.sample_id = None, ""
            return taken

    def check_move(self, source: str, destination: str, labware_id: str | None, operation: str = "") -> None:
        """Raise the error a move would raise, without changing anything."""
        with self._lock:
            held = self._check_holds(source, labware_id, operation)
            target = self._position(destination)
            self._check_lock(target, operation)
            if target.labware is not None:
                raise PositionOccupiedError(destination, f"already holds '{target.labware.labware_id}'")
            assert held.labware is not None
            if target.accepts and held.labware.kind not in target.accepts:
                allowed = ", ".join(sorted(kind.value for kind in target.accepts))
                raise ValidationError(
                    "destination",
                    f"position '{destination}' does not accept a {held.labware.kind.value}; it accepts: {allowed}",
                )

    def move(self, source: str, destination: str, labware_id: str | None = None, operation: str = "") -> None:
        """Move the item at source to destination, atomically."""
        with self._lock:
            self.check_move(source, destination, labware_id, operation)
            labware, sample_id = self.take(source, labware_id, operation)
            target = self._positions[destination]
            target.labware, target.sample_id = labware, sample_id

    def assign_sample(self, name: str, sample_id: str, labware_id: str | None = None) -> None:
        """Record which sample the labware at a position carries (e.g. after dosing)."""
        with self._lock:
            position = self._check_holds(name, labware_id, operation=None)
            position.sample_id = sample_id

    def set(self, name: str, labware: Labware | None, sample_id: str = "") -> None:
        """Overwrite a position (technician confirmation, recovery); ignores and keeps locks."""
        with self._lock:
            position = self._position(name)
            if labware is not None:
                existing = self.find(labware.labware_id)
                if existing is not None and existing != name:
                    self._positions[existing].labware, self._positions[existing].sample_id = None, ""
            position.labware, position.sample_id = labware, sample_id if labware else ""

    # --- persistence ---

    def to_dict(self) -> dict[str, dict[str, str]]:
        """Occupancy as plain data: {position: {labware_id, kind, sample_id}} for occupied ones."""
        with self._lock:
            return {
                p.name: {"labware_id": p.labware.labware_id, "kind": p.labware.kind.value, "sample_id": p.sample_id}
                for p in self._positions.values()
                if p.labware is not None
            }

    def load_occupancy(self, occupancy: dict[str, dict[str, str]]) -> None:
        """Replace the occupancy with plain data from to_dict (locks are cleared)."""
        with self._lock:
            for name in occupancy:
                self._position(name)
            for position in self._positions.values():
                position.labware, position.sample_id, position.locked_by = None, "", ""
            for name, item in occupancy.items():
                labware = Labware(item["labware_id"], parse_labware_kind(item["kind"]))
                self.place(name, labware, item.get("sample_id", ""))

    # --- internals ---

    def _position(self, name: str) -> _Position:
        try:
            return self._positions[name]
        except KeyError:
            raise UnknownResourceError("position", name, self._positions) from None

    @staticmethod
    def _check_lock(position: _Position, operation: str | None) -> None:
        if operation is None:
            return
        if position.locked_by and position.locked_by != operation:
            raise PositionLockedError(position.name, f"is locked by operation '{position.locked_by}'")

    def _check_holds(self, name: str, labware_id: str | None, operation: str | None) -> _Position:
        position = self._position(name)
        self._check_lock(position, operation)
        if position.labware is None:
            raise PositionEmptyError(name, "is empty")
        if labware_id and position.labware.labware_id != labware_id:
            raise WrongLabwareError(name, f"holds '{position.labware.labware_id}', not '{labware_id}'")
        return position
