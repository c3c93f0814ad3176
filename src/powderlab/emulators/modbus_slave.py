"""A Modbus RTU slave for a pty: framing, CRC-16/MODBUS, functions 03, 04, 06 and 16.

Frames with a wrong CRC are dropped silently (as a real slave does: the master times out and
retries); bytes that start no valid frame are skipped one at a time until a frame lines up.
Registers come from a RegisterBank (a device's register map).
"""

from __future__ import annotations

import struct
from typing import Protocol


def crc16(data: bytes) -> int:
    """CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def with_crc(body: bytes) -> bytes:
    return body + struct.pack("<H", crc16(body))


class RegisterBank(Protocol):
    """A device's registers; raise KeyError for an address it does not have."""

    def read(self, address: int, count: int, function: int) -> list[int]: ...

    def write(self, address: int, values: list[int]) -> None: ...

    def tick(self) -> None: ...


class ModbusRtuSlave:
    """The slave side of Modbus RTU for one unit id."""

    def __init__(self, unit: int, bank: RegisterBank) -> None:
        self.unit, self.bank = unit, bank
        self._buffer = b""
        self.bad_crc = 0
        self.frames = 0

    def tick(self) -> None:
        self.bank.tick()

    @staticmethod
    def _frame_length(buffer: bytes) -> int | None:
        if len(buffer) < 2:
            return None
        function = buffer[1]
        if function in (3, 4, 6):
            return 8
        if function == 16:
            return None if len(buffer) < 7 else 9 + buffer[6]
        return 4  # unknown function: shortest frame; answered with exception 01 if its CRC fits

    def feed(self, data: bytes) -> bytes:
        self._buffer += data
        out = b""
        while True:
            length = self._frame_length(self._buffer)
            if length is None or len(self._buffer) < length:
                return out
            candidate = self._buffer[:length]
            if crc16(candidate[:-2]) != struct.unpack("<H", candidate[-2:])[0]:
                self.bad_crc += 1
                self._buffer = self._buffer[1:]  # resync
                continue
            self._buffer = self._buffer[length:]
            if candidate[0] == self.unit:
                self.frames += 1
                out += self.answer(candidate[:-2])

    def answer(self, body: bytes) -> bytes:
        unit, function = body[0], body[1]
        try:
            if function in (3, 4):
                address, count = struct.unpack(">HH", body[2:6])
                values = self.bank.read(address, count, function)
                payload = b"".join(struct.pack(">H", v & 0xFFFF) for v in values)
                return with_crc(bytes([unit, function, len(payload)]) + payload)
            if function == 6:
                address, value = struct.unpack(">HH", body[2:6])
                self.bank.write(address, [value])
                return with_crc(body)
            if function == 16:
                address, count = struct.unpack(">HH", body[2:6])
                values = [struct.unpack(">H", body[7 + 2 * i : 9 + 2 * i])[0] for i in range(count)]
                self.bank.write(address, values)
                return with_crc(body[:6])
        except KeyError:
            return with_crc(bytes([unit, function | 0x80, 0x02]))  # illegal data address
        except ValueError:
            return with_crc(bytes([unit, function | 0x80, 0x03]))  # illegal data value
        return with_crc(bytes([unit, function | 0x80, 0x01]))  # illegal function
