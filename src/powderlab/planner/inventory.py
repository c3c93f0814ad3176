"""The powders the lab can dose: the dosing heads of a site profile and its powder store (ADR 0106)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from powderlab.chemistry.phases import GAS_ELEMENTS, Phase, PhaseLibrary, default_library
from powderlab.core.errors import UnknownResourceError, ValidationError
from powderlab.core.site import SiteProfile


@dataclass(frozen=True)
class Inventory:
    """Powders on the shelf (library phase ids) and the elements they can bring into a crucible."""

    powders: tuple[str, ...]
    source: str = ""

    @staticmethod
    def from_site(site: str | Path | SiteProfile = "default") -> Inventory:
        """Every powder on a dosing head of the site, then every powder of its vial store.

        A stored powder is dosable: the campaign has the dosing station load its vial onto a head
        first (the `load_vial` operation).
        """
        profile = site if isinstance(site, SiteProfile) else SiteProfile.load(site)
        powders = [*profile.head_powders(), *profile.stored_powders()]
        if not powders:
            raise ValidationError(f"site {profile.name}", "has no dosing heads; the planner needs a powder inventory")
        return Inventory(tuple(dict.fromkeys(powders)), f"site profile {profile.name}")

    def phases(self, library: PhaseLibrary | None = None) -> list[Phase]:
        """The inventory's library phases (powders the library does not know are left out)."""
        library = library if library is not None else default_library()
        found = []
        for name in self.powders:
            try:
                found.append(library.find(name))
            except UnknownResourceError:
                continue
        return found

    def elements(self, library: PhaseLibrary | None = None) -> frozenset[str]:
        """Elements the lab can dose (besides O, C, H, N, which the furnace air exchanges)."""
        return frozenset().union(*(p.elements for p in self.phases(library))) - GAS_ELEMENTS

    def with_extra(self, extra: Iterable[str]) -> Inventory:
        return Inventory(tuple(dict.fromkeys([*self.powders, *extra])), self.source + " + extra powders")


def closed_elements(phase: Phase) -> frozenset[str]:
    """Elements of a phase other than those the furnace atmosphere exchanges (O, C, H, N)."""
    return phase.elements - GAS_ELEMENTS
