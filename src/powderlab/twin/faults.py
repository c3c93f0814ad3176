"""Fault injection: scenario files (sim/faults/*.yaml) that break the twin's devices as real ones break.

A scenario lists faults, each with a kind, the device it hits and when (`at_s` of sim time from
when the scenario is applied; 0 = at once). Kinds and what the driver then reports:

| kind | device | the driver raises |
|---|---|---|
| dropped_crucible | arm | DeviceError: object lost during the next carrying move (at `fraction`) |
| stuck_door | furnace | DeviceError: door did not reach open/closed (jammed); door() is FAULT |
| balance_drift | balance | UnstableReadingError: drift of `mg_per_s` keeps readings from settling |
| thermocouple_failure | furnace | DeviceError: thermocouple open circuit; the controller ends its program |
| protective_stop | arm | ProtectiveStopError: stops during the next move (at `fraction`), until reset |
| clogged_head | powder_dispenser | DeviceError: head with `powder` blocked, no powder flow |
| comm_loss | any | DeviceTimeoutError on every command (`for_s` seconds, default for ever) |
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from powderlab.core.errors import UnknownResourceError, ValidationError
from powderlab.core.resources import data_path
from powderlab.twin.devices.base import FaultTarget, UnsupportedFaultError

if TYPE_CHECKING:
    from powderlab.twin.world import World

KINDS = (
    "dropped_crucible",
    "stuck_door",
    "balance_drift",
    "thermocouple_failure",
    "protective_stop",
    "clogged_head",
    "comm_loss",
)  # each is a method of the devices' fault API (FaultTarget.FAULT_METHODS; a test checks they match)


@dataclass(frozen=True)
class Fault:
    """One fault of a scenario."""

    kind: str
    device: str
    at_s: float = 0.0
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """A named list of faults."""

    name: str
    description: str
    faults: tuple[Fault, ...]

    @staticmethod
    def load(name_or_path: str | Path) -> Scenario:
        path = Path(name_or_path)
        if path.suffix not in (".yaml", ".yml"):
            path = data_path("sim", "faults", f"{name_or_path}.yaml")
        if not path.is_file():
            known = sorted(p.stem for p in data_path("sim", "faults").glob("*.yaml"))
            raise UnknownResourceError("fault scenario", str(name_or_path), known)
        return parse_scenario(yaml.safe_load(path.read_text()), path.stem)


def parse_scenario(data: Any, name: str = "scenario") -> Scenario:
    if not isinstance(data, Mapping) or not isinstance(data.get("faults"), list):
        raise ValidationError(f"fault scenario {name}", "must be a mapping with a 'faults' list")
    faults = []
    for index, entry in enumerate(data["faults"]):
        kind = entry.get("kind")
        if kind not in KINDS:
            raise ValidationError(
                f"{name}.faults[{index}].kind", f"'{kind}' is not a fault kind; allowed: {', '.join(KINDS)}"
            )
        settings = {k: v for k, v in entry.items() if k not in ("kind", "device", "at_s")}
        faults.append(Fault(kind, str(entry["device"]), float(entry.get("at_s", 0.0)), settings))
    return Scenario(str(data.get("name", name)), str(data.get("description", "")), tuple(faults))


class FaultInjector:
    """Applies scenarios to a world, at once or when sim time reaches each fault's at_s."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.pending: list[tuple[float, Fault]] = []
        self.applied: list[Fault] = []
        world.add_hook(self._tick)

    def schedule(self, scenario: Scenario | str | Path) -> None:
        if not isinstance(scenario, Scenario):
            scenario = Scenario.load(scenario)
        with self.world.lock:
            for fault in scenario.faults:  # every fault fits its device before any applies
                self._target(fault)
            for fault in scenario.faults:
                if fault.at_s <= 0:
                    self.apply(fault)
                else:
                    self.pending.append((self.world.time + fault.at_s, fault))

    def _tick(self, time_s: float) -> None:
        due = [entry for entry in self.pending if entry[0] <= time_s]
        for entry in due:
            self.pending.remove(entry)
            self.apply(entry[1])

    def apply(self, fault: Fault) -> None:
        """Break a device now, through its public fault API (twin/devices/base.py: FaultTarget)."""
        device = self._target(fault)
        settings = fault.settings
        with self.world.lock:
            if fault.kind == "comm_loss":
                device.lose_comm(self.world.time + float(settings.get("for_s", float("inf"))))
            elif fault.kind == "dropped_crucible":
                device.drop_next_carry(float(settings.get("fraction", 0.5)))
            elif fault.kind == "protective_stop":
                device.stop_during_next_move(float(settings.get("fraction", 0.3)))
            elif fault.kind == "stuck_door":
                device.jam_door()
            elif fault.kind == "thermocouple_failure":
                device.fail_thermocouple()
            elif fault.kind == "balance_drift":
                device.drift(float(settings.get("mg_per_s", 0.5)))
            elif fault.kind == "clogged_head":
                device.clog_head(str(settings["powder"]))
            self.applied.append(fault)

    def clear(self, device: str) -> None:
        """Repair a device (a technician fixed it)."""
        with self.world.lock:
            if device not in self.world.devices:
                raise UnknownResourceError("device to repair", device, sorted(self.world.devices))
            model = self.world.devices[device]
            if isinstance(model, FaultTarget):
                model.clear_faults()

    def _target(self, fault: Fault) -> FaultTarget:
        """The device a fault hits, refused (before anything breaks) when it cannot fail that way."""
        device = self.world.devices.get(fault.device)
        if device is None:
            raise UnknownResourceError("device of a fault", fault.device, sorted(self.world.devices))
        if not isinstance(device, FaultTarget):  # e.g. the technician: people, not a device that breaks
            raise UnsupportedFaultError(fault.device, fault.kind, [])
        device.check_fault(fault.kind)
        return device
