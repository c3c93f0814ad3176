"""The Robotiq 2F-85 / 2F-140 Modbus RTU register map (shared by driver and emulator).

Output registers (robot -> gripper, FC16) from 1000 (0x03E8), input registers (gripper -> robot,
FC04) from 2000 (0x07D0); each register holds two bytes, high byte first:

  out 1000: ACTION (rACT bit 0 activate, rGTO bit 3 go to, rATR bit 4 auto-release) | reserved
  out 1001: reserved | rPR position request (0 open .. 255 closed)
  out 1002: rSP speed | rFR force
  in 2000:  STATUS (gACT bit 0, gGTO bit 3, gSTA bits 4-5, gOBJ bits 6-7) | reserved
  in 2001:  gFLT fault | gPR position request echo
  in 2002:  gPO position | gCU current

gSTA: 0 in reset, 1 activating, 3 activated. gOBJ: 0 moving, 1 stopped opening on an object,
2 stopped closing on an object (a grasp), 3 at the requested position (no object).
"""

from __future__ import annotations

OUTPUT_BASE, INPUT_BASE = 1000, 2000
R_ACT, R_GTO, R_ATR = 0x01, 0x08, 0x10
STA_RESET, STA_ACTIVATING, STA_ACTIVE = 0, 1, 3
OBJ_MOVING, OBJ_OPENING_CONTACT, OBJ_CLOSING_CONTACT, OBJ_AT_POSITION = 0, 1, 2, 3
OPEN, CLOSED = 0, 255
FAULTS = {
    0x00: "no fault",
    0x05: "action delayed, activation must complete first",
    0x07: "activation bit must be set first",
    0x08: "maximum operating temperature exceeded",
    0x0A: "under minimum operating voltage",
    0x0B: "automatic release in progress",
    0x0C: "internal processor fault",
    0x0D: "activation fault (obstruction?)",
    0x0E: "overcurrent",
    0x0F: "automatic release completed",
}


def status_byte(active: int, go: bool, sta: int, obj: int) -> int:
    return (active & 1) | (R_GTO if go else 0) | ((sta & 3) << 4) | ((obj & 3) << 6)


def decode_status(byte: int) -> tuple[bool, bool, int, int]:
    """(activated bit, go-to bit, gSTA, gOBJ)."""
    return bool(byte & 1), bool(byte & R_GTO), (byte >> 4) & 3, (byte >> 6) & 3
