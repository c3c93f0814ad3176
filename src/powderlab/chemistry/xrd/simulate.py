"""Simulated powder patterns of phase mixtures, as a diffractometer would record them.

Used by the digital twin's diffractometer and by the analysis tests. A pattern is the sum of the
phases' unit-weight profiles times their weight fractions, plus an amorphous hump, a smooth
background, and Poisson counting noise. Per-phase lattice strain, crystallite size, microstrain
and preferred orientation are drawn from the seeded generator within the given bounds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from powderlab.chemistry.phases import PhaseLibrary, default_library
from powderlab.chemistry.xrd.profile import Instrument, PhaseShape, phase_profile, scherrer_broadening_deg
from powderlab.chemistry.xrd.reflections import Reflections
from powderlab.core.errors import ValidationError
from powderlab.core.recipes import ScanSettings
from powderlab.core.xrd import XrdPattern

AMORPHOUS_CENTRE_D = 3.6  # A; silicate / oxide glasses scatter around here
AMORPHOUS_FWHM_DEG = 9.0


@dataclass(frozen=True)
class SimulationOptions:
    """Sample and instrument effects; strains and sizes are drawn per phase within these bounds."""

    instrument: Instrument = field(default_factory=Instrument)
    peak_counts: float = 8000.0  # counts at the strongest point of the pattern (before background)
    background_counts: float = 150.0  # flat part of the background
    background_low_angle: float = 250.0  # extra background decaying from low angles
    max_lattice_strain: float = 0.003  # |delta d / d| drawn uniformly per phase
    crystallite_size_nm: tuple[float, float] = (60.0, 300.0)
    max_microstrain_deg: float = 0.02
    preferred_orientation: tuple[float, float] = (0.9, 1.0)  # March-Dollase r drawn per phase
    zero_shift_deg: float = 0.0
    sample_displacement: float = 0.0  # specimen displacement over goniometer radius (s / R)
    noise: bool = True

    def ideal(self) -> SimulationOptions:
        """The same instrument with no strain, texture or noise (for references and tests)."""
        return replace(
            self, max_lattice_strain=0.0, preferred_orientation=(1.0, 1.0), noise=False, max_microstrain_deg=0.0
        )


def simulate_pattern(
    fractions: Mapping[str, float],
    scan: ScanSettings | None = None,
    options: SimulationOptions | None = None,
    *,
    seed: int | None = 0,
    amorphous_fraction: float = 0.0,
    library: PhaseLibrary | None = None,
    references: Mapping[str, Reflections] | None = None,
    sample_id: str = "",
    record_truth: bool = False,
) -> XrdPattern:
    """A pattern of phases (library id -> weight fraction, normalised) and an amorphous share.

    `references` supplies Reflections for names not in the library (e.g. phases read from CIFs).
    `record_truth` writes the drawn fractions, strains and textures into the metadata (tests and
    debugging only: a twin must not hand the truth to the analysis with the pattern).
    """
    scan = scan or ScanSettings()
    options = options or SimulationOptions()
    library = library if library is not None else default_library()
    rng = np.random.default_rng(seed)
    if not 0.0 <= amorphous_fraction < 1.0:
        raise ValidationError("amorphous_fraction", f"{amorphous_fraction:g}; allowed: 0 to below 1")
    crystalline = {name: float(w) for name, w in fractions.items() if w > 0}
    if not crystalline and amorphous_fraction <= 0:
        raise ValidationError("fractions", "no phase with a positive fraction; give at least one")
    for name, weight in fractions.items():
        if not math.isfinite(weight) or weight < 0:
            raise ValidationError(f"fraction of {name}", f"{weight!r}; allowed: a number >= 0")
    total = sum(crystalline.values())
    x = np.linspace(scan.two_theta_start_deg, scan.two_theta_end_deg, scan.point_count)
    signal = np.zeros_like(x)
    truth = {}
    for name in sorted(crystalline):
        reflections = (
            references[name] if references and name in references else library.reflections(library.get(name).phase_id)
        )
        shape = _draw_shape(rng, options, reflections)
        weight = (1.0 - amorphous_fraction) * crystalline[name] / total
        signal += weight * phase_profile(
            x,
            reflections,
            options.instrument,
            shape,
            zero_shift_deg=options.zero_shift_deg,
            displacement=options.sample_displacement,
        )
        truth[name] = f"w={weight:.4f} scale={shape.lattice_scale:.5f} po={shape.preferred_orientation:.3f}"
    if amorphous_fraction > 0:
        signal += amorphous_fraction * _amorphous_profile(x, options.instrument, signal, 1.0 - amorphous_fraction)
    peak_max = float(signal.max()) if signal.max() > 0 else 1.0
    counts = signal * (options.peak_counts / peak_max)
    background = options.background_counts + options.background_low_angle * np.exp(-(x - x[0]) / 12.0)
    expected = counts + background
    observed = rng.poisson(expected).astype(float) if options.noise else expected
    metadata = {f"truth:{k}": v for k, v in truth.items()} if record_truth else {}
    if record_truth:
        metadata["truth:amorphous_fraction"] = f"{amorphous_fraction:.4f}"
    return XrdPattern(
        x,
        observed,
        wavelength_angstrom=options.instrument.wavelengths[0][0],
        settings=scan,
        sample_id=sample_id,
        instrument="powderlab simulated diffractometer",
        metadata=metadata,
    )


def _draw_shape(rng: np.random.Generator, options: SimulationOptions, reflections: Reflections) -> PhaseShape:
    strain = rng.uniform(-options.max_lattice_strain, options.max_lattice_strain) if options.max_lattice_strain else 0.0
    low, high = options.crystallite_size_nm
    size = float(np.exp(rng.uniform(math.log(low), math.log(high))))
    micro = rng.uniform(0.0, options.max_microstrain_deg) if options.max_microstrain_deg else 0.0
    r_low, r_high = options.preferred_orientation
    r = float(rng.uniform(r_low, r_high)) if r_high > r_low else r_low
    axis = (
        tuple(int(v) for v in reflections.hkl[int(rng.integers(0, min(5, len(reflections.hkl))))])
        if r != 1.0
        else (0, 0, 1)
    )
    return PhaseShape(
        lattice_scale=1.0 + strain,
        size_broadening_deg=scherrer_broadening_deg(size, options.instrument.wavelengths[0][0]),
        strain_broadening_deg=micro,
        preferred_orientation=r,
        orientation_hkl=axis,
    )


def _amorphous_profile(
    x: np.ndarray, instrument: Instrument, crystalline: np.ndarray, crystalline_weight: float
) -> np.ndarray:
    """A broad hump whose area per unit weight equals the crystalline phases' mean area per weight."""
    wavelength = instrument.wavelengths[0][0]
    centre = math.degrees(2 * math.asin(min(wavelength / (2 * AMORPHOUS_CENTRE_D), 0.99)))
    sigma = AMORPHOUS_FWHM_DEG / 2.3548
    hump = np.exp(-0.5 * ((x - centre) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))
    step = float(np.mean(np.diff(x)))
    area_per_weight = (
        float(crystalline.sum() * step / crystalline_weight) if crystalline_weight > 0 and crystalline.any() else 50.0
    )
    return hump * area_per_weight
