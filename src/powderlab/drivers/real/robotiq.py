"""A Robotiq 2F-style parallel gripper on Modbus RTU (register map in robotiq_map).

Used by the arm driver when its connection has `gripper: {protocol: robotiq-modbus, port, unit}`:
the gripper then hangs on the tool flange's RS-485 instead of going through the controller.
Activation on connect; close / open write a position request and wait (device clock) until
gOBJ says the motion ended; a grasp is "stopped closing on an object" (gOBJ 2).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from powderlab.core.clock import Clock, WallClock
from powderlab.core.errors import DeviceError, DeviceTimeoutError
from powderlab.drivers.arm import GripperState
from powderlab.drivers.real import robotiq_map as r
from powderlab.drivers.real.modbus_link import ModbusLink

POLL_S = 0.05


class RobotiqGripper:
    """The gripper of one arm."""

    def __init__(self, arm: str, connection: Mapping[str, Any], clock: Clock) -> None:
        self.name = f"{arm}/gripper"
        self.clock = clock
        self.link = ModbusLink(self.name, {"unit": 9, "baudrate": 115200, **connection})
        self.speed = int(connection.get("speed", 255))
        self.force = int(connection.get("force", 150))
        self.timeout_s = float(connection.get("timeout_s_motion", 5.0))

    @property
    def connected(self) -> bool:
        return self.link.is_open

    def connect(self) -> None:
        self.link.open()
        _, _, sta, _ = self._status()
        if sta != r.STA_ACTIVE:
            self.link.write(r.OUTPUT_BASE, [r.R_ACT << 8, 0, 0])
            # connect runs in the node's configure, where sim time may not advance: wait on the wall
            self._wait(lambda: self._status()[2] == r.STA_ACTIVE, "activation", WallClock())

    def disconnect(self) -> None:
        self.link.close()

    def _registers(self) -> list[int]:
        return self.link.read(r.INPUT_BASE, 3, inputs=True)

    def _status(self) -> tuple[bool, bool, int, int]:
        return r.decode_status(self._registers()[0] >> 8)

    def _fault(self) -> int:
        return self._registers()[1] >> 8

    def _wait(self, done: Any, what: str, clock: Clock | None = None) -> None:
        clock = clock or self.clock
        deadline = clock.now() + self.timeout_s
        wall_deadline = time.monotonic() + 2.0  # a fast device clock still leaves the line time to answer
        while not done():
            fault = self._fault()
            if fault not in (0x00, 0x0F):
                raise DeviceError(self.name, f"gripper fault 0x{fault:02X}: {r.FAULTS.get(fault, 'unknown')}")
            if clock.now() >= deadline and time.monotonic() >= wall_deadline:
                raise DeviceTimeoutError(self.name, f"gripper {what} did not finish within {self.timeout_s:g} s")
            clock.sleep(POLL_S)

    def state(self) -> GripperState:
        registers = self._registers()
        _, _, _, obj = r.decode_status(registers[0] >> 8)
        position = registers[2] >> 8
        requested = registers[1] & 0xFF
        closed = requested == r.CLOSED
        return GripperState(1.0 - position / 255.0, closed, closed and obj == r.OBJ_CLOSING_CONTACT)

    def set_closed(self, closed: bool) -> GripperState:
        target = r.CLOSED if closed else r.OPEN
        self.link.write(r.OUTPUT_BASE, [(r.R_ACT | r.R_GTO) << 8, target, (self.speed << 8) | self.force])

        def ended() -> bool:
            registers = self._registers()
            _, _, _, obj = r.decode_status(registers[0] >> 8)
            return (registers[1] & 0xFF) == target and obj != r.OBJ_MOVING

        self._wait(ended, "closing" if closed else "opening")
        return self.state()
