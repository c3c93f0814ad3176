"""Milling station: mill a sample for a duration at a frequency, behind the clamp interlock."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from powderlab.core.errors import PowderLabError
from powderlab.core.samples import SampleRef
from powderlab.drivers.mill import Mill
from powderlab.stations.base import Station
from powderlab.stations.context import OperationContext


@dataclass(frozen=True)
class MillRequest:
    """Mill the crucible at position (default: the station's clamp)."""

    sample: SampleRef
    duration_s: float
    frequency_hz: float
    ball_count: int = 0
    position: str = ""


@dataclass
class MillResult:
    """How long the sample was milled."""

    milled_s: float


class MillingStation(Station):
    """Clamp, mill with elapsed-time feedback, stop, unclamp; cancel and e-stop stop the mill."""

    kind: ClassVar[str] = "milling"
    operations: ClassVar[dict[str, str]] = {"mill": "mill"}
    default_parameters: ClassVar[dict[str, Any]] = {
        **Station.default_parameters,
        "clamp_position": "clamp",
        "expected_clamp_s": 10.0,  # for scheduling: clamping and unclamping
    }

    @property
    def mill_device(self) -> Mill:
        return self.device_of(Mill)

    def mill(self, request: MillRequest, context: OperationContext) -> MillResult:
        mill = self.mill_device
        mill.check_settings(request.frequency_hz, request.duration_s, request.ball_count)
        position = request.position or self.own_position(str(self.parameters["clamp_position"]))
        self.require_labware_at(position, request.sample)
        context.feedback(stage="clamping", elapsed_s=0.0, remaining_s=request.duration_s)
        mill.set_clamp(True)
        try:
            mill.start(request.frequency_hz, request.duration_s)
            while True:
                state = mill.state()
                context.feedback(
                    stage="milling",
                    elapsed_s=state.elapsed_s,
                    remaining_s=max(0.0, request.duration_s - state.elapsed_s),
                )
                if not state.running:
                    break
                context.sleep(min(context.slice_s, max(request.duration_s - state.elapsed_s, 0.001)))
            milled = mill.state().elapsed_s
        finally:
            context.feedback(stage="stopping")
            try:
                mill.stop()
                mill.set_clamp(False)
            except PowderLabError:
                mill.safe_stop()
                raise
        context.feedback(stage="done", elapsed_s=milled, remaining_s=0.0)
        return MillResult(milled)

    def estimate_s(self, operation: str, request: MillRequest) -> float:
        return float(request.duration_s) + float(self.parameters["expected_clamp_s"])

    def summary(self, operation: str, result: MillResult) -> str:
        return f"milled for {result.milled_s:.0f} s"
