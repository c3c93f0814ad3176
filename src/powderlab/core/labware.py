"""Labware: the things arms carry and positions hold."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from powderlab.core.errors import ValidationError
from powderlab.core.units import require_name


class LabwareKind(StrEnum):
    """Kinds of labware a position may accept."""

    CRUCIBLE = "crucible"
    VIAL = "vial"
    XRD_HOLDER = "xrd_holder"


@dataclass(frozen=True)
class Labware:
    """One physical item with a unique id (engraved / barcoded in a real lab)."""

    labware_id: str
    kind: LabwareKind

    def __post_init__(self) -> None:
        require_name("labware_id", self.labware_id)
        object.__setattr__(self, "kind", parse_labware_kind(self.kind))


def parse_labware_kind(value: object) -> LabwareKind:
    """A LabwareKind from its name, or a ValidationError listing the kinds."""
    try:
        return LabwareKind(value)
    except ValueError:
        allowed = ", ".join(kind.value for kind in LabwareKind)
        raise ValidationError("labware kind", f"'{value}' is not a labware kind; allowed: {allowed}") from None
