"""Reflection lists of a crystal structure, independent of wavelength.

Each reflection keeps its d-spacing, |F|^2 x multiplicity (Friedel pairs included, no Lorentz-
polarisation factor, no Debye-Waller factor) and one Miller index of its family. Together with the
unit-cell mass and volume this is all a pattern needs: intensities for any wavelength follow in
`profile`. Structure factors come from pymatgen's XRDCalculator (its atomic scattering factors).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

# The wavelength only decides which reflections pymatgen enumerates: 1.4 A up to 2-theta 179 deg
# reaches d = 0.70 A, which covers Cu K-alpha patterns to 2-theta 180 deg and Mo K-alpha to 60 deg.
ENUMERATION_WAVELENGTH = 1.4
D_MIN_ANGSTROM = ENUMERATION_WAVELENGTH / (2.0 * math.sin(math.radians(179.0 / 2.0)))
AMU_GRAMS = 1.66053907e-24


@dataclass(frozen=True)
class Reflections:
    """Reflections of one phase: d (A), |F|^2 x multiplicity, representative hkl, cell mass and volume."""

    d_spacing: np.ndarray
    f2_multiplicity: np.ndarray
    hkl: np.ndarray
    cell_mass_amu: float
    cell_volume_a3: float
    reciprocal_matrix: np.ndarray  # rows: reciprocal lattice vectors (1/A, no 2 pi)

    @property
    def density_g_cm3(self) -> float:
        return self.cell_mass_amu * AMU_GRAMS / (self.cell_volume_a3 * 1e-24)

    def to_dict(self) -> dict[str, Any]:
        return {
            "d": [round(float(v), 6) for v in self.d_spacing],
            "f2m": [float(f"{v:.6g}") for v in self.f2_multiplicity],
            "hkl": self.hkl.astype(int).tolist(),
            "cell_mass_amu": self.cell_mass_amu,
            "cell_volume_a3": self.cell_volume_a3,
            "reciprocal_matrix": np.round(self.reciprocal_matrix, 8).tolist(),
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Reflections:
        return Reflections(
            d_spacing=np.asarray(data["d"], dtype=float),
            f2_multiplicity=np.asarray(data["f2m"], dtype=float),
            hkl=np.asarray(data["hkl"], dtype=int).reshape(-1, 3),
            cell_mass_amu=float(data["cell_mass_amu"]),
            cell_volume_a3=float(data["cell_volume_a3"]),
            reciprocal_matrix=np.asarray(data["reciprocal_matrix"], dtype=float),
        )


def reflections_from_structure(structure: Any, min_relative_intensity: float = 1e-4) -> Reflections:
    """Reflections of a pymatgen Structure down to D_MIN_ANGSTROM (weak ones dropped)."""
    from pymatgen.analysis.diffraction.xrd import XRDCalculator

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pattern = XRDCalculator(wavelength=ENUMERATION_WAVELENGTH).get_pattern(
            structure, scaled=False, two_theta_range=(0.5, 179.0)
        )
    two_theta = np.radians(np.asarray(pattern.x))
    theta = two_theta / 2.0
    lorentz = (1 + np.cos(two_theta) ** 2) / (np.sin(theta) ** 2 * np.cos(theta))
    f2m = np.asarray(pattern.y) / lorentz
    d = np.asarray(pattern.d_hkls, dtype=float)
    hkl = np.array(
        [families[0]["hkl"][-3:] if len(families[0]["hkl"]) == 4 else families[0]["hkl"] for families in pattern.hkls]
    )
    if hkl.shape[1:] != (3,):  # hexagonal (h, k, i, l) -> (h, k, l)
        hkl = np.array([[f[0]["hkl"][0], f[0]["hkl"][1], f[0]["hkl"][-1]] for f in pattern.hkls])
    keep = f2m > min_relative_intensity * f2m.max() if f2m.size else np.zeros(0, bool)
    return Reflections(
        d_spacing=d[keep],
        f2_multiplicity=f2m[keep],
        hkl=hkl[keep],
        cell_mass_amu=float(sum(site.species.weight for site in structure)),
        cell_volume_a3=float(structure.volume),
        reciprocal_matrix=np.asarray(structure.lattice.reciprocal_lattice_crystallographic.matrix),
    )
