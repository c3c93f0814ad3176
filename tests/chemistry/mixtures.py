"""Seeded 1-3 phase mixtures over the library's chemical systems (shared by tests and the benchmark)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from powderlab.chemistry.phases import PhaseLibrary
from powderlab.chemistry.xrd.simulate import SimulationOptions

# Systems the lab works in: the sample's elements as the analysis gets them (precursors' C, H, N included).
SYSTEMS = (
    "Li,Co,O,C",
    "Li,Mn,O,C",
    "Li,Fe,P,O,C,H,N",
    "Ba,Ti,O,C",
    "Sr,Ti,O,C",
    "Ca,Ti,O,C",
    "Li,Ni,O,C",
    "Y,Fe,O",
    "La,Mn,O",
    "Mg,Al,O",
    "Zn,Fe,O",
    "Bi,Fe,O",
    "Li,Nb,O,C",
    "Ca,W,O,C",
    "Sr,Mo,O,C",
    "Ba,Zr,O,C",
    "Li,Ti,O,C",
    "K,Nb,O,C",
    "Co,Al,O",
    "Ni,Ti,O",
    "Zn,W,O",
    "Y,P,O,H,N",
    "Mg,Cr,O",
    "La,Ni,O",
    "Na,Fe,O,C",
    "Li,Cu,O,C",
    "Y,Al,O",
    "Zr,Si,O",
)


@dataclass(frozen=True)
class Mixture:
    """One test case: elements given to the analysis, true fractions, simulation options, seed."""

    elements: tuple[str, ...]
    fractions: dict[str, float]
    options: SimulationOptions
    seed: int
    label: str


def make_mixtures(library: PhaseLibrary, count: int, seed: int = 2024, hard_share: float = 0.34) -> list[Mixture]:
    """`count` mixtures of 1-3 phases (each >= 10 wt%); a share with larger strain, texture and noise."""
    rng = np.random.default_rng(seed)
    base = SimulationOptions()
    hard = replace(base, max_lattice_strain=0.006, preferred_orientation=(0.8, 1.0), peak_counts=3000.0)
    mixtures = []
    while len(mixtures) < count:
        system = SYSTEMS[len(mixtures) % len(SYSTEMS)]
        elements = tuple(system.split(","))
        phases = [p.phase_id for p in library.in_system(elements)]
        n = int(rng.integers(1, 4))
        chosen = [str(x) for x in rng.choice(phases, size=min(n, len(phases)), replace=False)]
        while True:
            weights = rng.dirichlet(np.ones(len(chosen)))
            if weights.min() >= 0.1:
                break
        is_hard = rng.random() < hard_share
        mixtures.append(
            Mixture(
                elements=elements,
                fractions=dict(zip(chosen, map(float, weights), strict=True)),
                options=hard if is_hard else base,
                seed=int(rng.integers(0, 2**31)),
                label="strained/textured/noisy" if is_hard else "standard",
            )
        )
    return mixtures


def score(mixture: Mixture, analysis: object) -> tuple[bool, float]:
    """(phase set right, mean absolute weight-fraction error over the union of phases)."""
    found = {p.phase_id: p.weight_fraction for p in analysis.phases}
    names = set(found) | set(mixture.fractions)
    errors = [abs(found.get(n, 0.0) - mixture.fractions.get(n, 0.0)) for n in names]
    return set(found) == set(mixture.fractions), float(np.mean(errors))
