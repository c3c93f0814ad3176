"""The parts of the cell the scheduler routes samples through, read from the site profile."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from powderlab.core.errors import UnknownResourceError, ValidationError
from powderlab.core.positions import Position, furnace_of
from powderlab.core.site import SiteProfile


def _station(site: SiteProfile, kind: str) -> str:
    found = site.stations_of_kind(kind)
    if not found:
        raise UnknownResourceError(f"{kind} station in site '{site.name}'", kind, site.stations)
    return found[0].name


@dataclass(frozen=True)
class CellModel:
    """Stations, positions by role, furnace slots and arm reach of one site.

    Routes: storage -> balance -> clamp -> buffer (staging, arm_a side to arm_b side) -> furnace
    slot -> parking (done or buffer) -> XRD recovery -> done. Each leg must be one arm's move.
    """

    site: SiteProfile
    dosing: str
    milling: str
    furnace_station: str
    xrd: str
    transfer: str
    balance: str
    clamp: str
    recovery: str
    storage: tuple[str, ...]
    buffer: tuple[str, ...]
    done: tuple[str, ...]
    furnaces: dict[str, tuple[str, ...]]
    arms: dict[str, tuple[str, ...]]
    heads: tuple[str, ...] = ()  # powders on the dosing heads at the start (the site's)
    stored: tuple[str, ...] = ()  # powders of the dosing station's vial store on no head (ADR 0106)

    @staticmethod
    def from_site(site: SiteProfile, storage: str = "storage", buffer: str = "buffer", done: str = "done") -> CellModel:
        names = [spec.name for spec in site.positions()]

        def rack(prefix: str) -> tuple[str, ...]:
            found = tuple(n for n in names if Position.parse(n).owner == prefix)
            if not found:
                racks = sorted({Position.parse(n).owner for n in names})
                raise UnknownResourceError("rack", prefix, racks)
            return found

        furnace_station = _station(site, "furnace")
        furnaces = {
            device.name: tuple(Position.slot(device.name, i).name for i in range(1, int(device.get("slots", 8)) + 1))
            for device in site.station(furnace_station).devices_of_kind("furnace")
        }
        transfer = _station(site, "transfer")
        arms = {d.name: tuple(d.get("serves", ())) for d in site.station(transfer).devices_of_kind("arm")}
        dosing, milling, xrd = _station(site, "dosing"), _station(site, "milling"), _station(site, "xrd")
        cell = CellModel(
            site,
            dosing,
            milling,
            furnace_station,
            xrd,
            transfer,
            f"{dosing}/balance",
            f"{milling}/clamp",
            f"{xrd}/recovery",
            rack(storage),
            rack(buffer),
            rack(done),
            furnaces,
            arms,
            site.head_powders(),
            site.stored_powders(),
        )
        cell.check_routes()
        return cell

    def arm_for(self, source: str, destination: str) -> str:
        """The arm the transfer station uses for a direct move (the first that reaches both)."""
        for arm, patterns in self.arms.items():
            if any(fnmatch.fnmatchcase(source, p) for p in patterns) and any(
                fnmatch.fnmatchcase(destination, p) for p in patterns
            ):
                return arm
        raise ValidationError(
            "cell", f"no single arm reaches both '{source}' and '{destination}'; reach: {dict(self.arms)}"
        )

    def check_routes(self) -> None:
        """Every leg of the sample route must be one arm's move (so the scheduler knows the arm)."""
        slot = next(iter(self.furnaces.values()))[0]
        legs = [
            (self.storage[0], self.balance),
            (self.balance, self.clamp),
            (self.clamp, self.buffer[0]),
            (self.buffer[0], slot),
            (slot, self.done[0]),
            (slot, self.buffer[0]),
            (self.buffer[0], self.recovery),
            (self.done[0], self.recovery),
            (self.recovery, self.done[0]),
            (self.balance, self.done[0]),
            (self.clamp, self.done[0]),
        ]
        for source, destination in legs:
            self.arm_for(source, destination)

    @staticmethod
    def furnace_of(position: str) -> str:
        """The furnace whose slot this is ("" for any other position)."""
        return furnace_of(position)

    def is_rack(self, position: str, rack: tuple[str, ...]) -> bool:
        return position in rack
