"""A PDL/1 dosing unit for a pty: heads with stock, doses at a coarse / fine rate onto the balance."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from powderlab.core.clock import Clock
from powderlab.drivers.mock.balance import MockBalance
from powderlab.drivers.real.dosing_protocol import frame, unframe
from powderlab.drivers.real.serial_line import BadReply

RATES_MG_S = {"COARSE": 400.0, "FINE": 40.0}


class DosingUnitProtocol:
    """The unit's side of PDL/1."""

    def __init__(self, heads: Sequence[Mapping[str, Any]], clock: Clock, balance: MockBalance | None = None) -> None:
        self.clock, self.balance = clock, balance
        self.powders = [str(h["powder"]) for h in heads]
        self.stock = [float(h.get("stock_mg", 0.0)) for h in heads]
        self.state, self.job, self.head = "IDLE", 0, -1
        self.dispensed = self.target = 0.0
        self.rate = 0.0
        self._last = clock.now()
        self._buffer = b""
        self._lock = threading.RLock()

    def set_stock(self, powder: str, mass_mg: float) -> None:
        with self._lock:
            self.stock[self.powders.index(powder)] = float(mass_mg)

    def tick(self) -> None:
        with self._lock:
            now = self.clock.now()
            elapsed, self._last = max(0.0, now - self._last), now
            if self.state != "DOSING":
                return
            step = min(self.rate * elapsed, self.target - self.dispensed, self.stock[self.head])
            self.dispensed += step
            self.stock[self.head] -= step
            if self.balance is not None:
                self.balance.add_load(step)
            if self.dispensed >= self.target - 1e-9:
                self.state = "DONE"
            elif self.stock[self.head] <= 1e-9:
                self.stock[self.head] = 0.0
                self.state = "EMPTY"

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        out = b""
        while b"\n" in self._buffer:
            raw, self._buffer = self._buffer.split(b"\n", 1)
            if raw.strip():
                out += frame(self.answer(raw)) + b"\r\n"
        return out

    def answer(self, raw: bytes) -> str:
        try:
            request = unframe(raw)
        except BadReply:
            return "NAK 02 checksum"
        words = request.split()
        with self._lock:
            self.tick()
            try:
                return self._command(words)
            except (ValueError, IndexError):
                return "NAK 03 bad argument"

    def _command(self, words: list[str]) -> str:
        command = words[0]
        if command == "ID?":
            return "ID PDL-8 SN2231"
        if command == "HEADS?":
            return f"HEADS {len(self.powders)}"
        if command in ("HEAD?", "STOCK?"):
            index = int(words[1])
            if command == "STOCK?":
                return f"STOCK {index} {self.stock[index]:.2f}"
            return f"HEAD {index} {self.powders[index]} {self.stock[index]:.2f}"
        if command == "DOSE":
            index, mass, speed = int(words[1]), float(words[2]), words[3]
            if speed not in RATES_MG_S or mass <= 0 or not 0 <= index < len(self.powders):
                return "NAK 03 bad argument"
            if self.state == "DOSING":
                return "NAK 04 busy"
            self.job += 1
            self.state, self.head, self.target, self.dispensed = "DOSING", index, mass, 0.0
            self.rate, self._last = RATES_MG_S[speed], self.clock.now()
            if self.stock[index] <= 0:
                self.state = "EMPTY"
            return f"ACK DOSE {self.job}"
        if command == "STATUS?":
            return f"STATUS {self.state} {self.job} {self.head} {self.dispensed:.3f} {self.target:.3f}"
        if command == "ABORT":
            if self.state == "DOSING":
                self.state = "ABORTED"
            return "ACK ABORT"
        return "NAK 01 unknown command"
