"""An Eurotherm 2400/3200-style temperature controller (register map in drivers.real.eurotherm_map).

Physics: the mock furnace (programmer + Newton cooling on the emulator clock). The run input is
wired to the PLC's door switch: a program starts only with the door closed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from powderlab.core.errors import PowderLabError
from powderlab.core.recipes import HeatingProfile, HeatingSegment, SegmentKind
from powderlab.drivers.mock.furnace import MockFurnace
from powderlab.drivers.real import eurotherm_map as m


class EurothermBank:
    """The controller's registers over the mock furnace."""

    def __init__(self, physics: MockFurnace, door_closed: Callable[[], bool] = lambda: True) -> None:
        self.physics, self.door_closed = physics, door_closed
        self.physics.connect()
        self.program_words: dict[int, int] = {}
        self.last_error = ""
        self._lock = threading.RLock()

    def tick(self) -> None:
        """The mock furnace computes its state from the clock when asked."""

    def _profile(self) -> HeatingProfile:
        count = self.program_words.get(m.PROGRAM_BASE, 0)
        segments = []
        for number in range(1, count + 1):
            base = m.segment_address(number)
            kind, target, rate, duration = (self.program_words.get(base + i, 0) for i in range(4))
            if kind == m.SEG_RAMP:
                segments.append(
                    HeatingSegment(
                        SegmentKind.RAMP, target_c=m.from_register(target), rate_c_per_min=m.from_register(rate)
                    )
                )
            elif kind == m.SEG_DWELL:
                segments.append(HeatingSegment(SegmentKind.DWELL, duration_min=m.from_register(duration)))
            elif kind == m.SEG_COOL:
                segments.append(HeatingSegment(SegmentKind.COOL, target_c=m.from_register(target)))
            elif kind == m.SEG_END:
                break
            else:
                raise ValueError(f"segment type {kind}")
        return HeatingProfile(tuple(segments))

    def read(self, address: int, count: int, function: int) -> list[int]:
        with self._lock:
            return [self._read_one(a) for a in range(address, address + count)]

    def _read_one(self, address: int) -> int:
        p = self.physics
        program = p.program()
        if address == m.PV:
            return m.to_register(p.chamber_temperature_c())
        if address in (m.TARGET_SP, m.WORKING_SP):
            return m.to_register(program.setpoint_c)
        if address == m.OUTPUT:
            return m.to_register(100.0 if program.running else 0.0)
        if address == m.PROGRAM_STATUS:
            if program.running:
                return m.STATUS_RUN
            return m.STATUS_COMPLETE if program.finished else m.STATUS_RESET
        if address == m.CURRENT_SEGMENT:
            return program.segment_index + 1 if program.running else 0
        if address == m.ELAPSED_MIN_X10:
            return m.to_register(program.elapsed_s / 60.0) if program.running else 0
        if address == m.FAST_STATUS:
            return m.SENSOR_BREAK_BIT if p.thermocouple_failed else 0
        if m.PROGRAM_BASE <= address < m.segment_address(m.MAX_SEGMENTS + 1):
            return self.program_words.get(address, 0)
        raise KeyError(address)

    def write(self, address: int, values: list[int]) -> None:
        with self._lock:
            for offset, value in enumerate(values):
                self._write_one(address + offset, value)

    def _write_one(self, address: int, value: int) -> None:
        if m.PROGRAM_BASE <= address < m.segment_address(m.MAX_SEGMENTS + 1):
            if self.physics.program().running:
                raise ValueError("program data is locked while a program runs")
            self.program_words[address] = value
        elif address == m.PROGRAM_STATUS:
            if value == m.STATUS_RUN:
                if not self.door_closed():
                    raise ValueError("run input blocked: door not closed")
                try:
                    self.physics.start_program(self._profile())
                except PowderLabError as error:
                    self.last_error = str(error)
                    raise ValueError(str(error)) from None
            elif value == m.STATUS_RESET:
                self.physics.stop_program()
            else:
                raise ValueError(f"programmer status {value}")
        else:
            raise KeyError(address)
