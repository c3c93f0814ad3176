"""What every device model in the twin shares: it lives in the world and is always powered."""

from __future__ import annotations

from typing import TYPE_CHECKING

from powderlab.core.site import DeviceConfig

if TYPE_CHECKING:
    from powderlab.twin.world import World


class TwinDevice:
    """Mixin for the twin's side of a device: the link (connect/disconnect) belongs to the sim driver."""

    world: World

    def __init__(self, world: World, config: DeviceConfig) -> None:
        from powderlab.twin.world import TwinClock

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
