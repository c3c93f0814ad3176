"""The Eurotherm 2400/3200-style register map PowderLab uses (shared by driver and emulator).

Holding registers, 16-bit signed, temperatures and rates scaled x10 (one decimal):
  1 PV process value (C)          2 target setpoint (C)       3 working output (%)
  5 working setpoint (C)          23 programmer status (write 1 reset, 2 run; reads 1 reset,
                                     2 run, 4 hold, 16 complete)
  56 current segment (1-based, 0 none)     59 program elapsed time (min x10)
  74 fast status (bit 5: sensor break)
Program 1 (one program per furnace): 8192 = segment count; segment n (1..16) at 8192 + 8n:
  [type, target (C x10), rate (C/min x10), duration (min x10)]; types 0 end, 1 ramp at rate,
  3 dwell for duration, 7 natural cool (heaters off until PV <= target; a PowderLab extension,
  on a real 2400 a dwell with output high limit 0).
"""

from __future__ import annotations

PV, TARGET_SP, OUTPUT, WORKING_SP = 1, 2, 3, 5
PROGRAM_STATUS, CURRENT_SEGMENT, ELAPSED_MIN_X10, FAST_STATUS = 23, 56, 59, 74
STATUS_RESET, STATUS_RUN, STATUS_HOLD, STATUS_COMPLETE = 1, 2, 4, 16
SENSOR_BREAK_BIT = 1 << 5
PROGRAM_BASE, SEGMENT_WORDS, MAX_SEGMENTS = 8192, 8, 16
SEG_END, SEG_RAMP, SEG_DWELL, SEG_COOL = 0, 1, 3, 7


def to_register(value: float) -> int:
    """A value x10 as an unsigned 16-bit register (two's complement for negatives)."""
    scaled = round(value * 10)
    if not -32768 <= scaled <= 32767:
        raise ValueError(f"{value} does not fit a x10 16-bit register")
    return scaled & 0xFFFF


def from_register(raw: int) -> float:
    return (raw - 0x10000 if raw & 0x8000 else raw) / 10.0


def segment_address(number: int) -> int:
    return PROGRAM_BASE + SEGMENT_WORDS * number
