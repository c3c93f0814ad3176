"""Compute CHGNet energies of every phase in data/phase_specs.yaml (resumable).

Protocol (ADR 0041): primitive cell of the spec structure; CHGNet 0.4.2 (weights shipped in its
wheel) relaxes positions and cell with FIRE (fmax 0.1 eV/A, at most --steps steps); the energy of
the last step is stored in eV/atom with the number of steps, the final fmax and the relaxed
volume. Results go to data/chgnet_energies.json keyed by phase id, each with a hash of the spec so
an edited spec is recomputed and an unchanged one is not.

Run (one core, in the background): OMP_NUM_THREADS=1 nohup .venv/bin/python tools/compute_phase_energies.py &
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

from powderlab.chemistry.specs import PhaseSpec, load_specs

OUT = Path(__file__).resolve().parent.parent / "src" / "powderlab" / "chemistry" / "data" / "chgnet_energies.json"


def spec_hash(spec: PhaseSpec) -> str:
    return spec.digest()


def relax(spec: PhaseSpec, optimizer: object, steps: int, fmax: float) -> dict:
    structure = spec.structure().get_primitive_structure()
    start = time.perf_counter()
    result = optimizer.relax(structure, fmax=fmax, steps=steps, relax_cell=True, verbose=False)
    trajectory = result["trajectory"]
    n_atoms = len(structure)
    forces = np.asarray(trajectory.forces[-1])
    return {
        "spec_hash": spec_hash(spec),
        "formula": spec.formula,
        "n_atoms": n_atoms,
        "energy_per_atom_ev": float(trajectory.energies[-1]) / n_atoms,
        "initial_energy_per_atom_ev": float(trajectory.energies[0]) / n_atoms,
        "steps": len(trajectory.energies),
        "final_fmax_ev_per_a": float(np.linalg.norm(forces, axis=1).max()),
        "converged": bool(np.linalg.norm(forces, axis=1).max() <= fmax),
        "volume_per_atom_initial": structure.volume / n_atoms,
        "volume_per_atom_relaxed": result["final_structure"].volume / n_atoms,
        "seconds": round(time.perf_counter() - start, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="*", help="only these phase ids")
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--fmax", type=float, default=0.1)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import chgnet
    from chgnet.model import CHGNet, StructOptimizer

    model = CHGNet.load(verbose=False)
    optimizer = StructOptimizer(model=model, optimizer_class="FIRE")
    done = json.loads(OUT.read_text()) if OUT.exists() else {}
    specs = [s for s in load_specs() if not args.ids or s.phase_id in args.ids]
    specs.sort(key=lambda s: len(s.structure().get_primitive_structure()))  # small first: useful data early
    for spec in specs:
        if spec.phase_id in done and done[spec.phase_id]["spec_hash"] == spec_hash(spec):
            continue
        entry = relax(spec, optimizer, args.steps, args.fmax)
        entry["protocol"] = (
            f"CHGNet {chgnet.__version__} FIRE relax (cell + positions), fmax {args.fmax} eV/A, <= {args.steps} steps"
        )
        done[spec.phase_id] = entry
        OUT.write_text(json.dumps(done, indent=1, sort_keys=True) + "\n")
        print(
            f"{spec.phase_id:16s} n={entry['n_atoms']:3d} E={entry['energy_per_atom_ev']:.4f} "
            f"steps={entry['steps']} fmax={entry['final_fmax_ev_per_a']:.3f} {entry['seconds']} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
