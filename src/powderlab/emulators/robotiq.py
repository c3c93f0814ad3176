"""A Robotiq 2F-style gripper for a pty (Modbus RTU, unit 9): activation, motion, object contact."""

from __future__ import annotations

import threading

from powderlab.core.clock import Clock
from powderlab.drivers.real import robotiq_map as r


class RobotiqBank:
    """The gripper's registers over a small model: the fingers move at a speed, stop on an object."""

    def __init__(self, clock: Clock, stroke_time_s: float = 0.6, object_at: int = 200) -> None:
        self.clock, self.stroke_time_s, self.object_at = clock, stroke_time_s, object_at
        self.grasp_finds_object = True
        self.fault = 0
        self.output = [0, 0, 0]
        self.sta = r.STA_RESET
        self.position = 0.0
        self._last = clock.now()
        self._activate_at: float | None = None
        self.obj = r.OBJ_AT_POSITION
        self._lock = threading.RLock()

    def tick(self) -> None:
        with self._lock:
            now = self.clock.now()
            elapsed, self._last = max(0.0, now - self._last), now
            action = self.output[0] >> 8
            if not action & r.R_ACT:
                self.sta, self._activate_at = r.STA_RESET, None
                return
            if self.sta == r.STA_RESET:
                self.sta, self._activate_at = r.STA_ACTIVATING, now + 0.2
            if self.sta == r.STA_ACTIVATING and self._activate_at is not None and now >= self._activate_at:
                self.sta = r.STA_ACTIVE
            if self.sta != r.STA_ACTIVE or not action & r.R_GTO or self.fault:
                return
            target = self.output[1] & 0xFF
            step = 255.0 * elapsed / self.stroke_time_s
            stop = target
            if target > self.position and self.grasp_finds_object and self.object_at < target:
                stop = self.object_at
            if abs(stop - self.position) <= step:
                self.position = float(stop)
                contact = stop != target
                self.obj = (
                    (r.OBJ_CLOSING_CONTACT if target > 0 else r.OBJ_OPENING_CONTACT) if contact else r.OBJ_AT_POSITION
                )
            else:
                self.position += step if stop > self.position else -step
                self.obj = r.OBJ_MOVING

    def read(self, address: int, count: int, function: int) -> list[int]:
        with self._lock:
            if function == 4 and address >= r.INPUT_BASE and address + count <= r.INPUT_BASE + 3:
                action = self.output[0] >> 8
                status = r.status_byte(action & r.R_ACT, bool(action & r.R_GTO), self.sta, self.obj)
                registers = [status << 8, (self.fault << 8) | (self.output[1] & 0xFF), int(self.position) << 8]
                return registers[address - r.INPUT_BASE : address - r.INPUT_BASE + count]
            if function == 3 and address >= r.OUTPUT_BASE and address + count <= r.OUTPUT_BASE + 3:
                return self.output[address - r.OUTPUT_BASE : address - r.OUTPUT_BASE + count]
            raise KeyError(address)

    def write(self, address: int, values: list[int]) -> None:
        with self._lock:
            if not (address >= r.OUTPUT_BASE and address + len(values) <= r.OUTPUT_BASE + 3):
                raise KeyError(address)
            for offset, value in enumerate(values):
                self.output[address - r.OUTPUT_BASE + offset] = value
            if self.output[0] >> 8 & r.R_GTO:
                self.obj = r.OBJ_MOVING
