"""What really is in a crucible (hidden truth) and what a diffractometer records of a holder."""

from __future__ import annotations

import numpy as np

from powderlab.chemistry.phases import PhaseLibrary, default_library
from powderlab.chemistry.truth import SynthesisModel
from powderlab.chemistry.truth.novel import what_forms
from powderlab.chemistry.xrd.simulate import SimulationOptions, simulate_pattern
from powderlab.core.recipes import ScanSettings
from powderlab.core.xrd import XrdPattern
from powderlab.twin.items import Item, SampleTruth


class TwinChemistry:
    """Reacts each crucible's true contents over its recorded heat (once, cached) and simulates patterns."""

    def __init__(self, seed: int = 0, library: PhaseLibrary | None = None) -> None:
        self.seed = seed
        # the library of the hidden world: the packaged one, or a copy with predicted (candidate)
        # compounds, whose true fate (truth/novel.py) the diffractometer sees instead of the prediction
        self.library = library
        self._model: SynthesisModel | None = None

    @property
    def model(self) -> SynthesisModel:
        if self._model is None:
            self._model = SynthesisModel(self.seed, library=self.library)
        return self._model

    def phases_of(self, item: Item) -> tuple[dict[str, float], float]:
        """(crystalline phase id -> mg, amorphous mg) of what is in the item now."""
        truth = item.truth
        if truth.phases_mg is not None and truth.heated_points >= len(truth.history):
            return dict(truth.phases_mg), truth.amorphous_mg
        profile = truth.heating_profile()
        precursors = {k: v for k, v in truth.precursors_mg.items() if v > 0}
        if not precursors:
            return {}, 0.0
        if profile is None:
            library = default_library()
            phases: dict[str, float] = {}
            for name, mass in precursors.items():
                phase_id = library.find(name).phase_id
                phases[phase_id] = phases.get(phase_id, 0.0) + mass
            return phases, 0.0
        outcome = self.model.react(precursors, profile, truth.milling)
        truth.phases_mg = {p: m for p, m in outcome.phases_mg.items() if m > 0}
        truth.amorphous_mg = float(sum(outcome.amorphous_mg.values()))
        truth.heated_points = len(truth.history)
        return dict(truth.phases_mg), truth.amorphous_mg

    def pattern(self, truth: SampleTruth, settings: ScanSettings, seed: int) -> XrdPattern:
        phases = truth.phases_mg or {}
        total = sum(phases.values()) + truth.amorphous_mg
        if total <= 0:  # an empty holder: background and noise only
            rng = np.random.default_rng(seed)
            x = np.linspace(settings.two_theta_start_deg, settings.two_theta_end_deg, settings.point_count)
            background = 150.0 + 250.0 * np.exp(-(x - x[0]) / 12.0)
            return XrdPattern(x, rng.poisson(background).astype(float), 1.5406, settings)
        options = SimulationOptions(peak_counts=8000.0 * min(1.0, total / 40.0) + 200.0)
        library = self.library if self.library is not None else default_library()
        fractions, references = what_forms({p: m / total for p, m in phases.items()}, library, self.seed)
        return simulate_pattern(
            fractions,
            settings,
            options,
            seed=seed,
            amorphous_fraction=min(0.95, truth.amorphous_mg / total),
            library=library,
            references=references or None,
        )
