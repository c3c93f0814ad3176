"""An emulated PLC: furnace doors with their interlock and mill I/O, as named signals.

Signals are plain values (bool, float, str) named `<device>.<Signal>`; the OPC UA server exposes
each as a variable `PLC.<device>.<Signal>` (the node map of hardware/emulated.yaml). Writable
signals are the PLC's inputs from the cell computer (requests, setpoints); the others are its
outputs (limit switches, running flags). Physics come from the mock models.
"""

from __future__ import annotations

import threading
from typing import Any

from powderlab.core.clock import Clock
from powderlab.core.errors import PowderLabError
from powderlab.drivers.mock.furnace import MockFurnace
from powderlab.drivers.mock.mill import MockMill


class DoorLogic:
    """A furnace door: a request signal, two limit switches, a fault and the hot / running interlock."""

    WRITABLE = ("DoorOpenRequest",)

    def __init__(self, name: str, furnace: MockFurnace, clock: Clock, door_time_s: float = 2.0) -> None:
        self.name, self.furnace, self.clock, self.door_time_s = name, furnace, clock, door_time_s
        self.jammed = False
        self.signals: dict[str, Any] = {
            "DoorOpenRequest": False,
            "DoorOpen": False,
            "DoorClosed": True,
            "DoorFault": False,
            "DoorInterlock": False,
            "InterlockText": "",
        }
        self._moving_to: bool | None = None
        self._arrive_at = 0.0

    @property
    def door_closed(self) -> bool:
        return bool(self.signals["DoorClosed"])

    def tick(self) -> None:
        s, now = self.signals, self.clock.now()
        wanted = bool(s["DoorOpenRequest"])
        at_wanted = s["DoorOpen"] if wanted else s["DoorClosed"]
        if self._moving_to is not None and self._moving_to != wanted:
            self._moving_to = None
        if at_wanted or self._moving_to is not None:
            if self._moving_to is not None and now >= self._arrive_at and not self.jammed:
                s["DoorOpen"], s["DoorClosed"], self._moving_to = wanted, not wanted, None
            return
        if wanted:
            program = self.furnace.program()
            temperature = self.furnace.chamber_temperature_c()
            safe = self.furnace.limits.safe_door_temperature_c
            if program.running or temperature > safe:
                s["DoorInterlock"] = True
                s["InterlockText"] = "program running" if program.running else f"chamber at {temperature:.0f} C"
                s["DoorOpenRequest"] = False
                return
        s["DoorInterlock"], s["InterlockText"] = False, ""
        s["DoorOpen"] = s["DoorClosed"] = False
        s["DoorFault"] = self.jammed
        self._moving_to, self._arrive_at = wanted, now + self.door_time_s


class MillLogic:
    """Mill I/O: clamp request and switch, frequency / duration setpoints, a run request."""

    WRITABLE = ("ClampRequest", "FrequencySetpoint", "DurationSetpoint", "RunRequest")

    def __init__(self, name: str, mill: MockMill) -> None:
        self.name, self.mill = name, mill
        self.signals: dict[str, Any] = {
            "ClampRequest": False,
            "ClampClosed": False,
            "FrequencySetpoint": 0.0,
            "DurationSetpoint": 0.0,
            "RunRequest": False,
            "Running": False,
            "Frequency": 0.0,
            "Elapsed": 0.0,
            "Duration": 0.0,
            "Fault": "",
        }
        self._was_running = False

    def tick(self) -> None:
        s = self.signals
        running = self.mill.state().running
        if s["RunRequest"] and not running and not self._was_running:
            try:
                self.mill.start(float(s["FrequencySetpoint"]), float(s["DurationSetpoint"]))
                s["Fault"] = ""
            except PowderLabError as error:
                s["Fault"], s["RunRequest"] = str(error), False
        elif not s["RunRequest"] and running:
            self.mill.stop()
        if bool(s["ClampRequest"]) != self.mill.state().clamp_closed:
            try:
                self.mill.set_clamp(bool(s["ClampRequest"]))
            except PowderLabError as error:
                s["Fault"], s["ClampRequest"] = str(error), self.mill.state().clamp_closed
        state = self.mill.state()
        if self._was_running and not state.running:
            s["RunRequest"] = False  # the cycle ended by itself
        self._was_running = state.running
        s.update(
            ClampClosed=state.clamp_closed,
            Running=state.running,
            Frequency=state.frequency_hz,
            Elapsed=state.elapsed_s,
            Duration=state.duration_s,
        )


class PlcModel:
    """Every door and mill the PLC runs, with their signals under `<device>.<Signal>`."""

    def __init__(self) -> None:
        self.units: dict[str, DoorLogic | MillLogic] = {}
        self.lock = threading.RLock()

    def add(self, unit: DoorLogic | MillLogic) -> None:
        self.units[unit.name] = unit

    def signals(self) -> dict[str, Any]:
        with self.lock:
            return {f"{name}.{key}": value for name, unit in self.units.items() for key, value in unit.signals.items()}

    def writable(self) -> list[str]:
        return [f"{name}.{key}" for name, unit in self.units.items() for key in unit.WRITABLE]

    def set(self, signal: str, value: Any) -> None:
        name, key = signal.rsplit(".", 1)
        with self.lock:
            self.units[name].signals[key] = value

    def tick(self) -> None:
        with self.lock:
            for unit in self.units.values():
                unit.tick()
