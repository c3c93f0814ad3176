"""Powder dosing unit over the PDL/1 line protocol (docs/hardware.md).

The unit has numbered heads, each with one powder. `DOSE <head> <mass_mg> <COARSE|FINE>` starts a
dose; the driver polls `STATUS?` (on the device clock) until the dose is DONE, EMPTY (the head ran
dry: PartialDoseError with what went out) or ABORTED. `ABORT` stops at once.
"""

from __future__ import annotations

from pathlib import Path

from powderlab.core.clock import Clock
from powderlab.core.errors import DeviceError, DeviceTimeoutError
from powderlab.core.site import DeviceConfig
from powderlab.core.units import require_positive
from powderlab.drivers.base import DeviceStatus
from powderlab.drivers.dispenser import DoseSpeed, DosingHead, PartialDoseError, PowderDispenser
from powderlab.drivers.real.dosing_protocol import NAK_CODES, frame, unframe
from powderlab.drivers.real.serial_line import SerialLine, SerialSettings

POLL_S = 0.1


class PdlDispenser(PowderDispenser):
    """A multi-head dosing unit on a serial port."""

    def __init__(self, config: DeviceConfig, clock: Clock | None = None, base_dir: Path | None = None) -> None:
        super().__init__(config, clock)
        self.line = SerialLine(self.name, SerialSettings.from_connection(self.name, config.connection, baudrate=19200))
        self.min_rate_mg_s = float(config.connection.get("min_rate_mg_s", 20.0))
        self.unit_id = ""

    def connect(self) -> None:
        self.line.open()
        self.unit_id = " ".join(self._ask("ID?", "ID")[1:])

    def disconnect(self) -> None:
        self.line.close()

    @property
    def connected(self) -> bool:
        return self.line.is_open

    def _ask(self, request: str, expect: str) -> list[str]:
        """Send one request; the reply's words (starting with `expect`), or DeviceError for a NAK."""
        self.require_connected()

        def parse(raw: bytes) -> list[str]:
            return unframe(raw).split()

        words = self.line.transact(frame(request), parse, f"dosing unit {request}")
        if words and words[0] == "NAK":
            code = words[1] if len(words) > 1 else "??"
            raise DeviceError(
                self.name, f"dosing unit refused '{request}': NAK {code} ({NAK_CODES.get(code, 'unknown')})"
            )
        if not words or words[0] != expect:
            raise DeviceError(self.name, f"unexpected reply to '{request}': {' '.join(words)[:60]}")
        return words

    def heads(self) -> list[DosingHead]:
        count = int(self._ask("HEADS?", "HEADS")[1])
        heads = []
        for index in range(count):
            _, number, powder, remaining = self._ask(f"HEAD? {index}", "HEAD")
            heads.append(DosingHead(int(number), powder, float(remaining)))
        return heads

    def _status(self) -> tuple[str, int, float, float]:
        _, state, job, _, dispensed, target = self._ask("STATUS?", "STATUS")
        return state, int(job), float(dispensed), float(target)

    def dispense(self, powder: str, mass_mg: float, speed: DoseSpeed) -> float:
        self.require_connected()
        require_positive("mass_mg", mass_mg, "mg", high=self.max_dose_mg)
        head = self.head_for(powder)
        job = int(self._ask(f"DOSE {head.index} {mass_mg:.2f} {DoseSpeed(speed).value.upper()}", "ACK")[2])
        timeout_s = mass_mg / self.min_rate_mg_s + 30.0
        deadline = self.clock.now() + timeout_s
        while True:
            state, current, dispensed, target = self._status()
            if current == job and state != "DOSING":
                break
            if self.clock.now() >= deadline:
                self.abort()
                raise DeviceTimeoutError(
                    self.name, f"dose of {mass_mg:.1f} mg {powder} did not end within {timeout_s:.0f} s; aborted"
                )
            self.clock.sleep(POLL_S)
        if state == "DONE":
            return dispensed
        if state == "EMPTY":
            raise PartialDoseError(self.name, powder, dispensed, mass_mg)
        raise DeviceError(self.name, f"dose of {powder} ended {state} after {dispensed:.2f} mg of {target:.2f} mg")

    def abort(self) -> None:
        self._ask("ABORT", "ACK")

    def safe_stop(self) -> None:
        if self.connected:
            self.abort()

    def status(self) -> DeviceStatus:
        values: dict[str, float | str | bool] = {"port": self.line.settings.port, "unit": self.unit_id}
        if not self.connected:
            return DeviceStatus(self.name, self.kind, False, "disconnected", fault=self.line.last_error, values=values)
        try:
            state, _, dispensed, _ = self._status()
        except DeviceError as error:
            return DeviceStatus(self.name, self.kind, self.connected, "unknown", error.code, str(error), values)
        values["dispensed_mg"] = dispensed
        return DeviceStatus(self.name, self.kind, True, state.lower(), values=values)
