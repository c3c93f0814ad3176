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
)


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
            for fault in scenario.faults:
                if fault.device not in self.world.devices:
                    raise UnknownResourceError("device of a fault", fault.device, sorted(self.world.devices))
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
        """Break a device now."""
        device = self.world.devices[fault.device]
        kind, settings = fault.kind, fault.settings
        if kind == "comm_loss":
            device.comm_lost_until = self.world.time + float(settings.get("for_s", float("inf")))
        elif kind == "dropped_crucible":
            self.world.arms[fault.device].pending_drop_at = float(settings.get("fraction", 0.5))
        elif kind == "protective_stop":
            self.world.arms[fault.device].pending_stop_at = float(settings.get("fraction", 0.3))
        elif kind == "stuck_door":
            device.door_jammed = True
        elif kind == "thermocouple_failure":
            device.fail_thermocouple()
        elif kind == "balance_drift":
            device.drift_mg_per_s = float(settings.get("mg_per_s", 0.5))
        elif kind == "clogged_head":
            device.clogged.add(str(settings["powder"]))
        self.applied.append(fault)

    def clear(self, device: str) -> None:
        """Repair a device (a technician fixed it)."""
        with self.world.lock:
            model = self.world.devices[device]
            for attribute, value in (
                ("door_jammed", False),
                ("thermocouple_failed", False),
                ("drift_mg_per_s", 0.0),
                ("comm_lost_until", 0.0),
            ):
                if hasattr(model, attribute):
                    setattr(model, attribute, value)
            if hasattr(model, "clogged"):
                model.clogged.clear()
            if device in self.world.arms:
                arm = self.world.arms[device]
                arm.pending_drop_at = arm.pending_stop_at = None
