"""What the campaign does after an operation fails, by error code."""

from __future__ import annotations

from enum import StrEnum

from powderlab.core.errors import ErrorCode


class FailureKind(StrEnum):
    """How a failed step is handled."""

    RETRY = "retry"  # the lab was not ready (e-stop, fault, busy, interlock): try the step again later
    REPLAN = "replan"  # the position table disagrees with our records: re-read it, then go on from there
    SAMPLE = "sample"  # this crucible is spoiled: discard it, make the experiment again with a new one
    RECIPE = "recipe"  # the recipe cannot be carried out: the experiment fails, the planner hears of it


RETRY_CODES = {
    ErrorCode.UNKNOWN,
    ErrorCode.INTERLOCK,
    ErrorCode.DEVICE_FAULT,
    ErrorCode.DEVICE_DISCONNECTED,
    ErrorCode.TIMEOUT,
    ErrorCode.CANCELED,
    ErrorCode.ESTOPPED,
    ErrorCode.STATION_UNAVAILABLE,
    ErrorCode.NO_FREE_SLOT,
    ErrorCode.BALANCE_UNSTABLE,
    ErrorCode.PROTECTIVE_STOP,
    ErrorCode.POSITION_LOCKED,
}
REPLAN_CODES = {ErrorCode.POSITION_EMPTY, ErrorCode.POSITION_OCCUPIED, ErrorCode.WRONG_LABWARE}
SAMPLE_CODES = {ErrorCode.TOLERANCE_NOT_MET, ErrorCode.STOCK_EXHAUSTED, ErrorCode.OVERLOAD}


def classify(code: int) -> FailureKind:
    """The handling of a failed operation's error code."""
    try:
        value = ErrorCode(code)
    except ValueError:
        return FailureKind.RETRY
    if value in RETRY_CODES:
        return FailureKind.RETRY
    if value in REPLAN_CODES:
        return FailureKind.REPLAN
    if value in SAMPLE_CODES:
        return FailureKind.SAMPLE
    return FailureKind.RECIPE
