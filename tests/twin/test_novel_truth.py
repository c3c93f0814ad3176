"""Predicted compounds in the twin's hidden world: the diffractometer sees what really forms (a
disordered variant, an impurity), the analysis only the prediction; some predictions are unstable."""

from __future__ import annotations

import numpy as np
from pymatgen.core import Structure

from powderlab.chemistry.phases import Phase, PhaseLibrary, default_library
from powderlab.chemistry.truth.novel import NovelWorld, true_reflections
from powderlab.chemistry.truth.world import World
from powderlab.chemistry.xrd.simulate import SimulationOptions, simulate_pattern
from powderlab.core.recipes import ScanSettings
from powderlab.twin.chemistry import TwinChemistry
from powderlab.twin.items import SampleTruth


def predicted(prototype: str, old: str, new: str) -> Phase:
    structure = default_library().get(prototype).structure().copy()
    structure.replace_species({old: new})
    formula = structure.composition.reduced_formula
    return Phase.from_structure(f"new-{formula}", Structure.from_sites(structure), roles=("candidate",))


def with_phases(*phases: Phase) -> PhaseLibrary:
    library = default_library().copy()
    for phase in phases:
        library.add(phase, replace=True)
    return library


def test_the_diffractometer_sees_the_disordered_variant_not_the_prediction() -> None:
    layered = predicted("LiCoO2", "Co", "Y")  # LiYO2, layered like LiCoO2
    library = with_phases(layered)
    fate = NovelWorld(1).fate(layered, library)
    assert fate.kind == "disordered" and fate.disordered_parent  # seed 1 hides a rock-salt LiYO2
    settings = ScanSettings()
    pattern = TwinChemistry(1, library).pattern(SampleTruth(phases_mg={layered.phase_id: 40.0}), settings, seed=5)
    options = SimulationOptions(peak_counts=8200.0)
    truly = simulate_pattern(
        {layered.phase_id: 1.0},
        settings,
        options,
        seed=5,
        references={layered.phase_id: true_reflections(layered, fate)},
    )
    as_predicted = simulate_pattern({layered.phase_id: 1.0}, settings, options, seed=5, library=library)
    assert np.array_equal(pattern.intensity, truly.intensity)
    assert not np.array_equal(pattern.intensity, as_predicted.intensity)
    # the ordering's superstructure reflections are gone: fewer reflections than the prediction
    assert len(true_reflections(layered, fate).d_spacing) < len(library.reflections(layered.phase_id).d_spacing)


def test_unstable_predictions_carry_a_hidden_energy_offset() -> None:
    olivine = predicted("LiMnPO4", "Li", "Na")  # NaMnPO4 (olivine-type)
    fate = NovelWorld(1).fate(olivine, with_phases(olivine))
    assert fate.kind == "not stable" and fate.energy_offset_ev >= 0.02
    assert World(1).energy_offset(olivine) == fate.energy_offset_ev  # what the synthesis model uses


def test_the_twin_world_holds_the_candidates_of_its_file(tmp_path) -> None:
    """A live twin gets the campaign's candidate library by path (ADR 0109): the launch option, the
    twin node's parameter, and the world whose hidden truth gives each candidate its fate."""
    from powderlab.chemistry.candidates import save_candidate
    from powderlab.cli.campaign import backend_options
    from powderlab.core.site import SiteProfile
    from powderlab.twin.options import twin_parameters
    from powderlab.twin.world import World

    layered = predicted("LiCoO2", "Co", "Y")  # LiYO2: seed 1 hides a rock-salt (disordered) LiYO2
    path = save_candidate(tmp_path / "candidates.json", layered)
    assert twin_parameters(backend_options("sim", 0.0, str(path)), 0.0, "default")["candidates"] == str(path)
    assert "candidates" not in twin_parameters(backend_options("sim", 0.0), 0.0, "default")
    world = World(SiteProfile.load("default"), seed=1, candidates=str(path))
    try:
        assert "candidate" in world.chemistry.library.get(layered.phase_id).roles
        settings = ScanSettings()
        pattern = world.chemistry.pattern(SampleTruth(phases_mg={layered.phase_id: 40.0}), settings, seed=5)
        fate = NovelWorld(1).fate(layered, world.chemistry.library)
        truly = simulate_pattern(
            {layered.phase_id: 1.0},
            settings,
            SimulationOptions(peak_counts=8200.0),
            seed=5,
            references={layered.phase_id: true_reflections(layered, fate)},
        )
        assert fate.kind == "disordered" and np.array_equal(pattern.intensity, truly.intensity)
    finally:
        world.close()
    bare = World(SiteProfile.load("default"), seed=1)
    try:
        assert bare.chemistry.library is None  # no file: the packaged library
    finally:
        bare.close()
