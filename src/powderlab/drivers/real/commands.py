"""Command status as instruments report it: (id, state, ErrorCode) and a message -> errors."""

from __future__ import annotations

from powderlab.core.errors import DeviceError, ErrorCode, InterlockError, PowderLabError, ProtectiveStopError

RUNNING, DONE, FAILED = 1, 2, 3


class RemoteCommandError(DeviceError):
    """A device refused or failed a command; carries the ErrorCode the device reported."""


def error_from_code(device: str, code: int, message: str) -> PowderLabError:
    """The lab error for an ErrorCode a controller reported (the code travels unchanged)."""
    try:
        error_code = ErrorCode(code)
    except ValueError:
        error_code = ErrorCode.DEVICE_FAULT
    text = message or error_code.name.lower().replace("_", " ")
    if error_code is ErrorCode.PROTECTIVE_STOP:
        return ProtectiveStopError(device, text)
    if error_code is ErrorCode.INTERLOCK:
        return InterlockError(device, text)
    return RemoteCommandError(device, text, code=error_code)
