"""powderlab.chemistry: reference phases, energies, reactions and XRD (imports only powderlab.core).

Modules:
- `phases`: the reference phase library (`default_library()`, `PhaseLibrary`, `Phase`, CIF phases).
- `thermo`: formation energies, Gibbs energies at T, phase diagrams and energies above the hull.
- `gases`: CO2, O2, H2O, NH3, NOx energies and the furnace atmosphere.
- `reactions`: balanced reactions with gases, reaction energies, precursor masses.
- `xrd`: reflections, simulated patterns, phase analysis, pattern files.
- `specs`: the hand-written structure specs the tools build the library from (not used at run time).
- `truth`: the hidden-truth synthesis model. Only powderlab.twin may import it; it is not
  re-exported here.
"""

from powderlab.chemistry.gases import AIR, Atmosphere
from powderlab.chemistry.phases import Phase, PhaseLibrary, default_library, phase_from_cif
from powderlab.chemistry.reactions import BalancedReaction, balance_reaction, obvious_precursors, precursor_masses
from powderlab.chemistry.thermo import Thermo, default_thermo, e_above_hull, phase_diagram

__all__ = [
    "AIR",
    "Atmosphere",
    "BalancedReaction",
    "Phase",
    "PhaseLibrary",
    "Thermo",
    "balance_reaction",
    "default_library",
    "default_thermo",
    "e_above_hull",
    "obvious_precursors",
    "phase_diagram",
    "phase_from_cif",
    "precursor_masses",
]
