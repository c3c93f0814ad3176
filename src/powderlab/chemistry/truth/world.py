"""The hidden parameters of one seeded world, drawn per phase or per pair from the seed.

Each value is drawn from a generator seeded by (seed, name), so it does not depend on the order
in which phases are met. Only truth.model uses these.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

from powderlab.chemistry.phases import Phase

DEFAULT_MELTING_C = 1600.0  # oxides without a tabulated melting point
ONSET_TAMMAN_FACTOR = 0.6  # reactions start near 0.6 Tm (K) of the lower-melting reactant
DOPED_ENERGY_SIGMA_SHARE = 0.3  # a doped phase's hidden energy error, as a share of energy_sigma_ev
GLASS_FORMERS = frozenset({"P", "Si", "B"})
# Volatile free phases: (loss per hour at the reference temperature, reference C, start C)
VOLATILITY = {
    "MoO3": (0.30, 800.0, 650.0),
    "Bi2O3": (0.06, 850.0, 750.0),
    "Li2O": (0.03, 1000.0, 850.0),
    "Li2CO3": (0.02, 850.0, 750.0),
    "K2O": (0.08, 900.0, 750.0),
    "K2CO3": (0.03, 900.0, 800.0),
    "Na2O": (0.03, 1000.0, 850.0),
    "V2O5": (0.02, 900.0, 750.0),
    "P2O5": (0.03, 1100.0, 950.0),  # condensed phosphates from NH4H2PO4 hold P until high T
}


def _rng(seed: int, *names: str) -> np.random.Generator:
    digest = hashlib.sha256("|".join([str(seed), *names]).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


@dataclass(frozen=True)
class World:
    """Hidden parameters of one seed."""

    seed: int
    energy_sigma_ev: float = 0.010
    unstable_target_share: float = 0.12
    unstable_offset_ev: tuple[float, float] = (0.03, 0.07)
    # nucleation threshold of a product (eV/atom; 0: none): A-Lab steps under ~50 meV/atom were
    # sluggish (Szymanski et al. 2023); drawn per product phase, lognormal sigma 0.2 (ADR 0113)
    kinetic_threshold_ev: float = 0.05
    kinetic_threshold_sigma: float = 0.2

    def energy_offset(self, phase: Phase) -> float:
        """Hidden error of the library energy (eV/atom); some targets are not really stable."""
        if "precursor" in phase.roles or "element" in phase.roles:
            return 0.0
        if "candidate" in phase.roles:  # a predicted compound: its hidden fate (truth/novel.py)
            from powderlab.chemistry.truth.novel import NovelWorld

            return NovelWorld(self.seed).energy_offset(phase)
        rng = _rng(self.seed, "energy", phase.phase_id)
        offset = float(rng.normal(0.0, self.energy_sigma_ev))
        if "doped" in phase.roles:  # an ideal-solution estimate from host and end member: a small error
            return offset * DOPED_ENERGY_SIGMA_SHARE
        if "target" in phase.roles and rng.random() < self.unstable_target_share:
            offset += float(rng.uniform(*self.unstable_offset_ev))
        return offset

    def nucleation_threshold_ev(self, phase: Phase) -> float:
        """Driving force (eV/atom) below which this product hardly nucleates (hidden, per phase)."""
        if self.kinetic_threshold_ev <= 0:
            return 0.0
        noise = float(_rng(self.seed, "nucleation", phase.phase_id).normal(0.0, self.kinetic_threshold_sigma))
        return self.kinetic_threshold_ev * math.exp(noise)

    def melting_c(self, phase: Phase) -> float:
        return float(phase.thermal.get("melting_c") or phase.thermal.get("decomposition_c") or DEFAULT_MELTING_C)

    def onset_c(self, a: Phase, b: Phase) -> float:
        """Temperature at which the pair starts to react (hidden; near the Tamman temperature)."""
        names = sorted([a.phase_id, b.phase_id])
        low_melting = min(self.melting_c(a), self.melting_c(b))
        tamman = ONSET_TAMMAN_FACTOR * (low_melting + 273.15) - 273.15
        noise = float(_rng(self.seed, "onset", *names).normal(0.0, 40.0))
        return float(np.clip(tamman + noise, 350.0, 1050.0))

    def transformation_onset_c(self, phase: Phase) -> float:
        """Below this a single phase neither decomposes nor takes up gas (kinetically frozen)."""
        noise = float(_rng(self.seed, "transformation", phase.phase_id).normal(0.0, 30.0))
        return max(150.0, 0.5 * (self.melting_c(phase) + 273.15) - 273.15 + noise)

    def rate_factor(self, a: Phase, b: Phase) -> float:
        names = sorted([a.phase_id, b.phase_id])
        return float(math.exp(_rng(self.seed, "rate", *names).normal(0.0, 0.5)))

    def crystallisation_c(self, phase: Phase) -> float:
        """Below this a freshly formed product stays amorphous (glass formers crystallise late)."""
        rng = _rng(self.seed, "amorphous", phase.phase_id)
        base = 0.42 * (self.melting_c(phase) + 273.15) - 273.15
        if phase.elements & GLASS_FORMERS:
            base += 250.0
        return float(base + rng.normal(0.0, 40.0))

    def volatility(self, phase: Phase) -> tuple[float, float, float] | None:
        return VOLATILITY.get(phase.phase_id)
