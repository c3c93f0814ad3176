"""Sanity checks of data/phase_specs.yaml: formula, shortest distances, bond-valence oxidation states.

Run: .venv/bin/python tools/check_phase_specs.py [ID ...]
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
from pymatgen.analysis.bond_valence import BVAnalyzer
from pymatgen.core import Composition

from powderlab.chemistry.specs import load_specs

warnings.simplefilter("ignore")


def main(ids: list[str]) -> int:
    bad = 0
    for spec in load_specs():
        if ids and spec.phase_id not in ids:
            continue
        try:
            structure = spec.structure()
        except Exception as error:  # report every broken spec, not only the first
            print(f"{spec.phase_id:14s} BUILD FAILED: {error}")
            bad += 1
            continue
        problems = []
        if structure.composition.reduced_composition != Composition(spec.formula).reduced_composition:
            problems.append(f"composition {structure.composition.reduced_formula} != {spec.formula}")
        dm = structure.distance_matrix + np.eye(len(structure)) * 99
        dmin = float(dm.min())
        if dmin < (0.7 if "H" in spec.formula else 1.15):
            problems.append(f"min distance {dmin:.2f} A")
        valences = "-"
        if "element" not in spec.roles and len(structure) < 200:
            try:
                valences = ",".join(
                    f"{s}{v:+d}"
                    for s, v in sorted(
                        {
                            (site.specie.symbol, v)
                            for site, v in zip(structure, BVAnalyzer().get_valences(structure), strict=True)
                        }
                    )
                )
            except ValueError:
                valences = "BV failed"
        rho = structure.density
        flag = "!!" if problems else "  "
        print(
            f"{flag}{spec.phase_id:14s} n={len(structure):3d} prim={len(structure.get_primitive_structure()):3d} "
            f"dmin={dmin:.2f} rho={rho:.2f} {valences} {'; '.join(problems)}"
        )
        bad += bool(problems)
    print(f"{bad} with problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
