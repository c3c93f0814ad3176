"""Mettler-Toledo MT-SICS level 0/1 replies: parsing and their meaning (shared by driver and emulator).

A reply line is `<command> <status> [value unit]`: status S (stable) / D (dynamic) for weights,
A (done), I (not executable now: busy or no stable value), + (overload), - (underload), L (logical
error in the argument). `ES` (syntax: unknown command), `ET` (transmission error), `EL` (logical
error) are whole-line error replies.
"""

from __future__ import annotations

from dataclasses import dataclass

from powderlab.drivers.real.serial_line import BadReply

UNITS_MG = {"mg": 1.0, "g": 1000.0, "kg": 1_000_000.0}
ERROR_REPLIES = {"ES": "syntax error (command unknown)", "ET": "transmission error", "EL": "logical error"}


@dataclass(frozen=True)
class SicsReply:
    """One parsed MT-SICS reply."""

    command: str
    status: str  # S D A I + - L, or ES / ET / EL for an error line
    mass_mg: float | None = None
    text: str = ""


def parse_reply(line: bytes, expected: str) -> SicsReply:
    """Parse a reply to `expected` (S, SI, T, TA, Z, TAC, I4); BadReply on anything unparseable."""
    try:
        text = line.decode("ascii").strip()
    except UnicodeDecodeError:
        raise BadReply(f"non-ASCII bytes {line[:20]!r}") from None
    if text in ERROR_REPLIES:
        return SicsReply(text, text, text=ERROR_REPLIES[text])
    parts = text.split()
    prefix = {"SI": "S", "@": "I4"}.get(expected, expected)  # SI is answered as S, @ as I4
    if len(parts) < 2 or parts[0] != prefix:
        raise BadReply(f"'{text[:40]}' is no reply to {expected}")
    status = parts[1]
    if status not in ("S", "D", "A", "I", "+", "-", "L"):
        raise BadReply(f"unknown status '{status}' in '{text[:40]}'")
    if prefix == "I4":
        return SicsReply(expected, status, text=" ".join(parts[2:]).strip('"'))
    if status in ("S", "D") or (status == "A" and len(parts) >= 4):
        if len(parts) != 4 or parts[3] not in UNITS_MG:
            raise BadReply(f"weight reply '{text[:40]}' needs a value and a unit (mg, g, kg)")
        try:
            value = float(parts[2])
        except ValueError:
            raise BadReply(f"'{parts[2]}' is not a number") from None
        return SicsReply(expected, status, value * UNITS_MG[parts[3]])
    return SicsReply(expected, status)


def format_weight(command: str, status: str, mass_mg: float) -> str:
    """A weight reply in grams with five decimals (0.01 mg readability)."""
    return f"{command} {status} {mass_mg / 1000.0:>12.5f} g"
