"""Modbus RTU master over a serial port (pymodbus): framing, CRC, timeouts and retries by pymodbus.

Errors become lab errors naming the device and the register: no reply after the retries ->
DeviceTimeoutError, an exception response -> DeviceError with the Modbus exception code, a port
that fails -> DeviceDisconnectedError (reopened on the next request after a backoff).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from pymodbus import FramerType
from pymodbus.client import ModbusSerialClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException

from powderlab.core.errors import DeviceDisconnectedError, DeviceError, DeviceTimeoutError, ValidationError

logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # every retry would log an error otherwise

EXCEPTION_CODES = {1: "illegal function", 2: "illegal data address", 3: "illegal data value", 4: "device failure"}


class ModbusLink:
    """One Modbus RTU unit on a serial port."""

    def __init__(self, device: str, connection: Mapping[str, Any]) -> None:
        port = connection.get("port")
        if not port:
            raise ValidationError(f"{device}: connection.port", "a serial port path is required")
        self.device, self.port = device, str(port)
        self.unit = int(connection.get("unit", 1))
        self.client = ModbusSerialClient(
            self.port,
            framer=FramerType.RTU,
            baudrate=int(connection.get("baudrate", 19200)),
            parity=str(connection.get("parity", "N")),
            stopbits=int(connection.get("stopbits", 1)),
            timeout=float(connection.get("timeout_s", 0.3)),
            retries=int(connection.get("retries", 2)),
        )
        self.lock = threading.RLock()
        self._wanted = False
        self._open = False
        self._next_open = 0.0
        self.last_error = ""

    def open(self) -> None:
        with self.lock:
            self._wanted = True
            if self._open:
                return
            if not self.client.connect():
                self._next_open = time.monotonic() + 0.5
                self.last_error = f"cannot open serial port {self.port}"
                raise DeviceDisconnectedError(self.device, self.last_error)
            self._open, self.last_error = True, ""

    def close(self) -> None:
        with self.lock:
            self._wanted, self._open = False, False
            self.client.close()

    @property
    def is_open(self) -> bool:
        with self.lock:
            if not self._open and self._wanted and time.monotonic() >= self._next_open:
                try:
                    self.open()
                except DeviceDisconnectedError:
                    pass
            return self._open

    def _call(self, what: str, function: str, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            if not self.is_open:
                raise DeviceDisconnectedError(self.device, f"Modbus port {self.port} is not open ({self.last_error})")
            try:
                response = getattr(self.client, function)(*args, device_id=self.unit, **kwargs)
            except ModbusIOException as error:
                raise DeviceTimeoutError(
                    self.device, f"{what}: no valid reply from unit {self.unit} ({error})"
                ) from None
            except (ConnectionException, OSError) as error:
                self._open = False
                self.client.close()
                self._next_open = time.monotonic() + 0.5
                self.last_error = str(error)
                raise DeviceDisconnectedError(
                    self.device, f"{what}: port {self.port} failed ({error}); outcome unknown"
                ) from None
            except ModbusException as error:
                raise DeviceError(self.device, f"{what}: {error}") from None
            if response.isError():
                code = getattr(response, "exception_code", 0)
                raise DeviceError(
                    self.device,
                    f"{what}: unit {self.unit} answered exception {code} ({EXCEPTION_CODES.get(code, 'unknown')})",
                )
            return response

    def read(self, address: int, count: int = 1, inputs: bool = False) -> list[int]:
        function = "read_input_registers" if inputs else "read_holding_registers"
        return list(self._call(f"reading register {address}", function, address, count=count).registers)

    def write(self, address: int, values: list[int]) -> None:
        if len(values) == 1:
            self._call(f"writing register {address}", "write_register", address, values[0])
        else:
            self._call(f"writing registers {address}..{address + len(values) - 1}", "write_registers", address, values)
