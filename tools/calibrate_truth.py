"""How the hidden-truth model treats every library target with the obvious precursors.

For each target: yield (crystalline weight fraction) with one precursor per element at 700, 900,
1100 C (A-Lab profile, 4 h dwell, standard milling) under a given seed, then a summary:
made with the obvious precursors at 900 C / only at another temperature / not at all.
Run: .venv/bin/python tools/calibrate_truth.py [--seed N]
"""

from __future__ import annotations

import argparse
import time

from powderlab.chemistry.phases import default_library
from powderlab.chemistry.reactions import obvious_precursors, precursor_masses
from powderlab.chemistry.truth import SynthesisModel
from powderlab.core.errors import PowderLabError
from powderlab.core.recipes import MillingSettings, a_lab_profile

TEMPERATURES = (700.0, 900.0, 1100.0)
SUCCESS = 0.5


def survey(seed: int) -> dict[str, dict[float, float]]:
    library = default_library()
    model = SynthesisModel(seed)
    table = {}
    for phase in library.with_role("target"):
        try:
            doses = precursor_masses(phase.phase_id, obvious_precursors(phase.phase_id), 1000.0)
        except PowderLabError:
            continue
        masses = {d.powder: d.target_mg for d in doses}
        table[phase.phase_id] = {
            t: model.react(masses, a_lab_profile(t), MillingSettings()).yield_of(phase.phase_id) for t in TEMPERATURES
        }
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.perf_counter()
    table = survey(args.seed)
    standard = [t for t, y in table.items() if y[900.0] >= SUCCESS]
    other_t = [t for t, y in table.items() if y[900.0] < SUCCESS and max(y.values()) >= SUCCESS]
    never = [t for t, y in table.items() if max(y.values()) < SUCCESS]
    for target, yields in sorted(table.items()):
        print(f"{target:12s} " + "  ".join(f"{t:.0f}C {y:4.2f}" for t, y in yields.items()))
    n = len(table)
    print(f"\n{n} targets, seed {args.seed}, {time.perf_counter() - start:.0f} s")
    print(f"made with obvious precursors at 900 C: {len(standard)} ({100 * len(standard) / n:.0f} %)")
    print(f"made only at another temperature: {len(other_t)} ({100 * len(other_t) / n:.0f} %): {', '.join(other_t)}")
    print(
        f"not made by obvious precursors at any of {TEMPERATURES}: {len(never)} ({100 * len(never) / n:.0f} %): "
        + ", ".join(never)
    )


if __name__ == "__main__":
    main()
