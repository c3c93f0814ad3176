"""New targets in the GNoME manner: ion substitution on known prototypes, CHGNet relaxation, hull.

1. Prototypes: library phases (targets and intermediates) with as many cations as the requested
   chemical system has metals, same anion (O). Their cations get oxidation states (pymatgen
   `oxi_state_guesses`), each permutation onto the requested metals (with charge balance) is
   scored by the product of pymatgen's data-mined conditional substitution probabilities
   (`SubstitutionProbability.cond_prob`, Hautier et al. 2011) and the best
   ones are substituted (`SubstitutionTransformation`).
2. Each substituted cell (primitive) is relaxed with CHGNet (weights in the wheel; FIRE, cell and
   positions, few steps: a quick score, the protocol of ADR 0041 with a smaller step budget), its
   energy per atom goes on the library's scale (the library's energies are CHGNet's too).
3. The relaxed phase is screened (hull with the library's competing phases, air, dosable).
Compositions the library already holds are left out (they are not new).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from powderlab.chemistry.phases import GAS_ELEMENTS, Phase, PhaseLibrary, default_library
from powderlab.core.errors import ValidationError
from powderlab.planner.inventory import Inventory, closed_elements
from powderlab.planner.screening import DEFAULT_HULL_EV, Screener, Screening

ANION = "O"
RELAX_STEPS = 60
RELAX_FMAX = 0.1
MIN_PROBABILITY = 1e-3  # product of conditional substitution probabilities
MAX_PROTOTYPE_ATOMS = 20  # primitive cells above this are too slow to relax on the lab computer


@dataclass
class Candidate:
    """A substituted prototype, relaxed and screened."""

    formula: str
    prototype: str
    substitution: dict[str, str]
    probability: float
    energy_per_atom_ev: float | None = None
    relax_steps: int = 0
    screening: Screening | None = None
    structure: Any = field(default=None, repr=False)
    phase: Phase | None = field(default=None, repr=False)

    @property
    def passed(self) -> bool:
        return self.screening is not None and self.screening.passed

    def explain(self) -> str:
        subs = ", ".join(f"{a}->{b}" for a, b in self.substitution.items())
        head = (
            f"{self.formula} from prototype {self.prototype} ({subs}; substitution probability {self.probability:.3g})"
        )
        energy = (
            ""
            if self.energy_per_atom_ev is None
            else (f"\n  CHGNet energy {self.energy_per_atom_ev:.4f} eV/atom after {self.relax_steps} relaxation steps")
        )
        return head + energy + ("\n" + self.screening.explain() if self.screening else "")

    def to_dict(self) -> dict[str, Any]:
        return {
            "formula": self.formula,
            "prototype": self.prototype,
            "substitution": self.substitution,
            "probability": self.probability,
            "energy_per_atom_ev": self.energy_per_atom_ev,
            "relax_steps": self.relax_steps,
            "screening": None if self.screening is None else self.screening.to_dict(),
        }


@lru_cache(maxsize=1)
def substitution_table() -> Any:
    """pymatgen's data-mined substitution probabilities (read once per process: seconds)."""
    from pymatgen.analysis.structure_prediction.substitution_probability import SubstitutionProbability

    return SubstitutionProbability()


def substitutions(elements: Sequence[str], library: PhaseLibrary | None = None, limit: int = 6) -> list[Candidate]:
    """Charge-balanced substitutions of library prototypes onto the requested system, most probable first."""
    from pymatgen.core import Composition, Species

    library = library if library is not None else default_library()
    metals = sorted(set(elements) - {ANION} - GAS_ELEMENTS)
    if not metals:
        raise ValidationError("elements", f"{list(elements)} has no metal; give e.g. Na Al O")
    if ANION not in elements:
        raise ValidationError("elements", "only oxides are generated; include O")
    known = {p.composition.reduced_formula for p in library}
    table = substitution_table()
    found: dict[str, Candidate] = {}
    for proto in library:
        if not ({"target", "intermediate"} & set(proto.roles)) or proto.elements & (GAS_ELEMENTS - {ANION}):
            continue
        cations = sorted(closed_elements(proto))
        if len(cations) != len(metals) or ANION not in proto.elements:
            continue
        guesses = Composition(proto.formula).oxi_state_guesses(max_sites=-50)
        if not guesses:
            continue
        old_states = guesses[0]
        for perm in itertools.permutations(metals):
            mapping = dict(zip(cations, perm, strict=True))
            new_formula = Composition({mapping.get(el.symbol, el.symbol): a for el, a in proto.composition.items()})
            if new_formula.reduced_formula in known:
                continue
            probability = 1.0
            for old, new in mapping.items():
                old_ox = round(old_states[old])
                species_new = _best_species(new, old_ox)
                if species_new is None:
                    probability = 0.0
                    break
                probability *= table.cond_prob(Species(new, species_new), Species(old, old_ox))
            if probability < MIN_PROBABILITY:
                continue
            formula = new_formula.reduced_formula
            if formula not in found or found[formula].probability < probability:
                found[formula] = Candidate(formula, proto.phase_id, mapping, float(probability))
    ranked = sorted(found.values(), key=lambda c: -c.probability)
    return ranked[:limit]


def _best_species(element: str, oxidation: int) -> int | None:
    """The oxidation state the element takes in place of one of `oxidation` (it must exist)."""
    from pymatgen.core import Element

    states = Element(element).common_oxidation_states or Element(element).oxidation_states
    return oxidation if oxidation in states else None


def relax(candidate: Candidate, library: PhaseLibrary, steps: int = RELAX_STEPS, optimizer: Any = None) -> Candidate:
    """Substitute the prototype's structure and relax it with CHGNet; fills energy and structure."""
    from pymatgen.transformations.standard_transformations import SubstitutionTransformation

    structure = library.get(candidate.prototype).structure().get_primitive_structure()
    if len(structure) > MAX_PROTOTYPE_ATOMS:
        raise ValidationError(f"prototype {candidate.prototype}", f"{len(structure)} atoms; too big to relax here")
    substituted = SubstitutionTransformation(dict(candidate.substitution)).apply_transformation(structure)
    optimizer = optimizer if optimizer is not None else chgnet_optimizer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = optimizer.relax(substituted, fmax=RELAX_FMAX, steps=steps, relax_cell=True, verbose=False)
    trajectory = result["trajectory"]
    candidate.energy_per_atom_ev = float(trajectory.energies[-1]) / len(substituted)
    candidate.relax_steps = len(trajectory.energies)
    candidate.structure = result["final_structure"]
    return candidate


def relaxed_energy(structure: Any, steps: int = RELAX_STEPS) -> float:
    """CHGNet energy per atom (eV) of a structure after a short relaxation (external targets)."""
    optimizer = chgnet_optimizer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = optimizer.relax(structure, fmax=RELAX_FMAX, steps=steps, relax_cell=True, verbose=False)
    return float(result["trajectory"].energies[-1]) / len(structure)


def chgnet_optimizer() -> Any:
    """CHGNet's FIRE optimiser (weights ship in the chgnet wheel; set OMP_NUM_THREADS=1)."""
    from chgnet.model import CHGNet, StructOptimizer

    return StructOptimizer(model=CHGNet.load(verbose=False), optimizer_class="FIRE")


def propose_targets(
    elements: Sequence[str],
    *,
    limit: int = 3,
    library: PhaseLibrary | None = None,
    inventory: Inventory | None = None,
    hull_threshold_ev: float = DEFAULT_HULL_EV,
    steps: int = RELAX_STEPS,
) -> list[Candidate]:
    """Substitute, relax and screen up to `limit` candidates of a chemical system (best first)."""
    library = library if library is not None else default_library()
    screener = Screener(inventory, library, hull_threshold_ev)
    candidates = substitutions(elements, library, limit)
    optimizer = chgnet_optimizer() if candidates else None
    for number, candidate in enumerate(candidates, start=1):
        relax(candidate, library, steps, optimizer)
        phase = Phase.from_structure(
            f"candidate-{candidate.formula}-{number}",
            candidate.structure,
            roles=("candidate",),
            name=f"{candidate.formula} ({candidate.prototype}-type, substituted)",
            energy_per_atom_ev=candidate.energy_per_atom_ev,
            provenance={"prototype": candidate.prototype, "substitution": candidate.substitution, "relax": "CHGNet"},
        )
        candidate.phase = phase
        candidate.screening = screener.with_phase(phase).screen(phase.phase_id)
    return sorted(candidates, key=lambda c: (not c.passed, _hull(c)))


def _hull(candidate: Candidate) -> float:
    screening = candidate.screening
    return float("inf") if screening is None or screening.e_above_hull_ev is None else screening.e_above_hull_ev
