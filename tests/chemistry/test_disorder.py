"""Order-disorder check: a predicted ordered structure matched against disordered known phases."""

from __future__ import annotations

from powderlab.chemistry.disorder import DisorderRule, check_library_phase, check_order_disorder
from powderlab.chemistry.phases import PhaseLibrary, default_library


def small_library(*ids: str) -> PhaseLibrary:
    library = default_library()
    return PhaseLibrary([library.get(i) for i in ids])


def test_an_ordered_rock_salt_is_a_child_of_a_disordered_rock_salt() -> None:
    layered = default_library().get("LiCoO2").structure()  # R-3m: Li and Co ordered on rock-salt sites
    check = check_order_disorder(layered, small_library("ZnO", "NiO", "Al2O3"))
    assert check.matched
    assert [m.parent_id for m in check.matches] == ["NiO"]  # rock salt; wurtzite ZnO is not its parent
    assert check.matches[0].mixed_site == "(Co0.5Li0.5)"
    assert check.compared == ("NiO", "ZnO")  # Al2O3 has another metal-to-oxygen ratio
    assert "NiO" in check.matches[0].describe() and "disordered" in check.matches[0].describe()


def test_no_parent_with_another_framework() -> None:
    layered = default_library().get("LiCoO2").structure()
    check = check_order_disorder(layered, small_library("ZnO"))
    assert not check.matched and check.compared == ("ZnO",)


def test_metals_that_cannot_share_a_site_are_not_matched() -> None:
    layered = default_library().get("LiCoO2").structure()
    strict = DisorderRule(max_radius_mismatch=0.05)
    check = check_order_disorder(layered, small_library("NiO"), rule=strict)
    assert not check.matched and "too different" in check.note


def test_library_phases_spinel_and_perovskite() -> None:
    assert check_library_phase("MgAl2O4").matched  # normal / inverse spinel: cation disorder is known
    perovskite = check_library_phase("SrTiO3")  # A and B cations of a perovskite do not mix
    assert not perovskite.matched and "too different" in perovskite.note
