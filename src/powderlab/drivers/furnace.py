"""Box furnace contract: door + temperature controller with a programmer. Temperatures in C.

Limits (site profile): max_temperature_c, max_ramp_c_per_min, safe_door_temperature_c, slots.
The door opens only below safe_door_temperature_c and never while a program runs (interlock).
Programs are HeatingProfile segments run by the controller itself (Eurotherm-style programmer).
safe_stop ends any program and switches the heaters off (natural cooling); the door stays put.
Errors: OutOfRangeError (profile outside the limits), InterlockError, DeviceFaultError
(thermocouple break, door jam), DeviceDisconnectedError, DeviceTimeoutError (door motion).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from powderlab.core.errors import InterlockError
from powderlab.core.recipes import FurnaceLimits, HeatingProfile
from powderlab.drivers.base import Device


class DoorState(IntEnum):
    """Door position; values equal powderlab_interfaces/FurnaceState DOOR_*."""

    CLOSED = 0
    OPEN = 1
    MOVING = 2
    FAULT = 3


@dataclass(frozen=True)
class ProgramState:
    """The controller's programmer."""

    running: bool
    segment_index: int  # -1 when no program runs
    setpoint_c: float
    elapsed_s: float
    finished: bool  # the last program ran to its end


class Furnace(Device):
    """One box furnace with its door and temperature controller."""

    kind: ClassVar[str] = "furnace"

    @property
    def limits(self) -> FurnaceLimits:
        defaults = FurnaceLimits()
        return FurnaceLimits(
            max_temperature_c=float(self.config.get("max_temperature_c", defaults.max_temperature_c)),
            max_ramp_c_per_min=float(self.config.get("max_ramp_c_per_min", defaults.max_ramp_c_per_min)),
            ambient_c=float(self.config.get("ambient_c", defaults.ambient_c)),
            cooling_time_constant_s=float(self.config.get("cooling_time_constant_s", defaults.cooling_time_constant_s)),
            safe_door_temperature_c=float(self.config.get("safe_door_temperature_c", defaults.safe_door_temperature_c)),
        )

    @property
    def slot_count(self) -> int:
        return int(self.config.get("slots", 8))

    @abc.abstractmethod
    def temperature_c(self) -> float:
        """Measured chamber temperature (DeviceError on a thermocouple fault)."""

    @abc.abstractmethod
    def door(self) -> DoorState:
        """Door position as the limit switches report it."""

    @abc.abstractmethod
    def set_door(self, open_: bool, timeout_s: float = 30.0) -> None:
        """Drive the door open or closed and wait for the limit switch. Idempotent."""

    def check_door_may_open(self, program_running: bool) -> None:
        """The door interlock every backend enforces: no program running, chamber at or below the safe
        door temperature. InterlockError names what holds the door."""
        if program_running:
            raise InterlockError(self.name, "door stays closed while a program runs; stop the program first")
        temperature = self.temperature_c()
        safe = self.limits.safe_door_temperature_c
        if temperature > safe:
            raise InterlockError(
                self.name, f"door stays closed at {temperature:.0f} C; it opens at or below {safe:.0f} C"
            )

    @abc.abstractmethod
    def start_program(self, profile: HeatingProfile) -> None:
        """Validate the profile against the limits and start it (door must be closed)."""

    @abc.abstractmethod
    def program(self) -> ProgramState:
        """The programmer's state."""

    @abc.abstractmethod
    def stop_program(self) -> None:
        """End the program and switch the heaters off. Idempotent."""
