"""One sample through every station, using only the lab's ROS actions.

storage -> dosing (dose) -> milling (mill) -> furnace (load, heat, unload) -> buffer -> XRD (measure)
-> done rack. Stops at the first failing step and says where the sample is.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from powderlab_interfaces import msg

from powderlab.core.errors import ErrorCode, OperationError, UnknownResourceError
from powderlab.core.recipes import Recipe
from powderlab.core.samples import SampleRef
from powderlab.core.site import SiteProfile
from powderlab.nodes.lab_client import LabClient, error_name
from powderlab.stations.dosing import DoseRequest
from powderlab.stations.furnace import HeatRequest, LoadRequest, UnloadRequest
from powderlab.stations.milling import MillRequest
from powderlab.stations.operations import operation_of
from powderlab.stations.transfer import TransferRequest
from powderlab.stations.xrd import MeasureRequest


@dataclass
class StepReport:
    """The result of one step."""

    index: int
    total: int
    station: str
    action: str
    description: str
    code: int
    message: str
    seconds: float
    result: Any = None  # the typed result (e.g. MeasureResult)

    @property
    def ok(self) -> bool:
        return self.code == ErrorCode.NONE

    def line(self) -> str:
        return (
            f"[{self.index}/{self.total}] {self.station}/{self.action}: {self.description} -> "
            f"{error_name(self.code)}: {self.message} ({self.seconds:.1f} s)"
        )


STEP_COUNT = 8


class SampleProcedure:
    """Runs one recipe on one crucible through a running lab."""

    def __init__(
        self, client: LabClient, site: SiteProfile, on_step: Callable[[StepReport], None] | None = None
    ) -> None:
        self.client = client
        self.site = site
        self.on_step = on_step
        self.reports: list[StepReport] = []
        self.names = {kind: self._station(kind) for kind in ("transfer", "dosing", "milling", "furnace", "xrd")}

    def _station(self, kind: str) -> str:
        stations = self.site.stations_of_kind(kind)
        if not stations:
            raise UnknownResourceError(f"{kind} station in site '{self.site.name}'", kind, self.site.stations)
        return stations[0].name

    def _free(self, prefix: str) -> str:
        positions = self.client.positions()
        for name, position in positions.items():
            if name.startswith(prefix) and position.state == msg.PositionState.EMPTY:
                return name
        raise OperationError(f"no free position '{prefix}*'", ErrorCode.NO_FREE_SLOT)

    def _fresh_crucible(self) -> tuple[str, str]:
        for name, position in self.client.positions().items():
            fresh = position.labware_id and not position.sample_id and position.state == msg.PositionState.OCCUPIED
            if name.startswith("storage/") and fresh:
                return name, position.labware_id
        raise OperationError("no clean crucible left in storage/*", ErrorCode.POSITION_EMPTY)

    def _step(self, request: Any, description: str) -> Any:
        """Run one typed request on the station of its operation's kind; its typed result."""
        op = operation_of(request)
        station = self.names[op.station_kind]
        started = time.monotonic()
        message, result = self.client.run_request(station, request)
        report = StepReport(
            len(self.reports) + 1,
            STEP_COUNT,
            station,
            op.name,
            description,
            message.error_code,
            message.error_msg,
            time.monotonic() - started,
            result,
        )
        self.reports.append(report)
        if self.on_step is not None:
            self.on_step(report)
        if not report.ok:
            raise OperationError(f"step {report.index} failed: {report.message}", ErrorCode(message.error_code))
        return result

    def run(self, recipe: Recipe, sample_id: str) -> list[StepReport]:
        """Run every step; raises OperationError at the first failure (reports hold what happened)."""
        source, crucible = self._fresh_crucible()
        sample = SampleRef(sample_id, crucible)
        balance = f"{self.names['dosing']}/balance"
        clamp = f"{self.names['milling']}/clamp"
        self._step(TransferRequest(sample, source, balance), f"{crucible} {source} -> {balance}")
        self._step(
            DoseRequest(sample, recipe.precursors),
            ", ".join(f"{d.powder} {d.target_mg:g} mg" for d in recipe.precursors),
        )
        self._step(TransferRequest(sample, balance, clamp), f"{crucible} {balance} -> {clamp}")
        milling = recipe.milling
        self._step(
            MillRequest(sample, milling.duration_s, milling.frequency_hz, milling.ball_count),
            f"{milling.duration_s:g} s at {milling.frequency_hz:g} Hz",
        )
        loaded = self._step(LoadRequest(sample, clamp), f"{crucible} {clamp} -> a free furnace slot")
        self._step(
            HeatRequest(loaded.furnace, recipe.heating),
            f"{loaded.furnace}: {len(recipe.heating.segments)} segments to {recipe.heating.max_temperature_c:g} C",
        )
        buffer = self._free("buffer/")
        self._step(UnloadRequest(sample, buffer), f"{crucible} {loaded.position} -> {buffer}")
        done = self._free("done/")
        self._step(MeasureRequest(sample, buffer, done, recipe.scan), f"{crucible} from {buffer}, then to {done}")
        return self.reports
