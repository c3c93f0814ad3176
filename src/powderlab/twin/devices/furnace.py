"""A box furnace in the twin: PI-controlled heaters with thermal lag, ramp limit, overshoot, natural cooling.

Chamber: dT/dt = u - (T - ambient) / tau, with the heater rate u (C/s) in [0, max_heater_c_per_s]
from a PI controller on the programmer's setpoint; with heaters off it cools along Newton's law
(the site profile's cooling_time_constant_s). The integral term gives a few degrees of overshoot
at the end of a ramp, as real controllers do. The door is a prismatic joint that takes door_time_s.
Crucibles in the slots record the chamber temperature for the hidden-truth chemistry.
"""

from __future__ import annotations

from powderlab.core.errors import DeviceError, DeviceTimeoutError, InterlockError
from powderlab.core.heating import ProfileWalker
from powderlab.core.recipes import HeatingProfile
from powderlab.drivers.base import DeviceStatus
from powderlab.drivers.furnace import DoorState, Furnace, ProgramState
from powderlab.twin.devices.base import TwinDevice

KP_PER_S = 0.02
KI_PER_S2 = 0.00004
MAX_HEATER_C_PER_S = 0.6
RECORD_EVERY_S = 60.0


class TwinFurnace(TwinDevice, Furnace):
    """One furnace of the scene (same name in the site profile and the scene)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        limits = self.limits
        self.temperature = limits.ambient_c
        self.tau_s = limits.cooling_time_constant_s
        self._integral = 0.0
        self._program: ProfileWalker | None = None
        self._start_t = 0.0
        self._finished = False
        self.door_position = 0.0  # 0 closed .. 1 open
        self._door_target = 0.0
        self.door_jammed = False
        self.thermocouple_failed = False
        self.door_travel_m = self.world.scene.setting("door", "travel", 0.18)
        self.door_time_s = self.world.scene.setting("door", "time_s", 8.0)
        self._recorded_at = -RECORD_EVERY_S
        self.slots = [p for p in self.world.positions if p.startswith(f"{self.name}/slot_")]
        self.world.models.append(self)

    # --- model ---
    def step(self, time_s: float, dt: float) -> None:
        ambient = self.limits.ambient_c
        heater = 0.0
        if self._program is not None:
            point = self._program.at(time_s - self._start_t)
            if point.finished:
                self._program, self._finished, self._integral = None, True, 0.0
            elif point.heaters_on:
                error = point.setpoint_c - self.temperature
                self._integral += error * dt
                heater = min(MAX_HEATER_C_PER_S, max(0.0, KP_PER_S * error + KI_PER_S2 * self._integral))
        self.temperature += (heater - (self.temperature - ambient) / self.tau_s) * dt
        if self.door_position != self._door_target and not self.door_jammed:
            move = dt / self.door_time_s
            delta = self._door_target - self.door_position
            self.door_position = (
                self._door_target if abs(delta) <= move else self.door_position + move * (1 if delta > 0 else -1)
            )
            body = self.world.bodies[self.name]
            self.world.client.resetJointState(body, 0, self.door_position * self.door_travel_m)
        if time_s - self._recorded_at >= RECORD_EVERY_S:
            self._recorded_at = time_s
            for slot in self.slots:
                item = self.world.item_at(slot)
                if item is not None:
                    item.truth.record_temperature(time_s, self.temperature)

    def _door_state(self) -> DoorState:
        if self.door_jammed:
            return DoorState.FAULT
        if self.door_position <= 0.0:
            return DoorState.CLOSED
        if self.door_position >= 1.0:
            return DoorState.OPEN
        return DoorState.MOVING

    def _check_sensor(self) -> None:
        if self.thermocouple_failed:
            raise DeviceError(self.name, "thermocouple open circuit (sensor break); replace the thermocouple")

    # --- contract ----------------------------------------------------------------------------
    def temperature_c(self) -> float:
        self._check_sensor()
        return round(self.temperature, 1)

    def door(self) -> DoorState:
        return self._door_state()

    def set_door(self, open_: bool, timeout_s: float = 30.0) -> None:
        wanted = DoorState.OPEN if open_ else DoorState.CLOSED
        with self.world.lock:
            if self._door_state() is wanted:
                return
            if open_:
                self.check_door_may_open(self._program is not None)
            self._door_target = 1.0 if open_ else 0.0
        reached = self.world.wait_until(lambda: self._door_state() is wanted, timeout_s)
        if not reached:
            if self.door_jammed:
                raise DeviceError(
                    self.name, f"door did not reach {wanted.name.lower()} within {timeout_s:g} s (jammed)"
                )
            raise DeviceTimeoutError(self.name, f"door did not reach {wanted.name.lower()} within {timeout_s:g} s")

    def start_program(self, profile: HeatingProfile) -> None:
        profile.validate(self.limits)
        with self.world.lock:
            self._check_sensor()
            if self._program is not None:
                raise DeviceError(self.name, "a program is already running; stop it first")
            if self._door_state() is not DoorState.CLOSED:
                raise InterlockError(self.name, "door is not closed; close it before heating")
            walker = ProfileWalker(profile, self.limits, self.temperature)
            self._program, self._start_t, self._finished, self._integral = walker, self.world.time, False, 0.0

    def program(self) -> ProgramState:
        if self._program is None:
            return ProgramState(False, -1, round(self.temperature, 1), 0.0, self._finished)
        elapsed = self.world.time - self._start_t
        point = self._program.at(elapsed)
        return ProgramState(True, point.segment_index, point.setpoint_c, elapsed, False)

    def stop_program(self) -> None:
        with self.world.lock:
            self._program, self._finished, self._integral = None, False, 0.0

    def safe_stop(self) -> None:
        with self.world.lock:
            self._program, self._integral = None, 0.0

    # --- faults ------------------------------------------------------------------------------
    def fail_thermocouple(self) -> None:
        """Fault: sensor break; the controller switches its output off, as a real one does."""
        with self.world.lock:
            self.thermocouple_failed = True
            self._program = None

    def jam_door(self) -> None:
        """Fault: the door stops where it is and reports FAULT."""
        with self.world.lock:
            self.door_jammed = True

    def clear_faults(self) -> None:
        with self.world.lock:
            super().clear_faults()
            self.door_jammed = self.thermocouple_failed = False

    def status(self) -> DeviceStatus:
        fault = "thermocouple break" if self.thermocouple_failed else ("door jammed" if self.door_jammed else "")
        values: dict[str, float | str | bool] = {"door": self._door_state().name.lower()}
        if not self.thermocouple_failed:
            values["temperature_c"] = round(self.temperature, 2)
        state = "heating" if self._program is not None else "idle"
        return DeviceStatus(self.name, self.kind, True, state, DeviceError.code if fault else 0, fault, values)
