"""Powder diffraction patterns as plain data (two-theta in degrees, intensity in counts)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from powderlab.core.errors import ValidationError
from powderlab.core.recipes import ScanSettings

CU_K_ALPHA1_ANGSTROM = 1.5406


@dataclass
class XrdPattern:
    """A measured or simulated pattern and its scan metadata."""

    two_theta_deg: np.ndarray
    intensity: np.ndarray
    wavelength_angstrom: float = CU_K_ALPHA1_ANGSTROM
    settings: ScanSettings | None = None
    sample_id: str = ""
    holder_id: str = ""
    instrument: str = ""
    metadata: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.two_theta_deg = np.asarray(self.two_theta_deg, dtype=float)
        self.intensity = np.asarray(self.intensity, dtype=float)
        if self.two_theta_deg.ndim != 1 or self.two_theta_deg.shape != self.intensity.shape:
            raise ValidationError(
                "pattern",
                f"two_theta ({self.two_theta_deg.shape}) and intensity ({self.intensity.shape}) "
                "must be 1-D arrays of the same length",
            )
        if self.two_theta_deg.size < 2:
            raise ValidationError("pattern", f"has {self.two_theta_deg.size} points; at least 2 are needed")
        if not (np.all(np.isfinite(self.two_theta_deg)) and np.all(np.isfinite(self.intensity))):
            raise ValidationError("pattern", "contains NaN or infinite values")
        if np.any(np.diff(self.two_theta_deg) <= 0):
            raise ValidationError("pattern", "two_theta must increase strictly")

    def to_xy(self, path: str | Path) -> None:
        """Write the two-column .xy format (2-theta, intensity)."""
        header = f"2theta intensity; wavelength {self.wavelength_angstrom} A; sample {self.sample_id}"
        np.savetxt(path, np.column_stack([self.two_theta_deg, self.intensity]), fmt="%.5f", header=header)

    @staticmethod
    def from_xy(path: str | Path, wavelength_angstrom: float = CU_K_ALPHA1_ANGSTROM) -> XrdPattern:
        """Read a two-column .xy file (comments with '#' or '!')."""
        rows = []
        for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
            text = line.split("#", 1)[0].split("!", 1)[0].strip()
            if not text:
                continue
            parts = text.replace(",", " ").split()
            try:
                rows.append((float(parts[0]), float(parts[1])))
            except (ValueError, IndexError):
                raise ValidationError(
                    f"{path}:{number}", f"expected two numbers (2-theta intensity), got {line!r}"
                ) from None
        if not rows:
            raise ValidationError(str(path), "has no data rows")
        data = np.array(rows)
        return XrdPattern(data[:, 0], data[:, 1], wavelength_angstrom=wavelength_angstrom)
