"""`powderlab xrd`: simulate and analyse powder patterns, and look up reference phases.

    powderlab xrd simulate LiCoO2=0.7 Co3O4=0.3 -o mix.xy [--seed N] [--amorphous 0.1] [--ideal]
    powderlab xrd analyze PATTERN --elements Li,Co,O [--references a.cif b.cif] [--json]
    powderlab xrd phases [--elements Li,Co,O] [--json]
    powderlab xrd add-phase FILE.cif [--id NAME] [--energy-per-atom E] [--library-dir DIR]

Pattern files: .xy .xye .dat .txt .csv .xrdml .ras .uxd (read); .xy .csv (write).
Phases added with add-phase are CIF copies in the user library folder (POWDERLAB_PHASE_DIR, default
~/.local/share/powderlab/phases); analyze and simulate load them along with the packaged library.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from powderlab.core.errors import ValidationError

USER_PHASE_DIR_ENV = "POWDERLAB_PHASE_DIR"


def register(subparsers: Any) -> None:
    """Add the `xrd` command and its subcommands."""
    p = subparsers.add_parser("xrd", help="simulate and analyse XRD patterns; reference phases")
    sub = p.add_subparsers(dest="xrd_command", required=True, metavar="SUBCOMMAND")

    sim = sub.add_parser("simulate", help="simulate a pattern of phases and weight fractions")
    sim.add_argument("phases", nargs="+", metavar="PHASE=FRACTION", help="library id or formula, or a CIF path")
    sim.add_argument("-o", "--output", required=True, help="output file (.xy or .csv)")
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--amorphous", type=float, default=0.0, help="amorphous weight fraction (0-1)")
    sim.add_argument("--start", type=float, default=10.0, help="2-theta start (deg)")
    sim.add_argument("--end", type=float, default=100.0, help="2-theta end (deg)")
    sim.add_argument("--step", type=float, default=0.02, help="2-theta step (deg)")
    sim.add_argument("--ideal", action="store_true", help="no strain, texture or noise")
    sim.set_defaults(handler=run_simulate)

    ana = sub.add_parser("analyze", help="identify phases and weight fractions in a pattern")
    ana.add_argument("pattern", help="pattern file")
    ana.add_argument("--elements", help="comma-separated elements of the sample, e.g. Li,Co,O,C")
    ana.add_argument("--references", nargs="+", metavar="CIF", help="use these structures as candidates")
    ana.add_argument("--candidates", help="comma-separated library phase ids to use as candidates")
    ana.add_argument("--json", action="store_true", help="print the result as JSON")
    ana.add_argument("--curves", action="store_true", help="with --json: include observed/calculated curves")
    ana.set_defaults(handler=run_analyze)

    lst = sub.add_parser("phases", help="list reference phases")
    lst.add_argument("--elements", help="only phases made of these elements")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=run_phases)

    add = sub.add_parser("add-phase", help="add a CIF structure to the user phase library")
    add.add_argument("cif", help="CIF file")
    add.add_argument("--id", dest="phase_id", help="phase id (default: the file name)")
    add.add_argument("--energy-per-atom", type=float, help="total energy (eV/atom, CHGNet scale) for thermodynamics")
    add.add_argument(
        "--library-dir", help=f"user library folder (default: ${USER_PHASE_DIR_ENV} or ~/.local/share/powderlab/phases)"
    )
    add.set_defaults(handler=run_add_phase)


def user_phase_dir(explicit: str | None = None) -> Path:
    """The folder of user-added CIF phases."""
    if explicit:
        return Path(explicit)
    env = os.environ.get(USER_PHASE_DIR_ENV)
    return Path(env) if env else Path.home() / ".local" / "share" / "powderlab" / "phases"


def load_library(explicit_dir: str | None = None) -> Any:
    """The packaged library plus the user's CIF phases."""
    from powderlab.chemistry.phases import default_library

    library = default_library()
    folder = user_phase_dir(explicit_dir)
    cifs = sorted(folder.glob("*.cif")) if folder.is_dir() else []
    if not cifs:
        return library
    library = library.copy()
    for cif in cifs:
        meta = cif.with_suffix(".json")
        energy = json.loads(meta.read_text()).get("energy_per_atom_ev") if meta.exists() else None
        library.add_cif(cif, energy_per_atom_ev=energy)
    return library


def _elements(text: str | None) -> list[str] | None:
    if text is None:
        return None
    from pymatgen.core.periodic_table import Element

    elements = [e.strip() for e in text.split(",") if e.strip()]
    bad = [e for e in elements if not Element.is_valid_symbol(e)]
    if bad or not elements:
        raise ValidationError("--elements", f"'{text}' has no valid element symbols {bad}; allowed: e.g. Li,Co,O")
    return elements


def run_simulate(args: argparse.Namespace) -> int:
    from powderlab.chemistry.phases import phase_from_cif
    from powderlab.chemistry.xrd.io import write_pattern
    from powderlab.chemistry.xrd.reflections import reflections_from_structure
    from powderlab.chemistry.xrd.simulate import SimulationOptions, simulate_pattern
    from powderlab.core.recipes import ScanSettings

    library = load_library()
    fractions: dict[str, float] = {}
    references = {}
    for item in args.phases:
        name, sep, value = item.rpartition("=")
        if not sep:
            raise ValidationError("phases", f"'{item}' must be PHASE=FRACTION, e.g. LiCoO2=0.7")
        try:
            fraction = float(value)
        except ValueError:
            raise ValidationError("phases", f"'{item}': fraction '{value}' is not a number") from None
        if name.lower().endswith(".cif"):
            phase = phase_from_cif(name)
            references[phase.phase_id] = reflections_from_structure(phase.structure())
            key = phase.phase_id
        else:
            key = library.find(name).phase_id
        fractions[key] = fractions.get(key, 0.0) + fraction
    options = SimulationOptions()
    if args.ideal:
        options = options.ideal()
    scan = ScanSettings(two_theta_start_deg=args.start, two_theta_end_deg=args.end, step_deg=args.step)
    pattern = simulate_pattern(
        fractions,
        scan,
        options,
        seed=args.seed,
        amorphous_fraction=args.amorphous,
        library=library,
        references=references,
    )
    path = write_pattern(pattern, args.output)
    print(
        f"wrote {path} ({pattern.two_theta_deg.size} points; {', '.join(f'{k}={v:g}' for k, v in fractions.items())})"
    )
    return 0


def run_analyze(args: argparse.Namespace) -> int:
    from powderlab.chemistry.phases import phase_from_cif
    from powderlab.chemistry.xrd.analyze import analyze_pattern
    from powderlab.chemistry.xrd.io import read_pattern
    from powderlab.chemistry.xrd.reflections import reflections_from_structure

    elements = _elements(args.elements)
    pattern = read_pattern(args.pattern)
    library = load_library()
    references = None
    if args.references:
        references = {}
        for cif in args.references:
            phase = phase_from_cif(cif)
            references[phase.phase_id] = reflections_from_structure(phase.structure())
    candidates = [c.strip() for c in args.candidates.split(",")] if args.candidates else None
    if candidates is None and elements is None and references is None:
        raise ValidationError("analyze", "give --elements, --candidates or --references")
    result = analyze_pattern(
        pattern,
        candidates=candidates,
        elements=None if references is not None and elements is None else elements,
        references=references,
        library=library,
    )
    if args.json:
        json.dump(result.to_dict(include_curves=args.curves), sys.stdout, indent=2)
        print()
        return 0
    print(
        f"{args.pattern}: Rwp {result.rwp:.4f} (Rexp {result.rexp:.4f}), "
        f"{result.elapsed_s:.2f} s, {len(result.candidates)} candidates"
    )
    for phase in result.phases:
        print(
            f"  {phase.phase_id:18s} {phase.formula:12s} {100 * phase.weight_fraction:6.1f} wt%  "
            f"confidence {phase.confidence:.2f}  lattice x{phase.lattice_scale:.4f}"
        )
    if result.unknown_phase_suspected:
        print(
            f"  unexplained peaks: {100 * result.unexplained_fraction:.1f} % of the intensity; "
            "an unknown phase is likely"
        )
    return 0


def run_phases(args: argparse.Namespace) -> int:
    library = load_library()
    elements = _elements(args.elements)
    phases = library.in_system(elements, include_elements=True) if elements else list(library)
    rows = [
        {
            "phase_id": p.phase_id,
            "formula": p.reduced_formula,
            "spacegroup": p.spacegroup,
            "roles": list(p.roles),
            "energy_per_atom_ev": p.energy_per_atom_ev,
            "melting_c": p.melting_c,
            "source": p.provenance.get("structure_source") or p.provenance.get("source", ""),
        }
        for p in phases
    ]
    if args.json:
        json.dump(rows, sys.stdout, indent=2)
        print()
    else:
        for row in rows:
            print(f"{row['phase_id']:18s} {row['formula']:12s} {row['spacegroup']:10s} {','.join(row['roles'])}")
        print(f"{len(rows)} phases")
    return 0


def run_add_phase(args: argparse.Namespace) -> int:
    from powderlab.chemistry.phases import default_library, phase_from_cif

    phase = phase_from_cif(args.cif, args.phase_id, args.energy_per_atom)  # validates the CIF first
    if phase.phase_id in default_library():
        raise ValidationError("--id", f"'{phase.phase_id}' is a packaged phase; give another id")
    folder = user_phase_dir(args.library_dir)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{phase.phase_id}.cif"
    shutil.copyfile(args.cif, target)
    if args.energy_per_atom is not None:
        target.with_suffix(".json").write_text(json.dumps({"energy_per_atom_ev": args.energy_per_atom}) + "\n")
    print(f"added {phase.phase_id} ({phase.reduced_formula}, {phase.spacegroup}) to {folder}")
    return 0
