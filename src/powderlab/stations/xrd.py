"""XRD station: recover and grind the powder, load it on a holder, scan, unload."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

from powderlab.core.errors import ErrorCode, OperationError
from powderlab.core.recipes import ScanSettings
from powderlab.core.samples import SampleRef
from powderlab.core.xrd import XrdPattern
from powderlab.drivers.diffractometer import Diffractometer
from powderlab.stations.base import Station
from powderlab.stations.context import OperationContext


@dataclass(frozen=True)
class MeasureRequest:
    """Measure the powder of the crucible at source; scan None means the station defaults."""

    sample: SampleRef
    source: str = ""
    destination: str = ""
    scan: ScanSettings | None = None


@dataclass
class MeasureResult:
    """The pattern and what was put on the holder (no pattern: read back from a failed goal or the records)."""

    pattern: XrdPattern | None
    sample_mg: float
    holder_id: str


class XrdStation(Station):
    """Sample preparation and the diffractometer."""

    kind: ClassVar[str] = "xrd"
    operations: ClassVar[dict[str, str]] = {"measure_xrd": "measure"}
    default_parameters: ClassVar[dict[str, Any]] = {
        **Station.default_parameters,
        "recovery_position": "recovery",
        "grind_s": 60.0,
        "min_sample_mg": 20.0,
        "two_theta_start_deg": 10.0,
        "two_theta_end_deg": 100.0,
        "step_deg": 0.02,
        "scan_time_s": 480.0,
        "expected_handling_s": 60.0,  # for scheduling: recovering, loading and unloading the holder
    }

    @property
    def diffractometer(self) -> Diffractometer:
        return self.device_of(Diffractometer)

    def default_scan(self) -> ScanSettings:
        p = self.parameters
        return ScanSettings(
            float(p["two_theta_start_deg"]),
            float(p["two_theta_end_deg"]),
            float(p["step_deg"]),
            float(p["scan_time_s"]),
        )

    def measure(self, request: MeasureRequest, context: OperationContext) -> MeasureResult:
        diffractometer = self.diffractometer
        settings = request.scan or self.default_scan()
        diffractometer.check_scan(settings)
        recovery = self.own_position(str(self.parameters["recovery_position"]))
        if request.source and request.source != recovery:
            if self.cell is None:
                raise OperationError(f"station '{self.name}' has no cell to fetch the crucible with", ErrorCode.UNKNOWN)
            context.feedback(stage="fetching", progress=0.0)
            self.cell.transfer(request.sample, request.source, recovery, context)
        self.require_labware_at(recovery, request.sample)
        context.checkpoint()
        context.feedback(stage="recovering", progress=0.0)
        prepared = diffractometer.prepare(request.sample.labware_id or recovery, float(self.parameters["grind_s"]))
        minimum = float(self.parameters["min_sample_mg"])
        if prepared.sample_mg < minimum:
            raise OperationError(
                f"only {prepared.sample_mg:.1f} mg of powder recovered; a holder needs at least {minimum:.0f} mg "
                "(min_sample_mg)",
                ErrorCode.INSUFFICIENT_STOCK,
            )
        if request.destination and self.cell is not None:
            context.feedback(stage="returning_crucible", progress=0.0)
            self.cell.transfer(request.sample, recovery, request.destination, context)
        context.checkpoint()
        context.feedback(stage="loading", progress=0.0)
        diffractometer.load(prepared.holder_id)
        try:
            diffractometer.start_scan(settings)
            while True:
                state = diffractometer.scan_state()
                context.feedback(stage="scanning", progress=state.progress)
                if not state.scanning:
                    break
                context.sleep(context.slice_s)
            pattern = replace(diffractometer.result(), sample_id=request.sample.sample_id)
        except BaseException:
            diffractometer.abort_scan()
            raise
        finally:
            context.feedback(stage="unloading", progress=1.0)
            diffractometer.unload()
        context.feedback(stage="done", progress=1.0)
        return MeasureResult(pattern, prepared.sample_mg, prepared.holder_id)

    def estimate_s(self, operation: str, request: MeasureRequest) -> float:
        scan = request.scan or self.default_scan()
        return float(self.parameters["grind_s"]) + scan.scan_time_s + float(self.parameters["expected_handling_s"])

    def summary(self, operation: str, result: MeasureResult) -> str:
        points = result.pattern.two_theta_deg.size
        return f"scanned {points} points on {result.holder_id} ({result.sample_mg:.0f} mg)"
