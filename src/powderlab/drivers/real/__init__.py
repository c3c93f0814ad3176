"""The real backend: drivers that speak the devices' own protocols.

| device kind | protocol (`connection.protocol`) | driver |
|---|---|---|
| arm | `opcua` (OPC UA Robotics layout, methods + subscriptions) | opcua_arm.OpcUaArm |
| mill | `opcua` (PLC node map) | opcua_mill.PlcMill |
| diffractometer | `opcua` (instrument server) | opcua_xrd.OpcUaDiffractometer |
| furnace | `eurotherm-modbus` (Modbus RTU controller + PLC door) | furnace.EurothermFurnace |
| balance | `mt-sics` (serial) | serial_balance.SicsBalance |
| powder_dispenser | `pdl` (serial line protocol, docs/hardware.md) | serial_dispenser.PdlDispenser |

Every device needs its `connection:`; there are no default endpoints. Options: `variables` (values
for `${NAME}` placeholders, see variables.py) and `base_dir` (where relative certificate paths start).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from powderlab.core.clock import Clock
from powderlab.core.errors import ValidationError
from powderlab.core.site import DeviceConfig, StationConfig
from powderlab.drivers.base import Device
from powderlab.drivers.real.furnace import EurothermFurnace
from powderlab.drivers.real.opcua_arm import OpcUaArm
from powderlab.drivers.real.opcua_mill import PlcMill
from powderlab.drivers.real.opcua_xrd import OpcUaDiffractometer
from powderlab.drivers.real.serial_balance import SicsBalance
from powderlab.drivers.real.serial_dispenser import PdlDispenser
from powderlab.drivers.real.variables import expand

DRIVERS: dict[tuple[str, str], Any] = {
    ("arm", "opcua"): OpcUaArm,
    ("mill", "opcua"): PlcMill,
    ("diffractometer", "opcua"): OpcUaDiffractometer,
    ("furnace", "eurotherm-modbus"): EurothermFurnace,
    ("balance", "mt-sics"): SicsBalance,
    ("powder_dispenser", "pdl"): PdlDispenser,
}

__all__ = ["DRIVERS", "build_device", "build_devices"]


def build_device(config: DeviceConfig, clock: Clock, options: Mapping[str, Any] | None = None) -> Device:
    """One real driver for a device, chosen by its kind and `connection.protocol`."""
    options = options or {}
    if not config.connection:
        raise ValidationError(
            f"device '{config.name}'", "has no connection: in the site profile; real endpoints have no defaults"
        )
    connection = expand(dict(config.connection), options.get("variables"))
    protocol = str(connection.get("protocol", ""))
    driver = DRIVERS.get((config.kind, protocol))
    if driver is None:
        allowed = sorted(p for kind, p in DRIVERS if kind == config.kind)
        raise ValidationError(
            f"device '{config.name}': connection.protocol",
            f"'{protocol}' is not a protocol for a {config.kind}; allowed: {', '.join(allowed)}",
        )
    base_dir = options.get("base_dir")
    return driver(dataclasses.replace(config, connection=connection), clock, Path(base_dir) if base_dir else None)


def build_devices(station: StationConfig, clock: Clock, options: Mapping[str, Any] | None = None) -> dict[str, Device]:
    """Real drivers for every device of a station (not connected yet)."""
    return {name: build_device(config, clock, options) for name, config in station.devices.items()}
