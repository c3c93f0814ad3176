"""The reference library: size, coverage, provenance, lookups, CIF phases."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from powderlab.chemistry.phases import PhaseLibrary, default_library, phase_from_cif
from powderlab.core.errors import UnknownResourceError, ValidationError

ROOT = Path(__file__).resolve().parents[2]


def hardware_powders() -> list[str]:
    site = yaml.safe_load((ROOT / "hardware" / "default.yaml").read_text())
    heads = site["stations"]["dosing"]["devices"]["dispenser"]["heads"]
    return [head["powder"] for head in heads]


def test_library_has_at_least_150_compounds_with_energies_and_provenance() -> None:
    library = default_library()
    compounds = [p for p in library if "element" not in p.roles]
    assert len(compounds) >= 150
    for phase in library:
        assert phase.energy_per_atom_ev is not None, phase.phase_id
        assert phase.provenance["structure_source"], phase.phase_id
        assert "CHGNet" in phase.provenance["energy"]["protocol"], phase.phase_id


def test_library_covers_at_least_20_target_systems() -> None:
    systems = {"-".join(sorted(p.elements - {"O"})) for p in default_library().with_role("target")}
    assert len(systems) >= 20


def test_every_powder_of_the_reference_cell_is_a_precursor_with_thermal_data() -> None:
    library = default_library()
    for powder in hardware_powders():
        phase = library.find(powder)
        assert "precursor" in phase.roles, powder
        assert phase.melting_c is not None, powder
        assert phase.thermal["source"].startswith("CRC"), powder
        assert phase.tamman_c < phase.melting_c


def test_lookup_by_id_and_formula_and_system() -> None:
    library = default_library()
    assert library.find("TiO2").phase_id in ("TiO2", "TiO2_rutile")
    assert {p.phase_id for p in library.by_formula("CaCO3")} == {"CaCO3", "CaCO3_aragonite"}
    ids = {p.phase_id for p in library.in_system(["Li", "Co", "O"])}
    assert {"LiCoO2", "Co3O4", "CoO", "Li2O"} <= ids
    assert "Li" not in ids  # elements only on request


def test_unknown_phase_error_names_it_and_similar_ids() -> None:
    with pytest.raises(UnknownResourceError, match=r"unknown phase 'LiCoO3'.*LiCoO2"):
        default_library().get("LiCoO3")


def test_add_phase_from_cif(tmp_path: Path) -> None:
    cif = tmp_path / "rocksalt.cif"
    default_library().get("NiO").structure().to(filename=str(cif))
    library = default_library().copy()
    phase = library.add_cif(cif, phase_id="my_NiO", energy_per_atom_ev=-5.0)
    assert library.get("my_NiO") is phase
    assert phase.reduced_formula == "NiO"
    assert "my_NiO" not in default_library()
    assert len(library.reflections("my_NiO").d_spacing) > 5
    with pytest.raises(ValidationError, match="already in the library"):
        library.add_cif(cif, phase_id="my_NiO")


def test_bad_cif_error_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.cif"
    bad.write_text("data_x\n_cell_length_a 3.0\nthis is not a cif\n")
    with pytest.raises(ValidationError, match=r"broken\.cif"):
        phase_from_cif(bad)
    with pytest.raises(ValidationError, match="no such CIF file"):
        phase_from_cif(tmp_path / "missing.cif")


def test_library_round_trips_through_json(tmp_path: Path) -> None:
    import gzip
    import json

    library = default_library()
    path = tmp_path / "phases.json.gz"
    with gzip.open(path, "wt") as handle:
        json.dump({"meta": library.meta, "phases": [p.to_dict() for p in library]}, handle)
    again = PhaseLibrary.load(path)
    assert again.ids == library.ids
    assert again.get("LiCoO2").structure().composition == library.get("LiCoO2").structure().composition
