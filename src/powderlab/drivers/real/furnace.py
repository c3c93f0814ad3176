"""Box furnace: an Eurotherm-style controller on Modbus RTU + its door on the cell PLC (OPC UA).

The controller runs the heating program itself (segments written into program 1, then RUN);
the driver checks the limits, the door and the hot-door interlock before it commands anything,
and the emulated PLC / controller enforce the same interlocks on their side.
"""

from __future__ import annotations

from pathlib import Path

from powderlab.core.clock import Clock
from powderlab.core.errors import DeviceError, DeviceTimeoutError, InterlockError
from powderlab.core.recipes import HeatingProfile, HeatingSegment, SegmentKind
from powderlab.core.site import DeviceConfig
from powderlab.drivers.base import DeviceStatus
from powderlab.drivers.furnace import DoorState, Furnace, ProgramState
from powderlab.drivers.real import eurotherm_map as m
from powderlab.drivers.real.modbus_link import ModbusLink
from powderlab.drivers.real.plc import PlcSignals

DOOR_SIGNALS = ("door_open_request", "door_open", "door_closed", "door_fault")


class EurothermFurnace(Furnace):
    """Temperature and programmer over Modbus RTU; the door through PLC signals."""

    def __init__(self, config: DeviceConfig, clock: Clock | None = None, base_dir: Path | None = None) -> None:
        super().__init__(config, clock)
        connection = config.connection
        controller = connection.get("controller") or {}
        plc = connection.get("plc") or {}
        self.modbus = ModbusLink(self.name, controller)
        self.plc = PlcSignals(self.name, plc, DOOR_SIGNALS, base_dir)
        self._last_status: DeviceStatus | None = None

    def connect(self) -> None:
        self.modbus.open()
        try:
            self.modbus.read(m.PV)
            self.plc.link.connect()
        except DeviceError:
            self.modbus.close()
            raise

    def disconnect(self) -> None:
        self.plc.link.disconnect()
        self.modbus.close()

    @property
    def connected(self) -> bool:
        return self.modbus.is_open and self.plc.link.connected

    # --- controller ---
    def temperature_c(self) -> float:
        self.require_connected()
        pv, *_ = self.modbus.read(m.PV, 1)
        (fast,) = self.modbus.read(m.FAST_STATUS, 1)
        if fast & m.SENSOR_BREAK_BIT:
            raise DeviceError(self.name, "thermocouple open circuit (sensor break); replace the thermocouple")
        return m.from_register(pv)

    def program(self) -> ProgramState:
        self.require_connected()
        (status,) = self.modbus.read(m.PROGRAM_STATUS)
        (setpoint,) = self.modbus.read(m.WORKING_SP)
        (segment,) = self.modbus.read(m.CURRENT_SEGMENT)
        (elapsed,) = self.modbus.read(m.ELAPSED_MIN_X10)
        running = status == m.STATUS_RUN
        return ProgramState(
            running,
            segment - 1 if running else -1,
            m.from_register(setpoint),
            m.from_register(elapsed) * 60.0 if running else 0.0,
            status == m.STATUS_COMPLETE,
        )

    def start_program(self, profile: HeatingProfile) -> None:
        self.require_connected()
        profile.validate(self.limits)
        if len(profile.segments) > m.MAX_SEGMENTS:
            raise DeviceError(self.name, f"{len(profile.segments)} segments; the controller holds {m.MAX_SEGMENTS}")
        if self.program().running:
            raise DeviceError(self.name, "a program is already running; stop it first")
        if self.door() is not DoorState.CLOSED:
            raise InterlockError(self.name, "door is not closed; close it before heating")
        self.modbus.write(m.PROGRAM_BASE, [len(profile.segments)])
        for number, segment in enumerate(profile.segments, start=1):
            self.modbus.write(m.segment_address(number), self._segment_words(segment))
        if len(profile.segments) < m.MAX_SEGMENTS:
            self.modbus.write(m.segment_address(len(profile.segments) + 1), [m.SEG_END, 0, 0, 0])
        self.modbus.write(m.PROGRAM_STATUS, [m.STATUS_RUN])
        if not self.program().running:
            raise DeviceError(self.name, "the controller did not start the program (check its run input)")

    @staticmethod
    def _segment_words(segment: HeatingSegment) -> list[int]:
        if segment.kind is SegmentKind.RAMP:
            return [m.SEG_RAMP, m.to_register(segment.target_c), m.to_register(segment.rate_c_per_min), 0]
        if segment.kind is SegmentKind.DWELL:
            return [m.SEG_DWELL, 0, 0, m.to_register(segment.duration_min)]
        return [m.SEG_COOL, m.to_register(segment.target_c), 0, 0]

    def stop_program(self) -> None:
        self.require_connected()
        self.modbus.write(m.PROGRAM_STATUS, [m.STATUS_RESET])

    def safe_stop(self) -> None:
        if self.modbus.is_open:
            self.stop_program()

    # --- door ---
    def door(self) -> DoorState:
        self.require_connected()
        if self.plc.get("door_fault"):
            return DoorState.FAULT
        if self.plc.get("door_open"):
            return DoorState.OPEN
        if self.plc.get("door_closed"):
            return DoorState.CLOSED
        return DoorState.MOVING

    def set_door(self, open_: bool, timeout_s: float = 30.0) -> None:
        self.require_connected()
        wanted = DoorState.OPEN if open_ else DoorState.CLOSED
        if self.door() is wanted:
            return
        if open_:
            self.check_door_may_open(self.program().running)
        self.plc.write_bool("door_open_request", open_)
        switch = "door_open" if open_ else "door_closed"
        try:
            self.plc.link.wait_for(
                lambda: bool(self.plc.cached(switch)), timeout_s, self.clock, f"door {wanted.name.lower()}"
            )
        except DeviceTimeoutError:
            jammed = " (PLC reports a door fault: jammed?)" if self.plc.cached("door_fault") else ""
            raise DeviceError(
                self.name, f"door did not reach {wanted.name.lower()} within {timeout_s:g} s{jammed}"
            ) from None

    def status(self) -> DeviceStatus:
        """Three register reads and the door from the PLC cache. While another thread talks to the
        controller (an operation), the last status is returned instead of queueing behind it."""
        if not self.connected:
            fault = self.modbus.last_error or self.plc.link.last_error
            return DeviceStatus(self.name, self.kind, False, "disconnected", fault=fault)
        if not self.modbus.lock.acquire(blocking=False):
            return self._last_status or DeviceStatus(self.name, self.kind, True, "busy")
        try:
            (pv,) = self.modbus.read(m.PV)
            (fast,) = self.modbus.read(m.FAST_STATUS)
            (program,) = self.modbus.read(m.PROGRAM_STATUS)
            values: dict[str, float | str | bool] = {"temperature_c": round(m.from_register(pv), 1)}
            values["door"] = self.door().name.lower()
        except DeviceError as error:
            return DeviceStatus(self.name, self.kind, self.connected, "fault", error.code, str(error))
        finally:
            self.modbus.lock.release()
        if fast & m.SENSOR_BREAK_BIT:
            fault = "thermocouple open circuit (sensor break)"
            status = DeviceStatus(self.name, self.kind, True, "fault", DeviceError.code, fault, values)
        else:
            state = "heating" if program == m.STATUS_RUN else "idle"
            status = DeviceStatus(self.name, self.kind, True, state, values=values)
        self._last_status = status
        return status
