"""Errors of the lab, each with an ErrorCode that travels unchanged into action results.

Messages name what was wrong and what is allowed, so an operator can act on them without
reading code. The numeric codes equal the constants in every powderlab_interfaces action result.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum


class ErrorCode(IntEnum):
    """Outcome codes shared by every station operation (mirrors the action result constants)."""

    NONE = 0
    UNKNOWN = 1
    INVALID_GOAL = 2
    OUT_OF_RANGE = 3
    UNKNOWN_RESOURCE = 4
    POSITION_OCCUPIED = 5
    POSITION_EMPTY = 6
    POSITION_LOCKED = 7
    WRONG_LABWARE = 8
    INSUFFICIENT_STOCK = 9
    INTERLOCK = 10
    DEVICE_FAULT = 11
    DEVICE_DISCONNECTED = 12
    TIMEOUT = 13
    CANCELED = 14
    ESTOPPED = 15
    STATION_UNAVAILABLE = 16
    TOLERANCE_NOT_MET = 17
    NO_FREE_SLOT = 18
    BALANCE_UNSTABLE = 19
    OVERLOAD = 20
    STOCK_EXHAUSTED = 21
    NOT_REACHABLE = 22
    PROTECTIVE_STOP = 23


class PowderLabError(Exception):
    """Base of every error the lab raises on purpose; carries an ErrorCode."""

    code: ErrorCode = ErrorCode.UNKNOWN

    def __init__(self, message: str, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code

    @property
    def message(self) -> str:
        return str(self)


# --- bad input -----------------------------------------------------------------------------


class ValidationError(PowderLabError, ValueError):
    """A value that is not allowed; names the field and what is allowed."""

    code = ErrorCode.INVALID_GOAL

    def __init__(self, field: str, message: str, code: ErrorCode | None = None) -> None:
        super().__init__(f"{field}: {message}", code)
        self.field = field


class OutOfRangeError(ValidationError):
    """A number outside its allowed range."""

    code = ErrorCode.OUT_OF_RANGE

    def __init__(self, field: str, value: float, low: float | None, high: float | None, unit: str = "") -> None:
        unit_text = f" {unit}" if unit else ""
        if low is not None and high is not None:
            allowed = f"{_fmt(low)} to {_fmt(high)}{unit_text}"
        elif low is not None:
            allowed = f"at least {_fmt(low)}{unit_text}"
        else:
            allowed = f"at most {_fmt(high)}{unit_text}"
        super().__init__(field, f"{_fmt(value)}{unit_text} is out of range; allowed: {allowed}")
        self.value, self.low, self.high, self.unit = value, low, high, unit


class UnknownResourceError(PowderLabError, KeyError):
    """A name (precursor, station, position, furnace, arm, ...) the lab does not know."""

    code = ErrorCode.UNKNOWN_RESOURCE

    def __init__(self, kind: str, name: str, known: Iterable[str] = ()) -> None:
        known_list = sorted(known)
        shown = ", ".join(known_list[:20]) + (", ..." if len(known_list) > 20 else "")
        suffix = f"; known: {shown}" if known_list else ""
        super().__init__(f"unknown {kind} '{name}'{suffix}")
        self.kind, self.name, self.known = kind, name, known_list

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return self.args[0]


# --- positions -----------------------------------------------------------------------------


class PositionError(PowderLabError):
    """A rule of the position table was broken."""

    def __init__(self, position: str, message: str) -> None:
        super().__init__(f"position '{position}': {message}")
        self.position = position


class PositionOccupiedError(PositionError):
    """The destination already holds an item."""

    code = ErrorCode.POSITION_OCCUPIED


class PositionEmptyError(PositionError):
    """The source holds nothing."""

    code = ErrorCode.POSITION_EMPTY


class PositionLockedError(PositionError):
    """Another operation has reserved the position."""

    code = ErrorCode.POSITION_LOCKED


class WrongLabwareError(PositionError):
    """The position holds a different item than the one named."""

    code = ErrorCode.WRONG_LABWARE


# --- devices -------------------------------------------------------------------------------


class DeviceError(PowderLabError):
    """A device reported a fault or refused a command."""

    code = ErrorCode.DEVICE_FAULT

    def __init__(self, device: str, message: str, code: ErrorCode | None = None) -> None:
        super().__init__(f"{device}: {message}", code)
        self.device = device


class DeviceDisconnectedError(DeviceError):
    """The device is not connected (never was, or the link dropped)."""

    code = ErrorCode.DEVICE_DISCONNECTED


class DeviceTimeoutError(DeviceError):
    """The device did not answer or finish in time."""

    code = ErrorCode.TIMEOUT


class InterlockError(DeviceError):
    """A safety interlock forbids the command (door hot, lid open, ...)."""

    code = ErrorCode.INTERLOCK


class OverloadError(DeviceError):
    """The balance is over its capacity (or under its zero)."""

    code = ErrorCode.OVERLOAD


class UnstableReadingError(DeviceError):
    """The balance did not settle in time."""

    code = ErrorCode.BALANCE_UNSTABLE


class StockExhaustedError(DeviceError):
    """A dosing head ran empty."""

    code = ErrorCode.STOCK_EXHAUSTED


class ProtectiveStopError(DeviceError):
    """The arm is in a protective stop."""

    code = ErrorCode.PROTECTIVE_STOP


# --- operations ----------------------------------------------------------------------------


class OperationError(PowderLabError):
    """A station operation could not be done; the code says why."""


class CanceledError(OperationError):
    """The goal was cancelled."""

    code = ErrorCode.CANCELED


class EStopError(OperationError):
    """The emergency stop is engaged."""

    code = ErrorCode.ESTOPPED


class StationUnavailableError(OperationError):
    """The station is paused, busy, inactive or faulted."""

    code = ErrorCode.STATION_UNAVAILABLE


def _fmt(value: float | None) -> str:
    if value is None:
        return "?"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return f"{value:g}" if isinstance(value, float) else str(value)
