"""Balance over MT-SICS (Mettler-Toledo Standard Interface Command Set), level 0/1.

S (stable weight), SI (weight now), Z (zero), T (tare), TA (tare value), TAC (clear tare), @ and I4
(reset / serial number). A balance answers S, Z and T with `I` when no stable value comes within
its own window; the driver repeats them until the caller's timeout on the device clock. ET
(transmission error) and unparseable lines are retried by the link; ES and EL are driver bugs or
firmware mismatches and raise DeviceError naming the command.
"""

from __future__ import annotations

from pathlib import Path

from powderlab.core.clock import Clock
from powderlab.core.errors import DeviceError, OverloadError, UnstableReadingError
from powderlab.core.site import DeviceConfig
from powderlab.drivers.balance import Balance, BalanceReading
from powderlab.drivers.base import DeviceStatus
from powderlab.drivers.real.mtsics import SicsReply, parse_reply
from powderlab.drivers.real.serial_line import BadReply, SerialLine, SerialSettings

POLL_S = 0.2  # device-clock seconds between repeats of S / T / Z while unstable


class SicsBalance(Balance):
    """A Mettler-Toledo (or MT-SICS compatible) balance on a serial port."""

    def __init__(self, config: DeviceConfig, clock: Clock | None = None, base_dir: Path | None = None) -> None:
        super().__init__(config, clock)
        settings = SerialSettings.from_connection(self.name, config.connection, baudrate=9600)
        self.line = SerialLine(self.name, settings)
        self.serial_number = ""

    def connect(self) -> None:
        self.line.open()
        reply = self._ask("I4")
        self.serial_number = reply.text

    def disconnect(self) -> None:
        self.line.close()

    @property
    def connected(self) -> bool:
        return self.line.is_open

    def _ask(self, command: str) -> SicsReply:
        def parse(raw: bytes) -> SicsReply:
            reply = parse_reply(raw, command)
            if reply.status == "ET":
                raise BadReply("balance reported a transmission error (ET)")
            return reply

        self.require_connected()
        reply = self.line.transact(command.encode("ascii"), parse, f"MT-SICS {command}")
        if reply.status in ("ES", "EL"):
            raise DeviceError(self.name, f"balance answered {reply.status} ({reply.text}) to {command}")
        if reply.status == "L":
            raise DeviceError(self.name, f"balance answered {command} L (logical error in the parameter)")
        if reply.status == "+":
            raise OverloadError(
                self.name, f"overload: the load is above the capacity; capacity is {self.capacity_mg:.0f} mg"
            )
        if reply.status == "-":
            raise OverloadError(self.name, "underload: the load is below zero; re-zero with the pan empty")
        return reply

    def _until_stable(self, command: str, timeout_s: float) -> SicsReply:
        deadline = self.clock.now() + timeout_s
        while True:
            reply = self._ask(command)
            if reply.status != "I":
                return reply
            if self.clock.now() >= deadline:
                raise UnstableReadingError(self.name, f"no stable reading within {timeout_s:g} s")
            self.clock.sleep(POLL_S)

    def read(self) -> BalanceReading:
        reply = self._ask("SI")
        assert reply.mass_mg is not None
        return BalanceReading(reply.mass_mg, reply.status == "S")

    def read_stable(self, timeout_s: float) -> BalanceReading:
        reply = self._until_stable("S", timeout_s)
        assert reply.mass_mg is not None
        return BalanceReading(reply.mass_mg, True)

    def tare(self, timeout_s: float = 10.0) -> float:
        reply = self._until_stable("T", timeout_s)
        return float(reply.mass_mg or 0.0)

    def zero(self, timeout_s: float = 10.0) -> None:
        self._until_stable("Z", timeout_s)
        self._ask("TAC")

    def safe_stop(self) -> None:
        """A balance has nothing to stop."""

    def status(self) -> DeviceStatus:
        values: dict[str, float | str | bool] = {"port": self.line.settings.port, "serial_number": self.serial_number}
        if not self.connected:
            return DeviceStatus(self.name, self.kind, False, "disconnected", fault=self.line.last_error, values=values)
        return DeviceStatus(self.name, self.kind, True, "connected", values=values)
