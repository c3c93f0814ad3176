"""Build the packaged phase library from the specs, the CHGNet energies and the reference data.

Writes src/powderlab/chemistry/data/phases.json.gz (structures, energies, provenance, thermal
data, fitted reference chemical potentials) and reflections.json.gz (reflection lists for XRD).
Inputs: data/phase_specs.yaml, data/chgnet_energies.json (tools/compute_phase_energies.py),
data/thermal_properties.yaml, data/thermo_reference.yaml. Run: .venv/bin/python tools/build_phase_library.py
"""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime

import numpy as np
import yaml
from pymatgen.core import Composition

from powderlab.chemistry.gases import EV_PER_KJ_MOL
from powderlab.chemistry.phases import DATA_DIR, GAS_ELEMENTS, Phase
from powderlab.chemistry.specs import load_specs
from powderlab.chemistry.xrd.reflections import reflections_from_structure

RIDGE = 0.05


def fit_references(phases: dict[str, Phase], chgnet_refs: dict[str, float], experimental: dict[str, float]) -> dict:
    """Fitted elemental reference energies (FERE-like) against experimental formation enthalpies.

    Every element of the fit compounds gets a fitted chemical potential; solid elements are tied
    to their CHGNet elemental energy by a weak ridge term (weight RIDGE per atom), so an element
    seen in one compound only moves as far as that compound needs. O, C, H and N have no CHGNet
    reference and are fitted freely. Residuals are per atom (computed minus experimental).
    """
    rows, rhs, names = [], [], []
    usable = []
    for phase_id, dh_kj in experimental.items():
        phase = phases.get(phase_id)
        if phase is None or phase.energy_per_atom_ev is None:
            continue
        comp = Composition(phase.formula)
        if any(el.symbol not in chgnet_refs and el.symbol not in GAS_ELEMENTS for el in comp):
            continue
        usable.append((phase_id, comp, phase.energy_per_atom_ev, dh_kj))
    elements = sorted({el.symbol for _, comp, _, _ in usable for el in comp})
    index = {el: i for i, el in enumerate(elements)}
    for phase_id, comp, energy, dh_kj in usable:
        n = comp.num_atoms
        row = np.zeros(len(elements))
        for el, amount in comp.items():
            row[index[el.symbol]] = amount / n
        rows.append(row)
        rhs.append(energy - dh_kj * EV_PER_KJ_MOL / n)
        names.append(phase_id)
    n_fit = len(rows)
    for el in elements:
        if el in chgnet_refs:
            row = np.zeros(len(elements))
            row[index[el]] = RIDGE
            rows.append(row)
            rhs.append(RIDGE * chgnet_refs[el])
    matrix, vector = np.asarray(rows), np.asarray(rhs)
    mu, *_ = np.linalg.lstsq(matrix, vector, rcond=None)
    residual = (matrix[:n_fit] @ mu - vector[:n_fit]) * -1000.0  # meV/atom: computed minus experimental dHf
    return {
        "mu": {el: float(mu[index[el]]) for el in elements},
        "shift_from_chgnet_mev": {
            el: round(1000 * (mu[index[el]] - chgnet_refs[el]), 1) for el in elements if el in chgnet_refs
        },
        "residuals_mev_per_atom": {n: round(float(r), 1) for n, r in zip(names, residual, strict=True)},
        "mae_mev_per_atom": round(float(np.mean(np.abs(residual))), 1),
        "n_compounds": n_fit,
        "ridge_weight": RIDGE,
    }


def main() -> None:
    energies = json.loads((DATA_DIR / "chgnet_energies.json").read_text())
    thermal = yaml.safe_load((DATA_DIR / "thermal_properties.yaml").read_text())
    experimental = yaml.safe_load((DATA_DIR / "thermo_reference.yaml").read_text())
    phases: dict[str, Phase] = {}
    reflections: dict[str, dict] = {}
    stale = []
    for spec in load_specs():
        structure = spec.structure()
        digest = spec.digest()
        energy = energies.get(spec.phase_id)
        if energy is not None and energy["spec_hash"] != digest:
            stale.append(spec.phase_id)
            energy = None
        provenance = {
            "structure_source": spec.ref,
            "structure_quality": spec.quality,
            "spacegroup_setting": spec.spacegroup,
            "spec_hash": digest,
        }
        if spec.note:
            provenance["note"] = spec.note
        if energy is not None:
            provenance["energy"] = {
                key: energy[key]
                for key in ("protocol", "steps", "converged", "final_fmax_ev_per_a", "volume_per_atom_relaxed")
            }
        props = dict(thermal["phases"].get(spec.phase_id) or thermal["phases"].get(spec.formula) or {})
        if props:
            props["source"] = thermal["source"]
        phase = Phase.from_structure(
            spec.phase_id,
            structure,
            formula=spec.formula,
            roles=spec.roles,
            name=spec.name,
            energy_per_atom_ev=None if energy is None else round(energy["energy_per_atom_ev"], 6),
            provenance=provenance,
            thermal=props,
        )
        phases[spec.phase_id] = phase
        entry = reflections_from_structure(structure).to_dict()
        entry["spec"] = digest
        reflections[spec.phase_id] = entry
    references = {
        p.elements and next(iter(p.elements)): p.energy_per_atom_ev
        for p in phases.values()
        if "element" in p.roles and p.energy_per_atom_ev is not None
    }
    fit = fit_references(phases, references, experimental["fit"])
    references.update(fit["mu"])
    meta = {
        "built": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "energy_model": "CHGNet 0.4.2 (model v0.3.0) relaxations, see ADR 0041",
        "reference_chemical_potentials_ev": {k: round(v, 6) for k, v in sorted(references.items())},
        "reference_fit": {**fit, "source": experimental["source"]},
        "phase_count": len(phases),
    }
    with gzip.open(DATA_DIR / "phases.json.gz", "wt", encoding="utf-8") as handle:
        json.dump({"meta": meta, "phases": [p.to_dict() for p in phases.values()]}, handle, separators=(",", ":"))
    with gzip.open(DATA_DIR / "reflections.json.gz", "wt", encoding="utf-8") as handle:
        json.dump(reflections, handle, separators=(",", ":"))
    missing = [p for p, ph in phases.items() if ph.energy_per_atom_ev is None]
    print(f"{len(phases)} phases, {len(missing)} without energy {missing[:10]}, stale energies {stale}")
    print(f"fitted references {fit['mu']}; MAE {fit['mae_mev_per_atom']} meV/atom over {fit['n_compounds']}")
    worst = sorted(fit["residuals_mev_per_atom"].items(), key=lambda kv: -abs(kv[1]))[:8]
    print("largest residuals (meV/atom):", worst)


if __name__ == "__main__":
    main()
