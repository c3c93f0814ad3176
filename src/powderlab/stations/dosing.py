"""Dosing station: gravimetric, closed-loop dosing of precursors into a crucible on the balance."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, ClassVar

from powderlab.core.errors import (
    ErrorCode,
    OperationError,
    PowderLabError,
    ValidationError,
)
from powderlab.core.recipes import PowderDose
from powderlab.core.samples import SampleRef
from powderlab.drivers.balance import Balance
from powderlab.drivers.dispenser import DoseSpeed, PartialDoseError, PowderDispenser
from powderlab.stations.base import ManualRequest, ManualResult, OperationFailedError, Station
from powderlab.stations.context import OperationContext


@dataclass(frozen=True)
class DoseRequest:
    """Dose these powders into the crucible at position (default: the station's balance)."""

    sample: SampleRef
    powders: tuple[PowderDose, ...]
    position: str = ""
    tolerance_rel: float = 0.0  # 0: station parameter
    tolerance_abs_mg: float = 0.0


@dataclass
class DoseRecord:
    """What went in for one powder."""

    powder: str
    target_mg: float
    actual_mg: float = 0.0
    within_tolerance: bool = False
    complete: bool = False


@dataclass
class DoseResult:
    """All powders of one dose; kept also when the dose stopped early."""

    doses: list[DoseRecord] = field(default_factory=list)

    @property
    def total_mg(self) -> float:
        return sum(d.actual_mg for d in self.doses)


@dataclass(frozen=True)
class WeighRequest:
    """Weigh the crucible at position (default: the station's balance), powder and all."""

    sample: SampleRef
    position: str = ""


@dataclass
class WeighResult:
    """The gross mass on the balance: the crucible and whatever is in it."""

    mass_mg: float


@dataclass(frozen=True)
class LoadVialRequest:
    """Load the store's vial of `powder` onto a dosing head; the head's vial goes back to the store (ADR 0106)."""

    powder: str
    replace: str = ""  # the powder whose head takes the vial (empty: the head with the least stock left)


@dataclass
class LoadVialResult:
    """Which head now holds the powder, and the vial that went back to the store."""

    powder: str
    head: int
    stock_mg: float  # in the vial now on the head
    returned_powder: str
    returned_stock_mg: float
    slot: int  # the store slot the returned vial went to


class DosingStation(Station):
    """Tare, then per powder: coarse dose, fine doses until within tolerance, stable reading, record."""

    kind: ClassVar[str] = "dosing"
    operations: ClassVar[dict[str, str]] = {"dose": "dose", "weigh": "weigh", "load_vial": "load_vial"}
    manual: ClassVar[dict[str, str]] = {"tare": "manual_tare"}
    default_parameters: ClassVar[dict[str, Any]] = {
        **Station.default_parameters,
        "tolerance_rel": 0.01,  # 1 % of target ...
        "tolerance_abs_mg": 0.5,  # ... or 0.5 mg, whichever is larger
        "coarse_fraction": 0.9,  # coarse dosing aims at this share of the target
        "max_fine_steps": 12,
        "stable_timeout_s": 15.0,
        "balance_position": "balance",
        "expected_s_per_powder": 90.0,  # for scheduling: tare, coarse, fine and settling of one powder
        "expected_s_per_vial": 60.0,  # for scheduling: the head changer swaps one vial
    }

    @property
    def balance(self) -> Balance:
        return self.device_of(Balance)

    @property
    def dispenser(self) -> PowderDispenser:
        return self.device_of(PowderDispenser)

    def tolerance_mg(self, target_mg: float, request: DoseRequest) -> float:
        rel = request.tolerance_rel or float(self.parameters["tolerance_rel"])
        absolute = request.tolerance_abs_mg or float(self.parameters["tolerance_abs_mg"])
        return max(rel * target_mg, absolute)

    def check_request(self, request: DoseRequest) -> None:
        """Reject a goal before anything is dispensed: unknown powders, short stock, bad masses."""
        if not request.powders:
            raise ValidationError("powders", "no powders to dose; give at least one powder and target_mg")
        needed: dict[str, float] = defaultdict(float)
        for dose in request.powders:
            needed[dose.powder] += dose.target_mg
        capacity = self.balance.capacity_mg
        if sum(needed.values()) > capacity:
            raise ValidationError(
                "powders",
                f"total {sum(needed.values()):.1f} mg exceeds the balance capacity {capacity:.0f} mg",
                code=ErrorCode.OUT_OF_RANGE,
            )
        for powder, mass in needed.items():
            head = self.dispenser.head_for(powder)  # UnknownResourceError names the powders held
            if mass > head.remaining_mg:
                raise OperationError(
                    f"not enough {powder}: {mass:.1f} mg needed, {head.remaining_mg:.1f} mg left in its head; "
                    "refill the head or lower the target",
                    ErrorCode.INSUFFICIENT_STOCK,
                )
            if mass > self.dispenser.max_dose_mg:
                raise ValidationError(
                    f"target_mg of {powder}",
                    f"{mass:.1f} mg is above the dispenser's maximum {self.dispenser.max_dose_mg:.0f} mg per dose",
                    code=ErrorCode.OUT_OF_RANGE,
                )

    def manual_tare(self, request: ManualRequest, context: OperationContext) -> ManualResult:
        """Tare the balance on its next stable reading (the station is held: never during a dose)."""
        tare = self.balance.tare(float(self.parameters["stable_timeout_s"]))
        return ManualResult(f"balance tared at {tare:.2f} mg", tare)

    def weigh(self, request: WeighRequest, context: OperationContext) -> WeighResult:
        """The gross mass of the crucible on the balance, e.g. to check a dose after the fact.

        The balance tares on this load (its tare is the gross mass); a dose tares again anyway.
        """
        position = request.position or self.own_position(str(self.parameters["balance_position"]))
        self.require_labware_at(position, request.sample)
        context.feedback(stage="settling")
        mass = self.balance.tare(float(self.parameters["stable_timeout_s"]))
        context.feedback(stage="done", mass_mg=mass)
        return WeighResult(mass)

    def load_vial(self, request: LoadVialRequest, context: OperationContext) -> LoadVialResult:
        """The head changer puts the stored vial of a powder on a head; the head's vial goes to the store."""
        heads = self.dispenser.heads()
        if any(head.powder == request.powder for head in heads):
            raise ValidationError("powder", f"{request.powder} is already on a dosing head; nothing to load")
        if request.replace:
            head = self.dispenser.head_for(request.replace)  # UnknownResourceError names the powders held
        elif heads:
            head = min(heads, key=lambda h: (h.remaining_mg, h.index))
        else:
            raise OperationError("the dispenser has no dosing head to load a vial onto", ErrorCode.UNKNOWN_RESOURCE)
        context.feedback(stage="swapping", powder=request.powder)
        returned = self.dispenser.load_vial(request.powder, head.index)
        loaded = self.dispenser.head_for(request.powder)
        context.feedback(stage="done", powder=request.powder)
        return LoadVialResult(
            request.powder, loaded.index, loaded.remaining_mg, returned.powder, returned.stock_mg, returned.slot
        )

    def dose(self, request: DoseRequest, context: OperationContext) -> DoseResult:
        position = request.position or self.own_position(str(self.parameters["balance_position"]))
        self.require_labware_at(position, request.sample)
        self.check_request(request)
        result = DoseResult([DoseRecord(d.powder, d.target_mg) for d in request.powders])
        timeout = float(self.parameters["stable_timeout_s"])
        try:
            context.feedback(stage="taring", powder="", powder_index=0, powder_count=len(request.powders))
            self.balance.tare(timeout)
            for index, (dose, record) in enumerate(zip(request.powders, result.doses, strict=True)):
                context.checkpoint()
                self._dose_one(dose, record, index, len(request.powders), request, context)
        except PartialDoseError as error:
            failing = next(r for r in result.doses if r.powder == error.powder and not r.complete)
            failing.actual_mg = self._net_of(failing, result, timeout, fallback=error.dispensed_mg)
            raise OperationFailedError(error, result) from error
        except PowderLabError as error:
            raise OperationFailedError(error, result) from error
        finally:
            self.dispenser.abort()
        missed = [r for r in result.doses if not r.within_tolerance]
        if missed:
            text = ", ".join(f"{r.powder} {r.actual_mg:.2f}/{r.target_mg:.2f} mg" for r in missed)
            raise OperationFailedError(
                OperationError(f"outside tolerance: {text}", ErrorCode.TOLERANCE_NOT_MET), result
            )
        context.feedback(stage="done", powder="", powder_index=len(request.powders), powder_count=len(request.powders))
        return result

    def _dose_one(
        self,
        dose: PowderDose,
        record: DoseRecord,
        index: int,
        count: int,
        request: DoseRequest,
        context: OperationContext,
    ) -> None:
        timeout = float(self.parameters["stable_timeout_s"])
        tolerance = self.tolerance_mg(dose.target_mg, request)
        start = self.balance.read_stable(timeout).mass_mg

        def report(stage: str, got: float) -> None:
            record.actual_mg = got
            context.feedback(
                stage=stage,
                powder=dose.powder,
                powder_index=index,
                powder_count=count,
                dispensed_mg=got,
                target_mg=dose.target_mg,
            )

        report("coarse", 0.0)
        coarse = dose.target_mg * float(self.parameters["coarse_fraction"])
        if dose.target_mg - coarse > tolerance:
            self.dispenser.dispense(dose.powder, coarse, DoseSpeed.COARSE)
        for _ in range(int(self.parameters["max_fine_steps"]) + 1):
            context.check()
            report("settling", record.actual_mg)
            got = self.balance.read_stable(timeout).mass_mg - start
            report("fine", got)
            missing = dose.target_mg - got
            if abs(missing) <= tolerance or missing < 0:
                break
            self.dispenser.dispense(dose.powder, missing, DoseSpeed.FINE)
        record.actual_mg = got
        record.within_tolerance = abs(dose.target_mg - got) <= tolerance
        record.complete = True

    def _net_of(self, record: DoseRecord, result: DoseResult, timeout: float, fallback: float) -> float:
        """The mass of the powder that ran dry, from the balance when it can still be read."""
        earlier = sum(r.actual_mg for r in result.doses if r.complete)
        try:
            return max(0.0, self.balance.read_stable(timeout).mass_mg - earlier)
        except PowderLabError:
            return fallback

    def estimate_s(self, operation: str, request: DoseRequest | WeighRequest | LoadVialRequest) -> float:
        if isinstance(request, WeighRequest):
            return float(self.parameters["stable_timeout_s"])  # one stable reading, at most
        if isinstance(request, LoadVialRequest):
            return float(self.parameters["expected_s_per_vial"])
        return float(self.parameters["expected_s_per_powder"]) * len(request.powders)

    def summary(self, operation: str, result: DoseResult | WeighResult | LoadVialResult) -> str:
        if isinstance(result, WeighResult):
            return f"{result.mass_mg:.2f} mg on the balance"
        if isinstance(result, LoadVialResult):
            return f"{result.powder} on head {result.head}; {result.returned_powder} back to store slot {result.slot}"
        return f"dosed {len(result.doses)} powders, {result.total_mg:.2f} mg in total"
