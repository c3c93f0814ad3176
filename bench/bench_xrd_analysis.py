"""XRD analysis: time per pattern and accuracy over seeded simulated 1-3 phase mixtures.

Run: python -m bench.bench_xrd_analysis [--count N] (one thread: OMP_NUM_THREADS=1 is set here).
Writes the section "xrd-analysis" of docs/benchmarks.md.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import time

import numpy as np

from bench.report import markdown_table, write_section
from powderlab.chemistry.phases import default_library
from powderlab.chemistry.xrd.analyze import analyze_pattern
from powderlab.chemistry.xrd.simulate import simulate_pattern
from tests.chemistry.mixtures import Mixture, make_mixtures, score


def run(mixtures: list[Mixture]) -> list[dict]:
    rows = []
    for mixture in mixtures:
        pattern = simulate_pattern(mixture.fractions, options=mixture.options, seed=mixture.seed)
        start = time.perf_counter()
        analysis = analyze_pattern(pattern, elements=mixture.elements)
        elapsed = time.perf_counter() - start
        right, error = score(mixture, analysis)
        rows.append(
            {
                "n": len(mixture.fractions),
                "label": mixture.label,
                "right": right,
                "error": error,
                "seconds": elapsed,
                "candidates": len(analysis.candidates),
                "flagged": analysis.unknown_phase_suspected,
            }
        )
    return rows


def minority_detection(count: int) -> tuple[int, int, float]:
    """A second phase at 5 wt%: how often is it found?"""
    library = default_library()
    found, total, errors = 0, 0, []
    for mixture in make_mixtures(library, count * 3, seed=77):
        if len(mixture.fractions) != 2:
            continue
        major, minor = sorted(mixture.fractions)
        fractions = {major: 0.95, minor: 0.05}
        pattern = simulate_pattern(fractions, options=mixture.options, seed=mixture.seed)
        analysis = analyze_pattern(pattern, elements=mixture.elements)
        total += 1
        found += minor in analysis.phase_ids
        errors.append(abs(analysis.fraction(minor) - 0.05))
        if total >= count:
            break
    return found, total, float(np.mean(errors))


def summarise(rows: list[dict], label: str) -> list[object]:
    times = np.array([r["seconds"] for r in rows])
    return [
        label,
        len(rows),
        f"{100 * np.mean([r['right'] for r in rows]):.1f} %",
        f"{100 * np.mean([r['error'] for r in rows]):.2f} wt%",
        f"{100 * max(r['error'] for r in rows):.1f} wt%",
        f"{np.mean(times):.2f}",
        f"{np.median(times):.2f}",
        f"{np.percentile(times, 90):.2f}",
        f"{times.max():.2f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=150)
    args = parser.parse_args()
    library = default_library()
    analyze_pattern(simulate_pattern({"ZnO": 1.0}), elements=["Zn", "O"])  # warm-up: library and reflections load
    rows = run(make_mixtures(library, args.count, seed=4242))
    headers = ["set", "patterns", "right phase set", "mean wt% error", "worst wt% error"]
    headers += ["mean s", "median s", "p90 s", "max s"]
    table = [summarise(rows, "all")]
    for n in (1, 2, 3):
        subset = [r for r in rows if r["n"] == n]
        if subset:
            table.append(summarise(subset, f"{n} phase{'s' if n > 1 else ''}"))
    for label in ("standard", "strained/textured/noisy"):
        subset = [r for r in rows if r["label"] == label]
        if subset:
            table.append(summarise(subset, label))
    found, total, minority_error = minority_detection(30)
    flagged = sum(r["flagged"] for r in rows)
    body = (
        "Seeded mixtures of 1-3 library phases (each at least 10 wt%) over 28 chemical systems; the analysis "
        "gets the sample's elements and considers every library phase made of them (mean "
        f"{np.mean([r['candidates'] for r in rows]):.1f} candidates). 'Strained/textured/noisy': lattice strain up "
        "to +-0.6 %, March-Dollase r 0.8-1, 3000 peak counts; 'standard': +-0.3 %, r 0.9-1, 8000 counts; all with "
        "Poisson noise, Cu K-alpha1/2, crystallite size 60-300 nm and microstrain. Wall time of `analyze_pattern` "
        "on one thread (patterns of 4501 points, 10-100 deg). XRD-AutoAnalyzer, for comparison, takes 1-2 min per "
        "pattern.\n\n"
        + markdown_table(headers, table)
        + f"\n\n- minority phase at 5 wt% next to a 95 wt% phase: found in {found}/{total} patterns, mean |error| "
        f"{100 * minority_error:.2f} wt%\n"
        f"- unknown-phase flag raised on {flagged}/{len(rows)} patterns whose phases were all candidates "
        "(false alarms)\n"
    )
    path = write_section("xrd-analysis", "XRD phase analysis: time per pattern and accuracy", body)
    print(body)
    print(f"written to {path}")


if __name__ == "__main__":
    main()
