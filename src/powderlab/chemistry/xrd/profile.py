"""Peak positions, intensities and shapes on a 2-theta grid; shared by simulation and analysis.

A phase contributes, per unit weight fraction, intensity proportional to
|F|^2 m LP(theta) exp(-2 B s^2) / (M_cell V_cell): with this normalisation the fitted scale of
each phase is directly proportional to its weight fraction (the Rietveld ZMV relation with
computed reference intensity ratios), assuming no microabsorption contrast.

Peaks are Thompson-Cox-Hastings pseudo-Voigts: a Gaussian instrument width from the Caglioti
relation and a Lorentzian sample width from crystallite size (Scherrer) and microstrain.
Cu K-alpha1/K-alpha2 doublets are drawn by default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from powderlab.chemistry.xrd.reflections import Reflections

CU_KA1 = 1.540593
CU_KA2 = 1.544427
CU_KA2_RATIO = 0.5
INTENSITY_NORMALISATION = 1.0e3  # keeps per-unit-weight intensities of order 1..1e3
WINDOW_FWHM = 12.0  # peaks are drawn over +- this many widths
LN2 = math.log(2.0)


@dataclass(frozen=True)
class Instrument:
    """Source and instrument profile: wavelengths with weights, Caglioti U, V, W (deg^2)."""

    wavelengths: tuple[tuple[float, float], ...] = ((CU_KA1, 1.0), (CU_KA2, CU_KA2_RATIO))
    caglioti_u: float = 0.004
    caglioti_v: float = -0.002
    caglioti_w: float = 0.003
    lorentzian_deg: float = 0.01  # instrument Lorentzian width (deg), e.g. from the receiving slit
    debye_waller_b: float = 0.5  # isotropic B (A^2) applied to every phase

    @staticmethod
    def monochromatic(wavelength: float) -> Instrument:
        return Instrument(wavelengths=((wavelength, 1.0),))


@dataclass(frozen=True)
class PhaseShape:
    """What a sample does to one phase's peaks."""

    lattice_scale: float = 1.0  # d-spacings times this (isotropic strain / thermal expansion)
    size_broadening_deg: float = 0.02  # Lorentzian FWHM at 2-theta = 0 from crystallite size (x 1/cos)
    strain_broadening_deg: float = 0.0  # Lorentzian FWHM from microstrain (x tan)
    preferred_orientation: float = 1.0  # March-Dollase r (1 = none)
    orientation_hkl: tuple[int, int, int] = (0, 0, 1)


def scherrer_broadening_deg(size_nm: float, wavelength: float = CU_KA1, shape_factor: float = 0.9) -> float:
    """Lorentzian size broadening at 2-theta -> 0 in degrees (multiply by 1/cos(theta))."""
    return math.degrees(shape_factor * wavelength / (size_nm * 10.0))


def peak_list(
    reflections: Reflections,
    instrument: Instrument,
    shape: PhaseShape,
    two_theta_range: tuple[float, float],
    *,
    zero_shift_deg: float = 0.0,
    displacement: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(centre, area, fwhm, eta) of every peak inside the range (all wavelengths)."""
    d = reflections.d_spacing * shape.lattice_scale
    volume = reflections.cell_volume_a3 * shape.lattice_scale**3
    weight = INTENSITY_NORMALISATION / (reflections.cell_mass_amu * volume)
    po = _march_dollase(reflections, shape) if shape.preferred_orientation != 1.0 else 1.0
    s2 = (1.0 / (2.0 * d)) ** 2
    base = reflections.f2_multiplicity * np.exp(-2.0 * instrument.debye_waller_b * s2) * po * weight
    centres, areas, widths, etas = [], [], [], []
    low, high = two_theta_range
    for wavelength, ratio in instrument.wavelengths:
        sin_theta = wavelength / (2.0 * d)
        ok = sin_theta < 0.9999
        theta = np.arcsin(sin_theta[ok])
        two_theta = np.degrees(2.0 * theta) + zero_shift_deg - np.degrees(2.0 * displacement * np.cos(theta))
        inside = (two_theta > low - 2.0) & (two_theta < high + 2.0)
        theta, two_theta = theta[inside], two_theta[inside]
        lp = (1 + np.cos(2 * theta) ** 2) / (np.sin(theta) ** 2 * np.cos(theta))
        tan_t = np.tan(theta)
        h_g = np.sqrt(
            np.maximum(instrument.caglioti_u * tan_t**2 + instrument.caglioti_v * tan_t + instrument.caglioti_w, 1e-6)
        )
        h_l = (
            instrument.lorentzian_deg + shape.size_broadening_deg / np.cos(theta) + shape.strain_broadening_deg * tan_t
        )
        fwhm, eta = _tch(h_g, h_l)
        centres.append(two_theta)
        areas.append(base[ok][inside] * lp * ratio)
        widths.append(fwhm)
        etas.append(eta)
    return np.concatenate(centres), np.concatenate(areas), np.concatenate(widths), np.concatenate(etas)


def render(x: np.ndarray, centres: np.ndarray, areas: np.ndarray, fwhm: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Sum of area-normalised pseudo-Voigt peaks evaluated on the sorted grid x."""
    if centres.size == 0:
        return np.zeros_like(x)
    half = WINDOW_FWHM * fwhm
    lo = np.searchsorted(x, centres - half)
    hi = np.searchsorted(x, centres + half)
    counts = hi - lo
    keep = counts > 0
    if not np.any(keep):
        return np.zeros_like(x)
    lo, counts = lo[keep], counts[keep]
    peak = np.repeat(np.flatnonzero(keep), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    index = np.repeat(lo, counts) + (np.arange(counts.sum()) - starts)
    dx2 = (x[index] - centres[peak]) ** 2
    h = fwhm[peak]
    e = eta[peak]
    gauss = (2.0 / h) * math.sqrt(LN2 / math.pi) * np.exp(-4.0 * LN2 * dx2 / h**2)
    lorentz = (2.0 / (math.pi * h)) / (1.0 + 4.0 * dx2 / h**2)
    values = areas[peak] * (e * lorentz + (1.0 - e) * gauss)
    return np.bincount(index, weights=values, minlength=x.size)


def phase_profile(
    x: np.ndarray,
    reflections: Reflections,
    instrument: Instrument,
    shape: PhaseShape,
    *,
    zero_shift_deg: float = 0.0,
    displacement: float = 0.0,
) -> np.ndarray:
    """The pattern of one phase at unit weight fraction on the grid x."""
    peaks = peak_list(
        reflections,
        instrument,
        shape,
        (float(x[0]), float(x[-1])),
        zero_shift_deg=zero_shift_deg,
        displacement=displacement,
    )
    return render(x, *peaks)


def _tch(h_g: np.ndarray, h_l: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Thompson-Cox-Hastings total FWHM and Lorentzian fraction."""
    h = (
        h_g**5
        + 2.69269 * h_g**4 * h_l
        + 2.42843 * h_g**3 * h_l**2
        + 4.47163 * h_g**2 * h_l**3
        + 0.07842 * h_g * h_l**4
        + h_l**5
    ) ** 0.2
    q = h_l / h
    eta = np.clip(1.36603 * q - 0.47719 * q**2 + 0.11116 * q**3, 0.0, 1.0)
    return h, eta


def _march_dollase(reflections: Reflections, shape: PhaseShape) -> np.ndarray:
    """March-Dollase factor averaged over the symmetry-equivalent reflections of each family.

    Equivalents are approximated by the signed permutations of the representative hkl that keep
    its d-spacing, which is what pymatgen merges into one peak.
    """
    r = shape.preferred_orientation
    recip = reflections.reciprocal_matrix
    axis = np.asarray(shape.orientation_hkl, dtype=float) @ recip
    axis /= np.linalg.norm(axis)
    factors = np.empty(len(reflections.hkl))
    for i, hkl in enumerate(reflections.hkl):
        variants = _equivalents(hkl, recip)
        vectors = variants @ recip
        cos_a = np.abs(vectors @ axis) / np.linalg.norm(vectors, axis=1)
        sin2 = 1.0 - cos_a**2
        factors[i] = float(np.mean((r**2 * cos_a**2 + sin2 / r) ** -1.5))
    return factors


_SIGNS = np.array([[a, b, c] for a in (1, -1) for b in (1, -1) for c in (1, -1)])
_PERMS = ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))


def _equivalents(hkl: np.ndarray, recip: np.ndarray) -> np.ndarray:
    base = np.linalg.norm(hkl @ recip)
    candidates = np.unique(np.array([np.asarray(hkl)[list(p)] * s for p in _PERMS for s in _SIGNS]), axis=0)
    lengths = np.linalg.norm(candidates @ recip, axis=1)
    return candidates[np.abs(lengths - base) < 1e-6 * max(base, 1e-9)]
