"""What every device model in the twin shares: it lives in the world, is always powered, and breaks.

The fault API (`FaultTarget`) is the one way fault injection (twin/faults.py) acts on a device:
every model can lose its communication; the other faults are methods a model overrides when its
real counterpart can fail that way. A fault a model does not override is refused with an error
that names the device and the faults it does support.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from powderlab.core.errors import ValidationError
from powderlab.core.site import DeviceConfig
from powderlab.twin.clock import TwinClock

if TYPE_CHECKING:
    from powderlab.twin.world import World


class UnsupportedFaultError(ValidationError):
    """A fault asked of a device model that cannot fail that way."""

    def __init__(self, device: str, kind: str, supported: list[str]) -> None:
        super().__init__(
            f"fault {kind} on {device}",
            f"{device} cannot fail that way; its faults: {', '.join(supported) or 'none'}",
        )
        self.device, self.kind, self.supported = device, kind, supported


class FaultTarget:
    """The public fault interface of a twin device model (see module doc)."""

    # fault kind -> the method that injects it (the kinds of scenario files, twin/faults.py)
    FAULT_METHODS: ClassVar[dict[str, str]] = {
        "comm_loss": "lose_comm",
        "dropped_crucible": "drop_next_carry",
        "protective_stop": "stop_during_next_move",
        "stuck_door": "jam_door",
        "thermocouple_failure": "fail_thermocouple",
        "balance_drift": "drift",
        "clogged_head": "clog_head",
    }

    name: str
    comm_lost_until: float = 0.0  # sim time until which the device does not answer (the server reads it)

    @classmethod
    def supported_faults(cls) -> list[str]:
        """The fault kinds this model implements (comm_loss always)."""
        return [
            kind
            for kind, method in cls.FAULT_METHODS.items()
            if kind == "comm_loss" or getattr(cls, method) is not getattr(FaultTarget, method)
        ]

    def check_fault(self, kind: str) -> None:
        """Raise UnsupportedFaultError unless this model can fail with `kind`."""
        supported = self.supported_faults()
        if kind not in supported:
            raise UnsupportedFaultError(self.name, kind, supported)

    def _unsupported(self, kind: str) -> None:
        raise UnsupportedFaultError(self.name, kind, self.supported_faults())

    def lose_comm(self, until_s: float) -> None:
        """Stop answering until sim time until_s (inf: until repaired)."""
        self.comm_lost_until = until_s

    def drop_next_carry(self, fraction: float) -> None:
        """Lose the held object at `fraction` of the next carrying move (arms)."""
        self._unsupported("dropped_crucible")

    def stop_during_next_move(self, fraction: float) -> None:
        """Go into a protective stop at `fraction` of the next move (arms)."""
        self._unsupported("protective_stop")

    def jam_door(self) -> None:
        """The door neither opens nor closes (furnaces)."""
        self._unsupported("stuck_door")

    def fail_thermocouple(self) -> None:
        """The temperature sensor breaks (furnaces)."""
        self._unsupported("thermocouple_failure")

    def drift(self, mg_per_s: float) -> None:
        """Readings drift by mg_per_s and never settle (balances)."""
        self._unsupported("balance_drift")

    def clog_head(self, powder: str) -> None:
        """The dosing head of `powder` is blocked (powder dispensers)."""
        self._unsupported("clogged_head")

    def clear_faults(self) -> None:
        """Repair the device (a technician fixed it): every injected fault is gone."""
        self.comm_lost_until = 0.0


class TwinDevice(FaultTarget):
    """Mixin for the twin's side of a device: the link (connect/disconnect) belongs to the sim driver."""

    world: World

    def __init__(self, world: World, config: DeviceConfig) -> None:
        super().__init__(config, TwinClock(world))  # type: ignore[call-arg]
        self.world = world

    def connect(self) -> None:
        """The twin's devices are always on."""

    def disconnect(self) -> None:
        """The twin's devices are always on."""

    @property
    def connected(self) -> bool:
        return True

    def step(self, time_s: float, dt: float) -> None:
        """Integrate the device's physics over dt (default: nothing)."""
