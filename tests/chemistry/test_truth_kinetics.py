"""The hidden truth's precursor-sensitive chemistry (ADR 0113): nucleation needs driving force, and
a doped target forms only from a free dopant source."""

from __future__ import annotations

import pytest

from powderlab.chemistry.phases import default_library
from powderlab.chemistry.reactions import precursor_masses
from powderlab.chemistry.truth import SynthesisModel
from powderlab.chemistry.truth.doped import DOPED_ROLE, doped_phase, with_doped
from powderlab.core.errors import ValidationError
from powderlab.core.recipes import MillingSettings, a_lab_profile

DOPED = "Ni0.75Mg0.25TiO3"


@pytest.fixture(scope="module")
def doped_library():
    return with_doped(default_library(), [("NiTiO3", "MgTiO3", 0.25)])


def _masses(target: str, precursors: tuple[str, ...], library) -> dict[str, float]:
    return {d.powder: d.target_mg for d in precursor_masses(target, precursors, 1000.0, library=library)}


def test_doped_phase_is_the_host_with_a_substituted_site(doped_library) -> None:
    library = default_library()
    host, end = library.get("NiTiO3"), library.get("MgTiO3")
    doped = doped_library.get(DOPED)
    assert DOPED_ROLE in doped.roles and "target" in doped.roles
    assert doped.composition.almost_equals(doped.composition.__class__("Ni0.75Mg0.25TiO3"))
    assert doped.provenance["host"] == "NiTiO3" and doped.provenance["dopant"] == "Mg"

    def volume(p):
        s = p.structure()
        return s.volume / len(s)

    low, high = sorted([volume(host), volume(end)])
    assert low < volume(doped) < high  # Vegard's law between host and end member
    mix = 0.75 * host.energy_per_atom_ev + 0.25 * end.energy_per_atom_ev
    assert -0.02 < doped.energy_per_atom_ev - mix < 0.0  # configurational entropy, a few meV/atom
    with pytest.raises(ValidationError, match="one cation replaced"):
        doped_phase(host, library.get("BaTiO3"), 0.25)


def test_doped_target_forms_from_a_free_dopant_source_not_from_a_stable_intermediate(doped_library) -> None:
    model = SynthesisModel(0, library=doped_library)
    profile = a_lab_profile(1100.0, 4.0)
    free = model.react(_masses(DOPED, ("NiO", "MgO", "TiO2"), doped_library), profile, MillingSettings())
    locked = model.react(_masses(DOPED, ("NiO", "MgTiO3", "TiO2"), doped_library), profile, MillingSettings())
    assert free.yield_of(DOPED) > 0.6
    # the dopant already sits in the end member: the host forms undoped beside it
    assert locked.yield_of(DOPED) < 0.05
    assert locked.yield_of("NiTiO3") > 0.5 and locked.yield_of("MgTiO3") > 0.1


def test_a_step_with_little_driving_force_hardly_nucleates() -> None:
    """ZnO + Fe2O3 -> ZnFe2O4 drives ~52 meV/atom: the nucleation threshold slows it; BaCO3 + TiO2
    (~120 meV/atom) hardly notices."""
    profile = a_lab_profile(900.0, 0.5)
    spinel = {"ZnO": 162.8, "Fe2O3": 319.4}
    perovskite = {"BaCO3": 394.7, "TiO2": 159.7}
    with_threshold, without = SynthesisModel(0), SynthesisModel(0, kinetic_threshold_ev=0.0)
    slow = with_threshold.react(spinel, profile).yield_of("ZnFe2O4")
    assert slow < 0.6 * without.react(spinel, profile).yield_of("ZnFe2O4")
    assert with_threshold.react(perovskite, profile).yield_of("BaTiO3") == pytest.approx(
        without.react(perovskite, profile).yield_of("BaTiO3"), abs=0.05
    )
