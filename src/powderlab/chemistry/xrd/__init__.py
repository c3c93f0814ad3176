"""Powder XRD: reference reflections, simulated patterns, phase analysis and pattern files.

- `reflections`: per-phase reflection lists (d-spacing, |F|^2 x multiplicity), from pymatgen.
- `profile`: peak positions, widths and shapes on a 2-theta grid (shared by simulation and fit).
- `simulate`: patterns of phase mixtures with instrument, sample and counting effects.
- `analyze`: phases and weight fractions of a measured pattern by whole-pattern fitting.
- `io`: reading and writing the pattern files diffractometers export.
"""

from powderlab.chemistry.xrd.analyze import AnalysisOptions, PhaseResult, XrdAnalysis, analyze_pattern
from powderlab.chemistry.xrd.io import SUPPORTED_FORMATS, read_pattern, write_pattern
from powderlab.chemistry.xrd.reflections import Reflections, reflections_from_structure
from powderlab.chemistry.xrd.simulate import SimulationOptions, simulate_pattern

__all__ = [
    "SUPPORTED_FORMATS",
    "AnalysisOptions",
    "PhaseResult",
    "Reflections",
    "SimulationOptions",
    "XrdAnalysis",
    "analyze_pattern",
    "read_pattern",
    "reflections_from_structure",
    "simulate_pattern",
    "write_pattern",
]
