"""The PowderLab dosing-head line protocol (PDL/1): framing and checksums (see docs/hardware.md).

Every frame, both ways, is ASCII `<payload>*<CC>\\r\\n`, where CC is the XOR of the payload's
bytes as two upper-case hex digits (NMEA style). A frame with a wrong or missing checksum is
answered `NAK 02 checksum`; the host drops replies with a bad checksum and repeats the request.
"""

from __future__ import annotations

from powderlab.drivers.real.serial_line import BadReply

STATES = ("IDLE", "DOSING", "DONE", "EMPTY", "ABORTED", "FAULT")
NAK_CODES = {
    "01": "unknown command",
    "02": "checksum",
    "03": "bad argument",
    "04": "busy",
    "05": "head empty",
}


def checksum(payload: bytes) -> str:
    value = 0
    for byte in payload:
        value ^= byte
    return f"{value:02X}"


def frame(payload: str) -> bytes:
    """The bytes of one frame without the line terminator."""
    data = payload.encode("ascii")
    return data + b"*" + checksum(data).encode("ascii")


def unframe(line: bytes) -> str:
    """The payload of one frame (terminator already removed); BadReply when framing or checksum fail."""
    line = line.strip(b"\r\n")
    if b"*" not in line:
        raise BadReply(f"no checksum in {line[:40]!r}")
    payload, _, received = line.rpartition(b"*")
    if any(b < 0x20 or b > 0x7E for b in payload):
        raise BadReply(f"non-printable bytes in {line[:40]!r}")
    if received.decode("ascii", errors="replace").upper() != checksum(payload):
        raise BadReply(f"checksum mismatch in {line[:40]!r}")
    return payload.decode("ascii")
