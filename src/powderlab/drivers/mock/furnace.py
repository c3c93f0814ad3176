"""Mock furnace: an ideal controller that follows its program exactly on the injected clock."""

from __future__ import annotations

from powderlab.core.errors import DeviceError, InterlockError
from powderlab.core.heating import ProfileWalker, newton_cooled_c
from powderlab.core.recipes import HeatingProfile
from powderlab.drivers.base import DeviceStatus
from powderlab.drivers.furnace import DoorState, Furnace, ProgramState
from powderlab.drivers.mock.connection import MockConnection


class MockFurnace(MockConnection, Furnace):
    """Temperature follows the program segments exactly; with heaters off it cools (Newton)."""

    STATE_KEYS = {
        "temperature_c": "set_temperature",
        "thermocouple_failed": "fail_thermocouple",
        "door_jammed": "jam_door",
    }

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._door = DoorState.CLOSED
        self._door_jammed = False
        self._thermocouple_failed = False
        self._anchor = (self.clock.now(), self.limits.ambient_c)  # (time, temperature) heaters off
        self._program: ProfileWalker | None = None
        self._program_start = 0.0
        self._finished = False

    # --- test hooks ---
    def set_temperature(self, temperature_c: float) -> None:
        self._program = None
        self._anchor = (self.clock.now(), temperature_c)

    def fail_thermocouple(self, failed: bool = True) -> None:
        self._thermocouple_failed = failed

    def jam_door(self, jammed: bool = True) -> None:
        self._door_jammed = jammed

    @property
    def thermocouple_failed(self) -> bool:
        """The sensor is broken (a test or an emulator's fault register reads this)."""
        return self._thermocouple_failed

    def chamber_temperature_c(self) -> float:
        """The chamber's true temperature, also with a broken sensor (what an emulator's physics reads)."""
        return self._temperature()

    # --- model ---
    def _cooled(self, since: float, from_c: float, now: float) -> float:
        return newton_cooled_c(from_c, now - since, self.limits)

    def _settle(self) -> None:
        """Retire a program that has run to its end: heaters off from then on."""
        if self._program is None:
            return
        point = self._program.at(self.clock.now() - self._program_start)
        if point.finished:
            self._anchor = (self._program_start + self._program.total_s, point.setpoint_c)
            self._program, self._finished = None, True

    def _temperature(self) -> float:
        self._settle()
        now = self.clock.now()
        if self._program is not None:
            return self._program.at(now - self._program_start).setpoint_c
        return self._cooled(self._anchor[0], self._anchor[1], now)

    # --- contract ---
    def safe_stop(self) -> None:
        if self._program is not None:
            self._anchor = (self.clock.now(), self._temperature())
            self._program = None

    def temperature_c(self) -> float:
        self.require_connected()
        if self._thermocouple_failed:
            raise DeviceError(self.name, "thermocouple open circuit (sensor break); replace the thermocouple")
        return self._temperature()

    def door(self) -> DoorState:
        self.require_connected()
        return DoorState.FAULT if self._door_jammed else self._door

    def set_door(self, open_: bool, timeout_s: float = 30.0) -> None:
        self.require_connected()
        wanted = DoorState.OPEN if open_ else DoorState.CLOSED
        if self._door == wanted and not self._door_jammed:
            return
        if open_:
            self._settle()
            self.check_door_may_open(self._program is not None)
        if self._door_jammed:
            self.clock.sleep(timeout_s)
            raise DeviceError(self.name, f"door did not reach {wanted.name.lower()} within {timeout_s:g} s (jammed)")
        self._door = wanted

    def start_program(self, profile: HeatingProfile) -> None:
        self.require_connected()
        profile.validate(self.limits)
        self._settle()
        if self._program is not None:
            raise DeviceError(self.name, "a program is already running; stop it first")
        if self.door() is not DoorState.CLOSED:
            raise InterlockError(self.name, "door is not closed; close it before heating")
        walker = ProfileWalker(profile, self.limits, self.temperature_c())
        self._program, self._program_start, self._finished = walker, self.clock.now(), False

    def program(self) -> ProgramState:
        self.require_connected()
        self._settle()
        if self._program is None:
            return ProgramState(False, -1, self._temperature(), 0.0, self._finished)
        elapsed = self.clock.now() - self._program_start
        point = self._program.at(elapsed)
        return ProgramState(True, point.segment_index, point.setpoint_c, elapsed, False)

    def stop_program(self) -> None:
        self.require_connected()
        self.safe_stop()
        self._finished = False

    def status(self) -> DeviceStatus:
        if not self._connected:
            return DeviceStatus(self.name, self.kind, False, "disconnected")
        values: dict[str, float | str | bool] = {"temperature_c": round(self._temperature(), 2)}
        fault = "thermocouple break" if self._thermocouple_failed else ("door jammed" if self._door_jammed else "")
        state = "heating" if self._program is not None else "idle"
        return DeviceStatus(
            self.name,
            self.kind,
            True,
            state,
            fault_code=DeviceError.code if fault else 0,
            fault=fault,
            values={**values, "door": self.door().name.lower()},
        )
