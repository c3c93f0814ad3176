"""The station: devices + operations + the rules every station obeys.

A station runs operations (one per ROS action). It refuses work while e-stopped, paused or in
fault, holds its resources exclusively while an operation runs, turns every error into an
Outcome with an ErrorCode and a message, and drives its devices to their safe state on e-stop.
Nothing here knows about ROS: powderlab.nodes adapts a Station to a lifecycle node.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, ClassVar, Protocol

from powderlab.core.clock import Clock
from powderlab.core.errors import (
    DeviceDisconnectedError,
    DeviceError,
    ErrorCode,
    EStopError,
    PositionEmptyError,
    PowderLabError,
    StationUnavailableError,
    UnknownResourceError,
    WrongLabwareError,
)
from powderlab.core.positions import PositionSnapshot
from powderlab.core.samples import SampleRef
from powderlab.core.site import StationConfig
from powderlab.drivers.base import Device, DeviceStatus
from powderlab.stations.context import OperationContext
from powderlab.stations.resources import ResourceLocks

log = logging.getLogger(__name__)


class StationMode(IntEnum):
    """Station modes; the values equal powderlab_interfaces/StationStatus MODE_*."""

    INACTIVE = 0
    IDLE = 1
    BUSY = 2
    PAUSED = 3
    ESTOPPED = 4
    FAULT = 5


@dataclass
class Outcome:
    """What an operation ended with: a code, a message and its (possibly partial) result."""

    code: ErrorCode
    message: str
    result: Any = None

    @property
    def ok(self) -> bool:
        return self.code is ErrorCode.NONE


@dataclass(frozen=True)
class ManualRequest:
    """A technician's manual command (teleoperation, a furnace door, a tare) and who sent it."""

    command: str
    target: str = ""
    argument: str = ""
    source: str = ""


@dataclass
class ManualResult:
    """What a manual command did: a line for the operator, and any data (joints after a jog)."""

    message: str
    data: Any = None


class OperationFailedError(PowderLabError):
    """An error that carries the partial result of the operation it ended (e.g. a partial dose)."""

    def __init__(self, cause: PowderLabError, partial: Any) -> None:
        super().__init__(str(cause), cause.code)
        self.partial = partial


class Cell(Protocol):
    """What a station needs of the rest of the cell: where things are, and an arm to move them."""

    def position(self, name: str) -> PositionSnapshot:
        """One position as the cell's owner of positions reports it."""
        ...

    def positions(self) -> list[PositionSnapshot]:
        """Every position of the cell."""
        ...

    def transfer(self, sample: SampleRef, source: str, destination: str, context: OperationContext) -> None:
        """Carry the labware at source to destination; raises the transfer's error."""
        ...


@dataclass
class StationStatusData:
    """Everything the status topic carries."""

    station: str
    kind: str
    mode: StationMode
    message: str
    operation: str = ""
    operation_id: str = ""
    sample: SampleRef = field(default_factory=SampleRef)
    devices: list[DeviceStatus] = field(default_factory=list)


@dataclass
class _Running:
    operation: str
    operation_id: str
    sample: SampleRef
    cancel: threading.Event


class Station:
    """Base class of every station kind.

    Subclasses set `kind`, list their operations in `operations` (action name -> method name)
    and implement them as `method(request, context) -> result`.
    """

    kind: ClassVar[str] = "station"
    operations: ClassVar[dict[str, str]] = {}
    # Manual commands (ManualRequest -> ManualResult), run by the same rules as operations:
    # refused while e-stopped, paused or in fault; they take the resources they touch.
    manual: ClassVar[dict[str, str]] = {}
    # Other short operations with their own request type (e.g. the transfer station's jog).
    extra_operations: ClassVar[dict[str, str]] = {}
    # Operations that lock the whole station (one at a time); others take finer resources.
    exclusive: ClassVar[bool] = True
    default_parameters: ClassVar[dict[str, Any]] = {"checkpoint_slice_s": 1.0}

    _ids = itertools.count(1)

    def __init__(
        self,
        config: StationConfig,
        devices: Mapping[str, Device],
        clock: Clock,
        parameters: Mapping[str, Any] | None = None,
        cell: Cell | None = None,
    ) -> None:
        self.config = config
        self.name = config.name
        self.devices = dict(devices)
        self.clock = clock
        self.parameters = {**self.default_parameters, **(parameters or {})}
        unknown = sorted(set(self.parameters) - set(self.default_parameters))
        if unknown:
            raise UnknownResourceError(f"parameter of {self.kind} station", unknown[0], self.default_parameters)
        self.cell = cell
        self.locks = ResourceLocks()
        self._estop = threading.Event()
        self._resume = threading.Event()
        self._resume.set()
        self._fault = ""
        self._estop_reason = ""
        self._running: dict[str, _Running] = {}
        self._state_lock = threading.Lock()
        self.on_change: Callable[[], None] | None = None

    # --- lifecycle ---

    def connect(self) -> None:
        for device in self.devices.values():
            device.connect()

    def disconnect(self) -> None:
        for device in self.devices.values():
            try:
                device.disconnect()
            except PowderLabError as error:
                log.warning("%s: disconnect of %s failed: %s", self.name, device.name, error)

    def safe_stop(self, only: list[str] | None = None) -> list[str]:
        """Every device (or those named in `only`) to its safe state; returns the errors of those that could not."""
        problems = []
        for device in self.devices.values():
            if only is not None and device.name not in only:
                continue
            try:
                device.safe_stop()
            except Exception as error:
                problems.append(f"{device.name}: {error}")
                log.error("%s: safe stop of %s failed: %s", self.name, device.name, error)
        return problems

    # --- lab-wide controls ---

    def estop(self, reason: str) -> None:
        """Abort every running operation and make every device safe. Refuse work until reset."""
        self._estop_reason = reason or "emergency stop"
        self._estop.set()
        self._resume.set()  # paused operations must wake up to abort
        problems = self.safe_stop()
        if problems:
            self._fault = "; ".join(problems)
        self._changed()

    def reset(self) -> None:
        """Release the e-stop and clear faults (after the cause is fixed)."""
        for device in self.devices.values():
            reset = getattr(device, "reset", None)
            if callable(reset) and device.connected:
                try:
                    reset()
                except PowderLabError as error:
                    log.warning("%s: reset of %s failed: %s", self.name, device.name, error)
        self._estop.clear()
        self._estop_reason = ""
        self._fault = ""
        self._changed()

    def pause(self) -> None:
        self._resume.clear()
        self._changed()

    def resume(self) -> None:
        self._resume.set()
        self._changed()

    @property
    def estopped(self) -> bool:
        return self._estop.is_set()

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    @property
    def mode(self) -> StationMode:
        if self._estop.is_set():
            return StationMode.ESTOPPED
        if self._fault:
            return StationMode.FAULT
        if not self._resume.is_set():
            return StationMode.PAUSED
        return StationMode.BUSY if self._running else StationMode.IDLE

    def mark_fault(self, message: str) -> None:
        self._fault = message
        self._changed()

    # --- running operations ---

    def check_available(self) -> None:
        """Raise the reason this station takes no new goal now, if any."""
        if self._estop.is_set():
            raise EStopError(f"station '{self.name}' is e-stopped ({self._estop_reason}); reset it first")
        if self._fault:
            raise StationUnavailableError(f"station '{self.name}' is in fault ({self._fault}); reset it first")
        if not self._resume.is_set():
            raise StationUnavailableError(f"station '{self.name}' is paused; resume it first")
        disconnected = [d.name for d in self.devices.values() if not d.connected]
        if disconnected:
            raise DeviceDisconnectedError(self.name, f"devices not connected: {', '.join(disconnected)}")

    def new_operation_id(self, operation: str) -> str:
        return f"{self.name}.{operation}.{next(self._ids)}"

    def run(
        self,
        operation: str,
        request: Any,
        operation_id: str | None = None,
        feedback: Callable[[dict[str, Any]], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> Outcome:
        """Run one operation to its end and return its Outcome (never raises PowderLabError)."""
        methods = {**self.operations, **self.manual, **self.extra_operations}
        if operation not in methods:
            error = UnknownResourceError(f"operation of station '{self.name}'", operation, methods)
            return Outcome(error.code, str(error))
        operation_id = operation_id or self.new_operation_id(operation)
        cancel = cancel or threading.Event()
        sample = getattr(request, "sample", SampleRef())
        context = OperationContext(
            operation_id,
            self.clock,
            cancel,
            self._estop,
            self._resume,
            self.locks,
            feedback,
            float(self.parameters["checkpoint_slice_s"]),
        )
        self.locks.describe(operation_id, f"{operation} ({sample.sample_id or sample.labware_id or operation_id})")
        try:
            with self._state_lock:
                self.check_available()
                if self.exclusive:
                    context.hold(self.name)
                self._running[operation_id] = _Running(operation, operation_id, sample, cancel)
            self._changed()
            result = getattr(self, methods[operation])(request, context)
            if isinstance(result, ManualResult):
                return Outcome(ErrorCode.NONE, result.message, result.data)
            return Outcome(ErrorCode.NONE, self.summary(operation, result), result)
        except OperationFailedError as error:
            self._after_error(error, context)
            return Outcome(error.code, str(error), error.partial)
        except PowderLabError as error:
            self._after_error(error, context)
            return Outcome(error.code, str(error))
        except Exception as error:  # a bug or an unexpected library error: keep the station safe
            log.exception("%s: %s failed unexpectedly", self.name, operation)
            self.safe_stop(self.stop_scope(context))
            self.mark_fault(f"internal error in {operation}: {error!r}")
            return Outcome(ErrorCode.UNKNOWN, f"internal error in {operation}: {error!r}")
        finally:
            context.release_all()
            self._running.pop(operation_id, None)
            self._changed()

    def command(self, request: ManualRequest) -> Outcome:
        """Run one manual command (only the names in `manual`; never an operation's action)."""
        if request.command not in self.manual:
            error = UnknownResourceError(f"manual command of station '{self.name}'", request.command, self.manual)
            return Outcome(error.code, str(error))
        return self.run(request.command, request)

    def cancel_all(self) -> None:
        for running in list(self._running.values()):
            running.cancel.set()

    def stop_scope(self, context: OperationContext) -> list[str] | None:
        """The devices a failed operation safe-stops: None for all of them.

        A station whose operations run concurrently on different devices (the transfer station's
        two arms) names only the operation's own, so a failure never stops another one's motion.
        """
        return None

    def _after_error(self, error: PowderLabError, context: OperationContext) -> None:
        """Device faults put the station in FAULT (safe-stopped); other errors leave it usable."""
        if isinstance(error, DeviceError | OperationFailedError) and error.code in (
            ErrorCode.DEVICE_FAULT,
            ErrorCode.DEVICE_DISCONNECTED,
            ErrorCode.PROTECTIVE_STOP,
        ):
            self.safe_stop(self.stop_scope(context))
            self.mark_fault(str(error))

    def summary(self, operation: str, result: Any) -> str:
        """One line describing a successful result."""
        return f"{operation} done"

    def estimate_s(self, operation: str, request: Any) -> float:
        """Planned duration of an operation on this station's clock (for scheduling)."""
        raise UnknownResourceError(f"operation of station '{self.name}'", operation, self.operations)

    # --- status ---

    def status(self) -> StationStatusData:
        running = next(iter(self._running.values()), None)
        devices = []
        for device in self.devices.values():
            try:
                devices.append(device.status())
            except Exception as error:  # status must never take the station down
                devices.append(DeviceStatus(device.name, device.kind, False, "unknown", ErrorCode.UNKNOWN, str(error)))
        message = self._estop_reason or self._fault or ("paused" if self.paused else "")
        return StationStatusData(
            station=self.name,
            kind=self.kind,
            mode=self.mode,
            message=message,
            operation=running.operation if running else "",
            operation_id=running.operation_id if running else "",
            sample=running.sample if running else SampleRef(),
            devices=devices,
        )

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    # --- helpers for subclasses ---

    def device_of(self, kind: type[Device]) -> Any:
        """The station's only device of a contract type."""
        found = [d for d in self.devices.values() if isinstance(d, kind)]
        if len(found) != 1:
            raise UnknownResourceError(f"{kind.kind} device of station '{self.name}'", kind.kind, self.devices)
        return found[0]

    def own_position(self, suffix: str) -> str:
        return f"{self.name}/{suffix}"

    def require_labware_at(self, position: str, sample: SampleRef) -> None:
        """Check (through the cell) that the named labware stands at position."""
        if self.cell is None:
            return
        snapshot = self.cell.position(position)
        if snapshot.labware is None:
            raise PositionEmptyError(position, "is empty; bring the crucible there first")
        if sample.labware_id and snapshot.labware.labware_id != sample.labware_id:
            raise WrongLabwareError(position, f"holds '{snapshot.labware.labware_id}', not '{sample.labware_id}'")
