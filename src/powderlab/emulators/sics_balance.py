"""An MT-SICS balance (level 0/1) for a pty, over the mock balance's physics.

Commands: S (stable weight, `S I` when not stable), SI, Z, T, TA, TAC, @ / I4. Unknown commands get
ES, bytes that are not printable ASCII get ET; `TA <value> <unit>` with an unknown unit gets
`TA L`. Overload / underload reply `+` / `-`.
"""

from __future__ import annotations

from powderlab.core.errors import OverloadError
from powderlab.drivers.mock.balance import MockBalance
from powderlab.drivers.real.mtsics import format_weight


class SicsBalanceProtocol:
    """The balance's side of MT-SICS."""

    def __init__(self, physics: MockBalance, serial_number: str = "B149302718") -> None:
        self.physics = physics
        self.physics.connect()
        self.serial_number = serial_number
        self._buffer = b""
        self.commands: list[str] = []

    def tick(self) -> None:
        """The mock balance has no dynamics of its own."""

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        out = b""
        while b"\n" in self._buffer:
            raw, self._buffer = self._buffer.split(b"\n", 1)
            raw = raw.rstrip(b"\r")
            if not raw:
                continue
            out += (self.answer(raw) + "\r\n").encode("ascii")
        return out

    def _range(self, command: str) -> str | None:
        try:
            self.physics._check_range()
        except OverloadError as error:
            prefix = "S" if command == "SI" else command  # SI is answered as S
            return f"{prefix} {'-' if 'underload' in str(error) else '+'}"
        return None

    def answer(self, raw: bytes) -> str:
        if any(b < 0x20 or b > 0x7E for b in raw):
            return "ET"
        text = raw.decode("ascii").strip()
        self.commands.append(text)
        command, *args = text.split()
        p = self.physics
        stable = not p.unstable
        if command in ("S", "SI", "T", "Z"):
            bad = self._range(command)
            if bad:
                return bad
        if command == "S":
            return format_weight("S", "S", p.load_mg - p.tare_mg) if stable else "S I"
        if command == "SI":
            return format_weight("S", "S" if stable else "D", p.load_mg - p.tare_mg)
        if command == "T":
            if not stable:
                return "T I"
            p.tare_mg = p.load_mg
            return format_weight("T", "S", p.tare_mg)
        if command == "Z":
            if not stable:
                return "Z I"
            p.load_mg, p.tare_mg = 0.0, 0.0
            return "Z A"
        if command == "TA":
            if args:
                if len(args) != 2 or args[1] not in ("g", "mg", "kg"):
                    return "TA L"
                return format_weight("TA", "A", p.tare_mg)
            return format_weight("TA", "A", p.tare_mg)
        if command == "TAC":
            p.tare_mg = 0.0
            return "TAC A"
        if command in ("@", "I4"):
            return f'I4 A "{self.serial_number}"'
        return "ES"
