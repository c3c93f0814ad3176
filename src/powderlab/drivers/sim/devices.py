"""Sim drivers: each device contract, forwarded to the twin's model of that device.

The contract's concrete helpers (reach checks, head_for, check_scan, tool_pose, move_tool, ...)
run here on top of the forwarded commands, exactly as for any backend. The link state is the
driver's own: a disconnected driver refuses commands and says so in its status.
"""

from __future__ import annotations

from typing import Any

from powderlab.core.errors import DeviceError
from powderlab.core.site import DeviceConfig
from powderlab.drivers.arm import Arm
from powderlab.drivers.balance import Balance
from powderlab.drivers.base import Device, DeviceStatus
from powderlab.drivers.diffractometer import Diffractometer
from powderlab.drivers.dispenser import PowderDispenser
from powderlab.drivers.furnace import Furnace
from powderlab.drivers.mill import Mill
from powderlab.drivers.sim.link import TwinLink


class SimDevice:
    """The link half of a sim driver."""

    name: str
    kind: str

    def __init__(self, config: DeviceConfig, clock: Any, link: TwinLink) -> None:
        super().__init__(config, clock)  # type: ignore[call-arg]
        self.link = link
        self._connected = False

    def connect(self) -> None:
        self.link.call(self.name, "status")  # the twin answers: the device is there
        self._connected = True

    def disconnect(self) -> None:
        self._connected = False

    @property
    def connected(self) -> bool:
        return self._connected

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        self.require_connected()  # type: ignore[attr-defined]
        return self.link.call(self.name, method, *args, **kwargs)

    def safe_stop(self) -> None:
        if self._connected:
            self.link.call(self.name, "safe_stop")

    def status(self) -> DeviceStatus:
        if not self._connected:
            return DeviceStatus(self.name, self.kind, False, "disconnected")
        try:
            return self.link.call(self.name, "status")
        except DeviceError as error:
            return DeviceStatus(self.name, self.kind, True, "no_answer", error.code, str(error))


def _forward(*names: str) -> dict[str, Any]:
    def make(method: str) -> Any:
        def call(self: SimDevice, *args: Any, **kwargs: Any) -> Any:
            return self._call(method, *args, **kwargs)

        call.__name__ = method
        call.__doc__ = f"Forwarded to the twin's {method}."
        return call

    return {name: make(name) for name in names}


def _sim_class(contract: type[Device], methods: tuple[str, ...]) -> type[Device]:
    name = f"Sim{contract.__name__}"
    doc = f"The {contract.kind} contract on the twin (commands forwarded over the link)."
    return type(name, (SimDevice, contract), {"__doc__": doc, "__module__": __name__, **_forward(*methods)})


SimBalance = _sim_class(Balance, ("read", "read_stable", "tare", "zero"))
SimPowderDispenser = _sim_class(PowderDispenser, ("heads", "dispense", "abort", "store", "load_vial"))
SimMill = _sim_class(Mill, ("set_clamp", "start", "stop", "state"))
SimFurnace = _sim_class(Furnace, ("temperature_c", "door", "set_door", "start_program", "program", "stop_program"))
SimDiffractometer = _sim_class(
    Diffractometer, ("prepare", "load", "unload", "start_scan", "scan_state", "result", "abort_scan")
)
SimArm = _sim_class(
    Arm, ("joint_positions", "move_joints", "move_to", "move_home", "gripper", "set_gripper", "stop", "reset")
)

SIM_CLASSES: dict[str, type[Device]] = {
    "balance": SimBalance,
    "powder_dispenser": SimPowderDispenser,
    "mill": SimMill,
    "furnace": SimFurnace,
    "diffractometer": SimDiffractometer,
    "arm": SimArm,
}
