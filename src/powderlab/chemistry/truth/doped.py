"""Doped targets of the hidden world: A1-xBxMO3-style solid solutions of a library host (ADR 0113).

A doped phase is the host's structure with a share `x` of one cation site taken by a dopant, as
an ordered approximant (a supercell with every 1/x-th site substituted), its lattice scaled by
Vegard's law between the host and the isostructural end member (both library phases), and its
energy the ideal-solution estimate: the x-weighted mix of host and end member minus the
configurational entropy at 1000 C. That nominal phase is public (a planner may be given it, as
it would be given a predicted candidate); what is hidden is how it forms (truth/model.py): the
doped phase forms only while the host forms with a free (one-cation) dopant source in the
crucible, the dopant diffusing in with the host's cations; a dopant already tied up in a stable
intermediate (e.g. the end member, formed first from a reactive dopant precursor) does not come
out again, since mixing host and end member drives only ~10 meV/atom, below the nucleation
threshold.
"""

from __future__ import annotations

import math
from itertools import product

from powderlab.chemistry.phases import GAS_ELEMENTS, Phase, PhaseLibrary
from powderlab.core.errors import ValidationError

DOPED_ROLE = "doped"
BOLTZMANN_EV_PER_K = 8.617333262e-5
MIXING_TEMPERATURE_K = 1273.15  # the configurational entropy that stabilises the solid solution
SUPERCELLS = ((1, 1, 1), (2, 1, 1), (2, 2, 1), (2, 2, 2), (3, 2, 2), (3, 3, 2), (4, 2, 2), (5, 2, 1), (5, 2, 2))


def _cations(phase: Phase) -> dict[str, float]:
    return {el.symbol: float(a) for el, a in phase.composition.items() if el.symbol not in GAS_ELEMENTS}


def substitution(host: Phase, end_member: Phase) -> tuple[str, str] | None:
    """(site element of the host, dopant) when the end member is the host with one cation
    replaced, in the same space group; else None."""
    if host.spacegroup != end_member.spacegroup or host.elements & GAS_ELEMENTS != end_member.elements & GAS_ELEMENTS:
        return None
    a, b = _cations(host), _cations(end_member)
    only_host, only_end = set(a) - set(b), set(b) - set(a)
    if len(only_host) != 1 or len(only_end) != 1:
        return None
    site, dopant = next(iter(only_host)), next(iter(only_end))
    swapped = {(dopant if el == site else el): v for el, v in a.items()}
    return (site, dopant) if swapped == b and host.composition.num_atoms == end_member.composition.num_atoms else None


def doped_formula(host: Phase, site: str, dopant: str, fraction: float) -> str:
    """E.g. BaTiO3, Ba, Sr, 0.25 -> 'Ba0.75Sr0.25TiO3' (the host's element order)."""
    parts = []
    for el, amount in host.composition.items():
        symbol = el.symbol
        if symbol == site:
            parts.append(f"{symbol}{_number(amount * (1 - fraction))}{dopant}{_number(amount * fraction)}")
        else:
            parts.append(f"{symbol}{_number(amount)}")
    return "".join(parts)


def _number(value: float) -> str:
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "" if text == "1" else text


def doped_phase(host: Phase, end_member: Phase, fraction: float) -> Phase:
    """The nominal doped phase (see the module docstring); ValidationError when the pair is not a
    one-cation substitution or no supercell up to 40 formula units places the fraction."""
    if not 0.0 < fraction < 1.0:
        raise ValidationError("fraction", f"{fraction:g} is out of range; allowed: 0 < x < 1")
    pair = substitution(host, end_member)
    if pair is None:
        raise ValidationError(
            f"end member {end_member.phase_id}",
            f"is not {host.phase_id} with one cation replaced in the same space group",
        )
    site, dopant = pair
    if host.energy_per_atom_ev is None or end_member.energy_per_atom_ev is None:
        raise ValidationError(f"{host.phase_id} / {end_member.phase_id}", "need energies for a doped phase")
    structure = host.structure()
    for scale in SUPERCELLS:
        sites = sum(1 for s in structure if s.specie.symbol == site) * math.prod(scale)
        if abs(sites * fraction - round(sites * fraction)) < 1e-6 and round(sites * fraction) >= 1:
            break
    else:
        raise ValidationError("fraction", f"{fraction:g} needs a supercell over 40 formula units; use 1/n or k/8")
    cell = structure.copy()
    cell.make_supercell(list(scale))
    indices = [i for i, s in enumerate(cell) if s.specie.symbol == site]
    count = round(len(indices) * fraction)
    step = len(indices) / count
    for k in range(count):  # spread the dopants over the sites
        cell.replace(indices[int(k * step)], dopant)
    atoms_per_unit = host.composition.num_atoms
    volume = (1 - fraction) * _volume_per_atom(host) + fraction * _volume_per_atom(end_member)
    cell.scale_lattice(volume * len(cell))
    site_share = _cations(host)[site] / atoms_per_unit  # site atoms per atom
    entropy = -site_share * (fraction * math.log(fraction) + (1 - fraction) * math.log(1 - fraction))
    energy = (
        (1 - fraction) * host.energy_per_atom_ev
        + fraction * end_member.energy_per_atom_ev
        - BOLTZMANN_EV_PER_K * MIXING_TEMPERATURE_K * entropy
    )
    formula = doped_formula(host, site, dopant, fraction)
    return Phase.from_structure(
        formula,
        cell,
        formula=formula,
        roles=("target", DOPED_ROLE),
        name=f"{host.phase_id}:{dopant} (x = {fraction:g} on {site})",
        energy_per_atom_ev=float(energy),
        provenance={
            "host": host.phase_id,
            "end_member": end_member.phase_id,
            "site": site,
            "dopant": dopant,
            "fraction": fraction,
            "source": "ordered approximant of the host, Vegard lattice, ideal-solution energy (truth/doped.py)",
        },
        thermal=dict(host.thermal),
    )


def _volume_per_atom(phase: Phase) -> float:
    structure = phase.structure()
    return float(structure.volume) / len(structure)


def doped_candidates(library: PhaseLibrary, hosts: list[str] | None = None) -> list[tuple[str, str]]:
    """(host id, end member id) pairs of the library: a target host and an isostructural phase
    with one cation replaced (e.g. BaTiO3 / SrTiO3)."""
    targets = [library.get(h) for h in hosts] if hosts else library.with_role("target")
    pairs = []
    for host, other in product(targets, list(library)):
        if host.phase_id != other.phase_id and substitution(host, other) is not None:
            pairs.append((host.phase_id, other.phase_id))
    return sorted(pairs)


def with_doped(library: PhaseLibrary, doped: list[tuple[str, str, float]]) -> PhaseLibrary:
    """A copy of the library plus doped phases given as (host id, end member id, fraction)."""
    copy = library.copy()
    for host, end_member, fraction in doped:
        copy.add(doped_phase(library.get(host), library.get(end_member), fraction), replace=True)
    return copy
