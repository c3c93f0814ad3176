"""The mock backend: instant, deterministic devices whose state mirrors the commands sent.

Like ros2_control's mock_components/GenericSystem: everything above the drivers runs unchanged
with no hardware and no simulator. Durations still follow the injected clock, so a station that
waits ten minutes of milling waits ten minutes of *its clock* (a VirtualClock makes that instant).
Each mock also has a few test hooks (add_load, set_temperature, trigger_protective_stop, ...) that
the contract tests use to provoke the faults a real device would report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from powderlab.core.clock import Clock
from powderlab.core.site import StationConfig
from powderlab.drivers.base import Device
from powderlab.drivers.mock.arm import MockArm
from powderlab.drivers.mock.balance import MockBalance
from powderlab.drivers.mock.diffractometer import MockDiffractometer
from powderlab.drivers.mock.dispenser import MockPowderDispenser
from powderlab.drivers.mock.furnace import MockFurnace
from powderlab.drivers.mock.mill import MockMill

MOCK_CLASSES: dict[str, type[Device]] = {
    "balance": MockBalance,
    "powder_dispenser": MockPowderDispenser,
    "mill": MockMill,
    "furnace": MockFurnace,
    "diffractometer": MockDiffractometer,
    "arm": MockArm,
}

__all__ = [
    "MOCK_CLASSES",
    "MockArm",
    "MockBalance",
    "MockDiffractometer",
    "MockFurnace",
    "MockMill",
    "MockPowderDispenser",
    "build_devices",
]


def build_devices(station: StationConfig, clock: Clock, options: Mapping[str, Any] | None = None) -> dict[str, Device]:
    """Mock devices for a station; a dispenser pours onto its station's balance."""
    devices: dict[str, Device] = {name: MOCK_CLASSES[cfg.kind](cfg, clock) for name, cfg in station.devices.items()}
    balances = [d for d in devices.values() if isinstance(d, MockBalance)]
    for device in devices.values():
        if isinstance(device, MockPowderDispenser) and balances:
            device.balance = balances[0]
    return devices
