"""A whole emulated cell from a site profile: one OPC UA server and one pty per serial device.

Every device with a `connection:` gets its emulator, built from the same profile the drivers
read (limits, heads, node ids), on one clock. The world hooks tests use (loads on the balance,
a jammed door, a protective stop) are the models' own methods, reached through `models`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from powderlab.core.clock import Clock
from powderlab.core.site import SiteProfile
from powderlab.drivers.mock.balance import MockBalance
from powderlab.drivers.mock.diffractometer import MockDiffractometer
from powderlab.drivers.mock.furnace import MockFurnace
from powderlab.drivers.mock.mill import MockMill
from powderlab.drivers.real.variables import expand
from powderlab.emulators.arm_model import ArmModel
from powderlab.emulators.dosing_unit import DosingUnitProtocol
from powderlab.emulators.eurotherm import EurothermBank
from powderlab.emulators.modbus_slave import ModbusRtuSlave
from powderlab.emulators.opcua_server import OpcUaEmulator, ServerSecurity
from powderlab.emulators.plc_model import DoorLogic, MillLogic, PlcModel
from powderlab.emulators.pty_device import PtyDevice
from powderlab.emulators.robotiq import RobotiqBank
from powderlab.emulators.sics_balance import SicsBalanceProtocol
from powderlab.emulators.xrd_server import XrdModel


@dataclass
class Models:
    """The emulated world, by device name."""

    arms: dict[str, ArmModel] = field(default_factory=dict)
    plc: PlcModel = field(default_factory=PlcModel)
    xrds: dict[str, XrdModel] = field(default_factory=dict)
    balances: dict[str, MockBalance] = field(default_factory=dict)
    dosing: dict[str, DosingUnitProtocol] = field(default_factory=dict)
    furnaces: dict[str, MockFurnace] = field(default_factory=dict)
    doors: dict[str, DoorLogic] = field(default_factory=dict)
    mills: dict[str, MockMill] = field(default_factory=dict)
    grippers: dict[str, RobotiqBank] = field(default_factory=dict)  # arm -> its tool gripper
    serial: dict[str, Any] = field(default_factory=dict)  # device -> its serial protocol object
    ports: dict[str, str] = field(default_factory=dict)  # device -> port path


def build_models(
    profile: SiteProfile,
    clock: Clock,
    variables: Mapping[str, Any] | None = None,
    arm_move_time_s: float = 1.0,
    door_time_s: float = 2.0,
) -> Models:
    """Emulator models for every connected device of the profile."""
    models = Models()
    for station in profile.stations.values():
        balance: MockBalance | None = None
        for config in station.devices.values():
            if config.kind == "balance" and config.connection:
                balance = MockBalance(config, clock)
        for config in station.devices.values():
            connection = expand(dict(config.connection), variables)
            if not connection:
                continue
            name = config.name
            if config.kind == "arm":
                node = str(connection.get("node", name))
                models.arms[node] = ArmModel(node, clock, move_time_s=arm_move_time_s)
                gripper = connection.get("gripper") or {}
                if gripper:
                    models.grippers[name] = bank = RobotiqBank(clock)
                    models.serial[f"{name}_gripper"] = ModbusRtuSlave(int(gripper.get("unit", 9)), bank)
                    models.ports[f"{name}_gripper"] = str(gripper.get("port", ""))
            elif config.kind == "mill":
                models.mills[name] = mill = MockMill(config, clock)
                mill.connect()
                models.plc.add(MillLogic(name, mill))
            elif config.kind == "diffractometer":
                models.xrds[str(connection.get("node", name))] = XrdModel(MockDiffractometer(config, clock))
            elif config.kind == "furnace":
                models.furnaces[name] = furnace = MockFurnace(config, clock)
                models.doors[name] = door = DoorLogic(name, furnace, clock, door_time_s)
                models.plc.add(door)
                controller = connection.get("controller") or {}
                models.serial[name] = ModbusRtuSlave(
                    int(controller.get("unit", 1)), EurothermBank(furnace, lambda d=door: d.door_closed)
                )
                models.ports[name] = str(controller.get("port", ""))
            elif config.kind == "balance":
                assert balance is not None
                models.balances[name] = balance
                models.serial[name] = SicsBalanceProtocol(balance)
                models.ports[name] = str(connection.get("port", ""))
            elif config.kind == "powder_dispenser":
                models.dosing[name] = unit = DosingUnitProtocol(config.get("heads", []), clock, balance)
                models.serial[name] = unit
                models.ports[name] = str(connection.get("port", ""))
    return models


def opcua_port(profile: SiteProfile, variables: Mapping[str, Any] | None = None) -> int | None:
    """The port of the profile's (first) OPC UA endpoint."""
    for station in profile.stations.values():
        for config in station.devices.values():
            connection = expand(dict(config.connection), variables)
            for part in (connection, connection.get("plc") or {}):
                if part.get("protocol") == "opcua":
                    return urlparse(str(part["endpoint"])).port
    return None


class EmulatedLab:
    """Every emulator of a profile, started and stopped together."""

    def __init__(
        self,
        profile: SiteProfile,
        clock: Clock,
        variables: Mapping[str, Any] | None = None,
        security: ServerSecurity | None = None,
        **model_options: Any,
    ) -> None:
        self.profile, self.clock, self.variables = profile, clock, dict(variables or {})
        self.model_options = model_options
        self.models = build_models(profile, clock, self.variables, **model_options)
        port = opcua_port(profile, self.variables)
        self.opcua: OpcUaEmulator | None = None
        if port is not None:
            m = self.models
            self.opcua = OpcUaEmulator(m.arms, m.plc, m.xrds, port=port, security=security)
        self.ptys = {
            name: PtyDevice(name, protocol, Path(self.models.ports[name]))
            for name, protocol in self.models.serial.items()
        }

    def start(self) -> dict[str, str]:
        """Start everything; returns what serves where (device or 'opcua' -> endpoint / port path)."""
        served: dict[str, str] = {}
        if self.opcua is not None:
            served["opcua"] = self.opcua.start()
        for name, pty in self.ptys.items():
            served[name] = f"{pty.start()} -> {pty.port}"
        return served

    def stop(self) -> None:
        for pty in self.ptys.values():
            pty.stop()
        if self.opcua is not None:
            self.opcua.stop()

    def reset(self, clock: Clock) -> None:
        """Fresh models on a new clock behind the same endpoints and ports (a clean cell)."""
        self.clock = clock
        self.models = build_models(self.profile, clock, self.variables, **self.model_options)
        if self.opcua is not None:
            self.opcua.replace_models(self.models.arms, self.models.plc, self.models.xrds)
        for name, pty in self.ptys.items():
            pty.protocol = self.models.serial[name]

    def sync(self) -> None:
        """One emulator tick now (after a clock jump)."""
        if self.opcua is not None:
            self.opcua.tick_now()
