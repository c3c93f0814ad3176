"""All stations of a site in one process, wired together (scripts, tests, the twin's harness)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from powderlab.core.clock import Clock, VirtualClock
from powderlab.core.errors import UnknownResourceError
from powderlab.core.site import SiteProfile
from powderlab.stations.base import Station
from powderlab.stations.factory import build_station
from powderlab.stations.transfer import LocalCell, TransferStation


class LocalLab:
    """Every station of a site, connected, sharing one clock and one position table."""

    def __init__(
        self,
        site: SiteProfile,
        backend: str = "mock",
        clock: Clock | None = None,
        parameters: Mapping[str, Mapping[str, Any]] | None = None,
        backend_options: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        """backend_options: per station, the backend's options (e.g. {"transfer": {"mock_state": ...}})."""
        self.site = site
        self.clock = clock or VirtualClock()
        parameters = parameters or {}
        transfers = site.stations_of_kind("transfer")
        if len(transfers) != 1:
            raise UnknownResourceError(
                "transfer station (exactly one is needed)", "transfer", [s.name for s in transfers]
            )
        options = backend_options or {}
        transfer = build_station(
            site,
            transfers[0].name,
            backend,
            self.clock,
            parameters.get(transfers[0].name),
            backend_options=options.get(transfers[0].name),
        )
        assert isinstance(transfer, TransferStation)
        self.cell = LocalCell(transfer)
        self.stations: dict[str, Station] = {transfer.name: transfer}
        for name in site.stations:
            if name not in self.stations:
                self.stations[name] = build_station(
                    site, name, backend, self.clock, parameters.get(name), self.cell, options.get(name)
                )
        for station in self.stations.values():
            station.connect()

    @property
    def transfer(self) -> TransferStation:
        return self.cell.transfer_station

    def __getitem__(self, name: str) -> Station:
        try:
            return self.stations[name]
        except KeyError:
            raise UnknownResourceError("station", name, self.stations) from None

    def estop(self, reason: str) -> None:
        for station in self.stations.values():
            station.estop(reason)

    def reset(self) -> None:
        for station in self.stations.values():
            station.reset()

    def close(self) -> None:
        for station in self.stations.values():
            station.safe_stop()
            station.disconnect()
