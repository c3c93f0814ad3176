"""The candidate library: predicted structures of targets given by formula alone (ADR 0109).

`powderlab plan screen FORMULA` keeps the lowest-energy relaxed structure of a formula the
packaged library does not hold; it is saved here, one file of phases (the packaged library's
format, role "candidate"), so every process of a campaign finds it by one path:

- the planner plans recipes for it (its formula is found in the library, with its energy);
- the XRD analysis gets the predicted structure as a reference;
- the twin's hidden world holds it too, where its hidden fate (truth/novel.py) decides what
  really forms and what the diffractometer sees.

Default file: `candidates.json` in the user phase folder (POWDERLAB_PHASE_DIR, default
~/.local/share/powderlab/phases), beside the CIFs of `powderlab xrd add-phase`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from powderlab.chemistry.phases import Phase, PhaseLibrary, default_library
from powderlab.core.errors import ValidationError

CANDIDATE_ROLE = "candidate"
CANDIDATES_FILE = "candidates.json"
USER_PHASE_DIR_ENV = "POWDERLAB_PHASE_DIR"


def default_candidates_path() -> Path:
    """The user's candidate library file (it may not exist yet)."""
    env = os.environ.get(USER_PHASE_DIR_ENV)
    folder = Path(env) if env else Path.home() / ".local" / "share" / "powderlab" / "phases"
    return folder / CANDIDATES_FILE


def read_candidates(path: str | Path) -> list[Phase]:
    """The phases of a candidate library file (ValidationError naming the file if it is not one)."""
    file = Path(path)
    if not file.is_file():
        raise ValidationError(str(file), "no such candidate library file; write one with `powderlab plan screen`")
    try:
        data = json.loads(file.read_text())
        phases = [Phase.from_dict(item) for item in data["phases"]]
    except (ValueError, KeyError, TypeError) as error:
        raise ValidationError(
            str(file), f"is not a candidate library ({type(error).__name__}: {error}); expected {{'phases': [...]}}"
        ) from None
    return phases


def save_candidate(path: str | Path, phase: Phase) -> Path:
    """Add (or replace, same formula) a predicted phase in the candidate library file."""
    file = Path(path)
    phases = read_candidates(file) if file.exists() else []
    kept = [p for p in phases if p.reduced_formula != phase.reduced_formula and p.phase_id != phase.phase_id]
    kept.append(phase)
    file.parent.mkdir(parents=True, exist_ok=True)
    partial = file.with_suffix(file.suffix + ".part")
    partial.write_text(json.dumps({"phases": [p.to_dict() for p in kept]}, indent=1) + "\n")
    partial.replace(file)  # readers never see half a file
    return file


def library_with_candidates(path: str | Path | None) -> PhaseLibrary:
    """The packaged library, plus the candidates of `path` when one is given (a copy then)."""
    library = default_library()
    if not path:
        return library
    candidates = read_candidates(path)
    if not candidates:
        return library
    library = library.copy()
    for phase in candidates:
        if phase.phase_id in default_library():
            raise ValidationError(str(path), f"'{phase.phase_id}' is a packaged phase id; a candidate needs its own")
        roles = phase.roles if CANDIDATE_ROLE in phase.roles else (*phase.roles, CANDIDATE_ROLE)
        library.add(Phase.from_dict({**phase.to_dict(), "roles": list(roles)}), replace=True)
    return library


def candidates_for(formulas: list[str], explicit: str | Path | None = None) -> str | None:
    """The candidate library file a campaign of these targets uses, or None.

    An explicit file is always used (a missing or unreadable one is refused). Otherwise the user's
    file is used when it holds a target that is not a packaged phase. A target in neither is left
    to the planner's check, which refuses it before any lab starts (a fixed-recipe target needs no
    structure).
    """
    if explicit:
        read_candidates(explicit)  # refuse a missing or unreadable file before any lab starts
        return str(explicit)
    library = default_library()
    new = {_reduced(f) for f in formulas if f not in library and not library.by_formula(f)}
    path = default_candidates_path()
    if not new or not path.is_file():
        return None
    return str(path) if new & {p.reduced_formula for p in read_candidates(path)} else None


def _reduced(formula: str) -> str:
    from pymatgen.core import Composition

    return Composition(formula).reduced_formula
