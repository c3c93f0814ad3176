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
from powderlab.core.errors import UnknownResourceError
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
    """Mock devices for a station; a dispenser pours onto its station's balance.

    options["mock_state"] sets the simulated world per device before it is used, e.g.
    {"balance": {"unstable": true}, "dispenser": {"stock_mg": {"ZnO": 40}}, "arm_a": {"move_time_s": 20}}
    (see each mock's `apply_state`): how tests and demos provoke the faults a real device reports.
    """
    devices: dict[str, Device] = {name: MOCK_CLASSES[cfg.kind](cfg, clock) for name, cfg in station.devices.items()}
    balances = [d for d in devices.values() if isinstance(d, MockBalance)]
    for device in devices.values():
        if isinstance(device, MockPowderDispenser) and balances:
            device.balance = balances[0]
    state = dict((options or {}).get("mock_state") or {})
    unknown = sorted(set(state) - set(devices))
    if unknown:
        raise UnknownResourceError(f"device of station '{station.name}' in mock_state", unknown[0], devices)
    for name, settings in state.items():
        apply_state(devices[name], settings)
    return devices


def apply_state(device: Device, settings: Mapping[str, Any]) -> None:
    """Set a mock's world state from plain data; unknown keys name the allowed ones."""
    setters = getattr(device, "STATE_KEYS", {})
    for key, value in settings.items():
        if key not in setters:
            raise UnknownResourceError(f"mock_state key of {device.kind} '{device.name}'", key, setters)
        getattr(device, setters[key])(value)
