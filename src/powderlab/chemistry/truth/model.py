"""The hidden-truth synthesis model (the twin's chemistry). See the package docstring: twin only.

State: the amount of every solid phase in the crucible, in mmol of "closed" atoms (atoms other
than O, C, H, N, which the furnace atmosphere exchanges). At each step of the heating profile:

1. unstable phases decompose (carbonates, hydroxides, NH4H2PO4, MnO2, Co3O4 ...), thermodynamics
   at T in air (open O, C, H, N) deciding what forms;
2. pairs of phases react, most negative driving force first, once the pair's hidden onset
   temperature (near the Tamman temperature of the lower-melting reactant) is passed; the product
   set at each mixing ratio minimises the grand potential (a small linear programme); the rate is
   Arrhenius above onset times 1 - exp(-|dG| / 30 meV/atom), so a last step with a small driving
   force is sluggish; milling raises the contact factor, a melt speeds reactions up;
   a product must also nucleate: the rate carries exp(-(dG_c / |dG|)^2 * T_ref / T) (classical
   nucleation, barrier ~ 1/dG^2; dG_c = World.kinetic_threshold_ev, ~50 meV/atom per the A-Lab's
   sluggish steps, drawn per product), so a pair that first forms a stable intermediate can leave
   too little driving force for the target at any furnace temperature: the precursor choice
   matters (ARROWS; ADR 0113);
3. products formed below their hidden crystallisation temperature stay amorphous until heated;
4. volatile free phases (MoO3, Bi2O3, Li2O/Li2CO3, K2O, ...) lose mass at high temperature;
5. hidden energy offsets make some targets not really stable: they never form or decompose.

Doped phases of the library (role "doped", truth/doped.py) form only from a free dopant source:
a product of a reaction in which every dopant-bearing reactant is a one-cation phase (oxide,
carbonate, hydroxide, nitrate); a reaction that forms the host pulls such a source in at the
pair's rate (the dopant diffuses in with the host's cations). A dopant already in a multi-cation
intermediate (e.g. the end member, formed first from a reactive dopant precursor) stays there.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np
from scipy.optimize import linprog, nnls

from powderlab.chemistry.gases import AIR, Atmosphere, open_element_potentials
from powderlab.chemistry.phases import GAS_ELEMENTS, Phase, PhaseLibrary, default_library
from powderlab.chemistry.thermo import Thermo, default_thermo
from powderlab.chemistry.truth.doped import DOPED_ROLE
from powderlab.chemistry.truth.world import World
from powderlab.core.errors import UnknownResourceError, ValidationError
from powderlab.core.recipes import FurnaceLimits, HeatingProfile, MillingSettings, SegmentKind
from powderlab.core.units import require_positive

GAS_CONSTANT = 8.314462618
TEMPERATURE_BIN_K = 25.0
RAMP_STEP_C = 10.0
HOLD_STEP_H = 0.25
ACTIVATION_J_MOL = 200_000.0
RATE_AT_ONSET_PER_H = 0.6
DECOMPOSITION_RATE_PER_H = 3.0
SLUGGISH_EV_PER_ATOM = 0.03
CRYSTALLISATION_RATE_PER_H = 2.0
VOLATILITY_ACTIVATION_J_MOL = 300_000.0
MIN_REACTION_EV = 1e-3
THREE_BODY_FACTOR = 0.25  # three phases meeting at once are rarer than a pair
NUCLEATION_REFERENCE_K = 1273.15  # the nucleation threshold is dG_c at this temperature
TINY = 1e-9


@dataclass(frozen=True)
class ReactionEvent:
    """Something that happened in the crucible: first seen at time_s / temperature_c."""

    time_s: float
    temperature_c: float
    kind: str  # decomposition, reaction, volatilisation, crystallisation
    description: str
    extent_mmol: float = 0.0  # closed-atom mmol converted over the whole profile

    def to_dict(self) -> dict[str, Any]:
        return {
            "time_s": round(self.time_s, 1),
            "temperature_c": round(self.temperature_c, 1),
            "kind": self.kind,
            "description": self.description,
            "extent_mmol": round(self.extent_mmol, 6),
        }


@dataclass(frozen=True)
class SynthesisOutcome:
    """What is in the crucible after the profile (masses in mg)."""

    phases_mg: dict[str, float]  # crystalline phases
    amorphous_mg: dict[str, float]  # amorphous share of each phase (invisible to XRD peaks)
    volatilised_mg: dict[str, float]  # free phases lost by evaporation / sublimation
    gases_mg: dict[str, float]  # released (positive) or taken up (negative, O2)
    events: tuple[ReactionEvent, ...] = field(default_factory=tuple)

    @property
    def total_mg(self) -> float:
        return sum(self.phases_mg.values()) + sum(self.amorphous_mg.values())

    @property
    def amorphous_total_mg(self) -> float:
        return sum(self.amorphous_mg.values())

    def weight_fractions(self, crystalline_only: bool = True) -> dict[str, float]:
        """Weight fractions of the crystalline phases (what XRD quantifies), or of everything."""
        masses = dict(self.phases_mg)
        total = sum(masses.values()) + (0.0 if crystalline_only else self.amorphous_total_mg)
        return {k: v / total for k, v in masses.items()} if total > 0 else {}

    def yield_of(self, phase_id: str) -> float:
        """Crystalline weight fraction of a phase (the A-Lab's yield)."""
        return self.weight_fractions().get(phase_id, 0.0)

    def to_dict(self) -> dict[str, Any]:
        def rounded(values: Mapping[str, float]) -> dict[str, float]:
            return {k: round(v, 4) for k, v in values.items()}

        return {
            "phases_mg": rounded(self.phases_mg),
            "amorphous_mg": rounded(self.amorphous_mg),
            "volatilised_mg": rounded(self.volatilised_mg),
            "gases_mg": rounded(self.gases_mg),
            "events": [e.to_dict() for e in self.events],
        }


@dataclass
class _Reaction:
    reactants: tuple[str, ...]
    coefficients: tuple[float, ...]  # closed-atom share of each reactant (sum 1)
    products: dict[str, float]  # closed atoms of each product per closed atom of reactants
    driving_ev_per_atom: float


class SynthesisModel:
    """Decides what forms from precursors, a heating profile and milling. Seeded, reproducible."""

    def __init__(
        self,
        seed: int = 0,
        library: PhaseLibrary | None = None,
        atmosphere: Atmosphere = AIR,
        kinetic_threshold_ev: float | None = None,
    ) -> None:
        self.seed = int(seed)
        # kinetic_threshold_ev: the nucleation threshold dG_c (None: the World default, 0: none; ADR 0113)
        self.world = (
            World(self.seed)
            if kinetic_threshold_ev is None
            else World(self.seed, kinetic_threshold_ev=kinetic_threshold_ev)
        )
        self.library = library if library is not None else default_library()
        self.thermo = default_thermo() if library is None else Thermo(self.library)
        self.atmosphere = atmosphere
        self._phi: dict[tuple[str, int], float] = {}
        self._reactions: dict[tuple, _Reaction | None] = {}
        self._closed: dict[str, dict[str, float]] = {}
        self._doped_by_host: dict[str, list[Phase]] = {}
        for phase in self.library.with_role(DOPED_ROLE):
            self._doped_by_host.setdefault(str(phase.provenance.get("host", "")), []).append(phase)

    # --- public -------------------------------------------------------------------------------

    def react(
        self,
        precursor_mg: Mapping[str, float],
        profile: HeatingProfile,
        milling: MillingSettings | None = None,
        limits: FurnaceLimits | None = None,
    ) -> SynthesisOutcome:
        """Run the heating profile on the dosed powders (name -> mg) and return what is there."""
        limits = limits or FurnaceLimits()
        if not precursor_mg:
            raise ValidationError("precursor_mg", "no powder given; give at least one precursor with its mass")
        amounts: dict[str, float] = {}
        for name, given in precursor_mg.items():
            phase = self._phase(name)
            mass = require_positive(f"mass of {name}", given, "mg")
            closed = self._closed_atoms(phase)
            if closed <= 0:
                raise ValidationError(
                    f"precursor {name}", "contains only O, C, H or N; allowed: solids with a metal or P"
                )
            amounts[phase.phase_id] = amounts.get(phase.phase_id, 0.0) + mass / float(phase.composition.weight) * closed
        initial = dict(amounts)
        elements = set().union(*(self.library.get(p).elements for p in amounts))
        candidates = [
            p
            for p in self.library.in_system(elements | GAS_ELEMENTS)
            if self.thermo.has_energy(p) and p.elements - GAS_ELEMENTS
        ]
        state = _State(amounts, {}, {}, {}, self._experiment_noise(precursor_mg, profile, milling))
        contact = _contact_factor(milling)
        for time_h, temperature_c, dt_h in _temperature_steps(profile, limits):
            self._step(state, candidates, temperature_c, dt_h=dt_h, contact=contact, time_h=time_h)
        return self._outcome(state, initial)

    # --- thermodynamics in the open system -----------------------------------------------------

    def _phase(self, name: str) -> Phase:
        try:
            return self.library.find(name)
        except UnknownResourceError as error:
            raise UnknownResourceError("precursor", name, error.known) from None

    def _closed_composition(self, phase: Phase) -> dict[str, float]:
        if phase.phase_id not in self._closed:
            self._closed[phase.phase_id] = {
                el.symbol: float(a) for el, a in phase.composition.items() if el.symbol not in GAS_ELEMENTS
            }
        return self._closed[phase.phase_id]

    def _closed_atoms(self, phase: Phase) -> float:
        return sum(self._closed_composition(phase).values())

    def _phi_per_closed_atom(self, phase: Phase, temperature_k: float) -> float:
        """Grand potential per closed atom (eV): G_f(T) + hidden offset, minus the open elements."""
        key = (phase.phase_id, round(temperature_k / TEMPERATURE_BIN_K))
        if key not in self._phi:
            t = key[1] * TEMPERATURE_BIN_K
            n = phase.composition.num_atoms
            g = (
                self.thermo.gibbs_formation_per_atom(phase, min(max(t, 300.0), 2000.0))
                + self.world.energy_offset(phase)
            ) * n
            mu = open_element_potentials(t, self.atmosphere)
            g -= sum(float(a) * mu[el.symbol] for el, a in phase.composition.items() if el.symbol in GAS_ELEMENTS)
            self._phi[key] = g / self._closed_atoms(phase)
        return self._phi[key]

    def _reaction(self, names: tuple[str, ...], candidates: list[Phase], temperature_k: float) -> _Reaction | None:
        """Most favourable reaction of one phase (decomposition) or a pair, or None."""
        key = (names, round(temperature_k / TEMPERATURE_BIN_K))
        if key in self._reactions:
            return self._reactions[key]
        reactants = [self.library.get(n) for n in names]
        closed = set().union(*(set(self._closed_composition(p)) for p in reactants))
        usable = [
            p
            for p in candidates
            if set(self._closed_composition(p)) <= closed
            and (DOPED_ROLE not in p.roles or self._free_dopant(p, reactants))
        ]
        elements = sorted(closed)
        t = key[1] * TEMPERATURE_BIN_K

        def column(phase: Phase) -> list[float]:
            comp = self._closed_composition(phase)
            m = self._closed_atoms(phase)
            return [comp.get(el, 0.0) / m for el in elements]

        phi_products = np.array([self._phi_per_closed_atom(p, t) for p in usable])
        phi_reactants = np.array([self._phi_per_closed_atom(p, t) for p in reactants])
        k = len(reactants)
        a_eq = np.zeros((len(elements) + 1, len(usable) + k))
        a_eq[: len(elements), : len(usable)] = np.array([column(p) for p in usable]).T
        a_eq[: len(elements), len(usable) :] = -np.array([column(p) for p in reactants]).T
        a_eq[-1, len(usable) :] = 1.0
        b_eq = np.zeros(len(elements) + 1)
        b_eq[-1] = 1.0
        cost = np.concatenate([phi_products, -phi_reactants])
        share_bounds = {1: (1.0, 1.0), 2: (0.02, 0.98), 3: (0.02, 0.96)}[k]
        bounds = [(0, None)] * len(usable) + [share_bounds] * k
        solution = linprog(cost, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        result = None
        if solution.success and solution.fun < -MIN_REACTION_EV:
            shares = solution.x[len(usable) :]
            products = {
                p.phase_id: float(v) for p, v in zip(usable, solution.x[: len(usable)], strict=True) if v > 1e-9
            }
            for name, share in zip(names, shares, strict=True):  # a reactant on both sides is only partly used
                if name in products:
                    used = min(products.pop(name), share)
                    shares = shares.copy()
                    shares[names.index(name)] -= used
            total_share = float(np.sum(shares))
            if total_share > 1e-6 and products:
                atoms = sum(
                    s * p.composition.num_atoms / self._closed_atoms(p) for s, p in zip(shares, reactants, strict=True)
                )
                result = _Reaction(
                    reactants=names,
                    coefficients=tuple(float(s) / total_share for s in shares),
                    products={p: v / total_share for p, v in products.items()},
                    driving_ev_per_atom=float(solution.fun) / atoms,
                )
        self._reactions[key] = result
        return result

    # --- one time step --------------------------------------------------------------------------

    def _step(
        self,
        state: _State,
        candidates: list[Phase],
        temperature_c: float,
        *,
        dt_h: float,
        contact: float,
        time_h: float,
    ) -> None:
        temperature_k = temperature_c + 273.15
        present = sorted(p for p, x in state.amounts.items() if x > TINY)
        reactions: list[tuple[float, _Reaction, float]] = []
        for name in present:
            if temperature_c < self.world.transformation_onset_c(self.library.get(name)):
                continue
            reaction = self._reaction((name,), candidates, temperature_k)
            if reaction is not None:
                g = 1.0 - math.exp(-abs(reaction.driving_ev_per_atom) / (2 * SLUGGISH_EV_PER_ATOM))
                reactions.append((reaction.driving_ev_per_atom, reaction, DECOMPOSITION_RATE_PER_H * g))
        for group in [*combinations(present, 2), *combinations(present, 3)]:
            phases = [self.library.get(n) for n in group]
            if any(DOPED_ROLE in p.roles for p in phases):
                continue  # a formed solid solution is the host with a dopant: it reacts no further
            onset = float(np.median([self.world.onset_c(p, q) for p, q in combinations(phases, 2)]))
            if temperature_c < onset:
                continue
            reaction = self._reaction(group, candidates, temperature_k)
            if reaction is not None and len(group) == 2 and self._doped_by_host:
                reaction = self._with_dopant(reaction, group, present, candidates, temperature_k)
            if reaction is None or (
                len(group) == 3 and not self._needs_three(reaction, group, candidates, temperature_k)
            ):
                continue
            onset_k = onset + 273.15
            arrhenius = math.exp(ACTIVATION_J_MOL / GAS_CONSTANT * (1.0 / onset_k - 1.0 / temperature_k))
            melt = 4.0 if temperature_c > min(self.world.melting_c(p) for p in phases) else 1.0
            g = 1.0 - math.exp(-abs(reaction.driving_ev_per_atom) / SLUGGISH_EV_PER_ATOM)
            g *= self._nucleation(reaction, temperature_k)
            factor = float(np.mean([self.world.rate_factor(p, q) for p, q in combinations(phases, 2)]))
            if len(group) == 3:
                factor *= THREE_BODY_FACTOR
            rate = RATE_AT_ONSET_PER_H * min(arrhenius, 200.0) * factor * contact * melt * g
            reactions.append((reaction.driving_ev_per_atom, reaction, rate * state.noise))
        for _, reaction, rate in sorted(reactions, key=lambda item: item[0]):
            self._apply(state, reaction, rate, dt_h=dt_h, temperature_c=temperature_c, time_h=time_h)
        self._crystallise(state, temperature_c, dt_h, time_h)
        self._volatilise(state, temperature_c, dt_h, time_h)

    def _free_dopant(self, doped: Phase, reactants: list[Phase]) -> bool:
        """A doped phase may form here: its dopant comes only from one-cation reactants."""
        dopant = str(doped.provenance.get("dopant", ""))
        bearing = [r for r in reactants if dopant in self._closed_composition(r)]
        return bool(bearing) and all(len(self._closed_composition(r)) == 1 for r in bearing)

    def _with_dopant(
        self,
        reaction: _Reaction,
        group: tuple[str, ...],
        present: list[str],
        candidates: list[Phase],
        temperature_k: float,
    ) -> _Reaction:
        """A pair forming a doped phase's host pulls in a free dopant source present in the crucible:
        the pair's reaction becomes the three-phase one that forms the doped phase, at the pair's rate."""
        for host in [p for p in reaction.products if p in self._doped_by_host]:
            for doped in self._doped_by_host[host]:
                dopant = str(doped.provenance.get("dopant", ""))
                for source in present:
                    if source in group or set(self._closed_composition(self.library.get(source))) != {dopant}:
                        continue
                    doping = self._doping_reaction(doped, tuple(sorted((*group, source))), temperature_k)
                    if doping is not None:
                        return doping
        return reaction

    def _doping_reaction(self, doped: Phase, names: tuple[str, ...], temperature_k: float) -> _Reaction | None:
        """The reactants, in the doped phase's proportions, forming the doped phase alone (None when
        they cannot make it exactly or it is not downhill)."""
        key = (DOPED_ROLE, doped.phase_id, names, round(temperature_k / TEMPERATURE_BIN_K))
        if key in self._reactions:
            return self._reactions[key]
        reactants = [self.library.get(n) for n in names]
        wanted = self._closed_composition(doped)
        elements = sorted(wanted)
        result = None
        if set().union(*(set(self._closed_composition(r)) for r in reactants)) == set(elements):
            matrix = np.array(
                [
                    [self._closed_composition(r).get(el, 0.0) / self._closed_atoms(r) for r in reactants]
                    for el in elements
                ]
            )
            target = np.array([wanted[el] / self._closed_atoms(doped) for el in elements])
            shares, residual = nnls(matrix, target)
            if residual < 1e-6 and np.all(shares > 1e-9):
                t = key[3] * TEMPERATURE_BIN_K
                drive = self._phi_per_closed_atom(doped, t) - sum(
                    float(x) * self._phi_per_closed_atom(r, t) for x, r in zip(shares, reactants, strict=True)
                )
                atoms = sum(
                    float(x) * r.composition.num_atoms / self._closed_atoms(r)
                    for x, r in zip(shares, reactants, strict=True)
                )
                if drive < -MIN_REACTION_EV:
                    total = float(np.sum(shares))
                    result = _Reaction(
                        reactants=names,
                        coefficients=tuple(float(x) / total for x in shares),
                        products={doped.phase_id: 1.0 / total},
                        driving_ev_per_atom=drive / atoms,
                    )
        self._reactions[key] = result
        return result

    def _nucleation(self, reaction: _Reaction, temperature_k: float) -> float:
        """Share of the rate left by the nucleation barrier of the reaction's main new product:
        exp(-(dG_c / |dG|)^2 * T_ref / T); 1 with no threshold or only reactants on both sides."""
        fresh = {p: v for p, v in reaction.products.items() if p not in reaction.reactants}
        if not fresh:
            return 1.0
        product = self.library.get(max(fresh, key=lambda p: (fresh[p], p)))
        threshold = self.world.nucleation_threshold_ev(product)
        if threshold <= 0:
            return 1.0
        drive = max(abs(reaction.driving_ev_per_atom), 1e-6)
        return math.exp(-((threshold / drive) ** 2) * NUCLEATION_REFERENCE_K / temperature_k)

    def _needs_three(
        self, reaction: _Reaction, group: tuple[str, ...], candidates: list[Phase], temperature_k: float
    ) -> bool:
        """A three-phase reaction counts only for a product that none of its pairs makes (the library
        lacks some intermediates, e.g. Li-P-O and Ni-P-O phases on the way to LiNiPO4)."""
        from_pairs: set[str] = set()
        for pair in combinations(group, 2):
            pair_reaction = self._reaction(pair, candidates, temperature_k)
            if pair_reaction is not None:
                from_pairs |= set(pair_reaction.products)
        return any(product not in from_pairs and product not in group for product in reaction.products)

    def _apply(
        self, state: _State, reaction: _Reaction, rate: float, *, dt_h: float, temperature_c: float, time_h: float
    ) -> None:
        limit = min(
            state.amounts.get(n, 0.0) / c
            for n, c in zip(reaction.reactants, reaction.coefficients, strict=True)
            if c > 0
        )
        extent = limit * (1.0 - math.exp(-rate * dt_h))
        if extent <= TINY:
            return
        for name, coefficient in zip(reaction.reactants, reaction.coefficients, strict=True):
            before = state.amounts[name]
            state.amounts[name] = max(before - coefficient * extent, 0.0)
            if name in state.amorphous and before > 0:
                state.amorphous[name] *= state.amounts[name] / before
        for product, amount in reaction.products.items():
            state.amounts[product] = state.amounts.get(product, 0.0) + amount * extent
            fresh = len(reaction.reactants) == 2 and product not in reaction.reactants
            if fresh and temperature_c < self.world.crystallisation_c(self.library.get(product)):
                state.amorphous[product] = state.amorphous.get(product, 0.0) + amount * extent
        kind = "decomposition" if len(reaction.reactants) == 1 else "reaction"
        drive = reaction.driving_ev_per_atom * 1000
        text = f"{' + '.join(reaction.reactants)} -> {' + '.join(sorted(reaction.products))} ({drive:.0f} meV/atom)"
        state.log(kind, text, extent, time_h, temperature_c)

    def _crystallise(self, state: _State, temperature_c: float, dt_h: float, time_h: float) -> None:
        for name, amount in list(state.amorphous.items()):
            if amount > TINY and temperature_c >= self.world.crystallisation_c(self.library.get(name)):
                converted = amount * (1.0 - math.exp(-CRYSTALLISATION_RATE_PER_H * dt_h))
                state.amorphous[name] = amount - converted
                state.log("crystallisation", f"amorphous {name} crystallises", converted, time_h, temperature_c)

    def _volatilise(self, state: _State, temperature_c: float, dt_h: float, time_h: float) -> None:
        temperature_k = temperature_c + 273.15
        for name, amount in list(state.amounts.items()):
            params = self.world.volatility(self.library.get(name))
            if params is None or amount <= TINY or temperature_c < params[2]:
                continue
            loss_per_h, reference_c, _ = params
            rate = loss_per_h * math.exp(
                VOLATILITY_ACTIVATION_J_MOL / GAS_CONSTANT * (1 / (reference_c + 273.15) - 1 / temperature_k)
            )
            lost = amount * (1.0 - math.exp(-min(rate, 50.0) * dt_h))
            state.amounts[name] = amount - lost
            if name in state.amorphous:
                state.amorphous[name] *= state.amounts[name] / amount
            phase = self.library.get(name)
            state.volatilised[name] = state.volatilised.get(name, 0.0) + lost / self._closed_atoms(phase) * float(
                phase.composition.weight
            )
            state.log("volatilisation", f"{name} evaporates", lost, time_h, temperature_c)

    # --- bookkeeping ----------------------------------------------------------------------------

    def _experiment_noise(
        self, precursor_mg: Mapping[str, float], profile: HeatingProfile, milling: MillingSettings | None
    ) -> float:
        """A rate factor of this one experiment (lognormal, sigma 0.15), fixed by seed and inputs."""
        text = repr((self.seed, sorted((k, round(v, 3)) for k, v in precursor_mg.items()), profile.to_list(), milling))
        rng = np.random.default_rng(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little"))
        return float(math.exp(rng.normal(0.0, 0.15)))

    def _outcome(self, state: _State, initial: dict[str, float]) -> SynthesisOutcome:
        phases_mg, amorphous_mg = {}, {}
        for name, amount in state.amounts.items():
            if amount <= TINY:
                continue
            phase = self.library.get(name)
            per_closed = float(phase.composition.weight) / self._closed_atoms(phase)
            amorphous = min(state.amorphous.get(name, 0.0), amount)
            if amount - amorphous > TINY:
                phases_mg[name] = (amount - amorphous) * per_closed
            if amorphous > TINY:
                amorphous_mg[name] = amorphous * per_closed
        gases = self._gases(state, initial)
        events = tuple(
            ReactionEvent(time_s=t * 3600.0, temperature_c=temp, kind=kind, description=text, extent_mmol=extent)
            for (kind, text), (t, temp, extent) in state.events.items()
        )
        return SynthesisOutcome(
            phases_mg, amorphous_mg, dict(state.volatilised), gases, tuple(sorted(events, key=lambda e: e.time_s))
        )

    def _gases(self, state: _State, initial: dict[str, float]) -> dict[str, float]:
        """Gas released (mg, negative = taken up) from the element balance of the solids."""

        def element_mmol(amounts: Mapping[str, float]) -> dict[str, float]:
            totals: dict[str, float] = {}
            for name, amount in amounts.items():
                phase = self.library.get(name)
                per = amount / self._closed_atoms(phase)
                for el, a in phase.composition.items():
                    totals[el.symbol] = totals.get(el.symbol, 0.0) + per * float(a)
            return totals

        start, end = element_mmol(initial), element_mmol(state.amounts)
        volatilised = {}
        for name, mass in state.volatilised.items():
            phase = self.library.get(name)
            for el, a in phase.composition.items():
                volatilised[el.symbol] = volatilised.get(el.symbol, 0.0) + mass / float(
                    phase.composition.weight
                ) * float(a)
        released = {el: start.get(el, 0.0) - end.get(el, 0.0) - volatilised.get(el, 0.0) for el in GAS_ELEMENTS}
        carbon, hydrogen, nitrogen, oxygen = (released[e] for e in ("C", "H", "N", "O"))
        ammonia = min(nitrogen, hydrogen / 3.0) if nitrogen > 0 and hydrogen > 0 else 0.0
        no2 = max(nitrogen - ammonia, 0.0)
        water = max(hydrogen - 3.0 * ammonia, 0.0) / 2.0
        o2 = (oxygen - 2.0 * carbon - water - 2.0 * no2) / 2.0
        molar = {"CO2": 44.0095, "H2O": 18.0153, "NH3": 17.0305, "NO2": 46.0055, "O2": 31.9988}
        moles = {"CO2": carbon, "H2O": water, "NH3": ammonia, "NO2": no2, "O2": o2}
        return {g: moles[g] * molar[g] for g in moles if abs(moles[g]) > 1e-9}


@dataclass
class _State:
    amounts: dict[str, float]
    amorphous: dict[str, float]
    volatilised: dict[str, float]
    events: dict[tuple[str, str], list[float]]
    noise: float

    def log(self, kind: str, text: str, extent: float, time_h: float, temperature_c: float) -> None:
        entry = self.events.get((kind, text))
        if entry is None:
            self.events[(kind, text)] = [time_h, temperature_c, extent]
        else:
            entry[2] += extent


def _contact_factor(milling: MillingSettings | None) -> float:
    """Share of particle contact: 0.35 for hand-mixed powder up to 1 for long, energetic milling."""
    if milling is None:
        return 0.35
    energy = milling.duration_s * milling.frequency_hz * max(milling.ball_count, 1) / (600.0 * 25.0 * 2.0)
    return 0.35 + 0.65 * (1.0 - math.exp(-energy))


def _temperature_steps(profile: HeatingProfile, limits: FurnaceLimits) -> list[tuple[float, float, float]]:
    """(time h at the end of the step, temperature C, step length h) along the profile."""
    steps: list[tuple[float, float, float]] = []
    temperature, time_h = limits.ambient_c, 0.0
    for segment in profile.segments:
        if segment.kind is SegmentKind.RAMP:
            span = segment.target_c - temperature
            count = max(1, math.ceil(abs(span) / RAMP_STEP_C))
            dt = abs(span) / segment.rate_c_per_min / 60.0 / count
            for i in range(1, count + 1):
                time_h += dt
                steps.append((time_h, temperature + span * i / count, dt))
            temperature = segment.target_c
        elif segment.kind is SegmentKind.DWELL:
            hours = segment.duration_min / 60.0
            count = max(1, math.ceil(hours / HOLD_STEP_H))
            for _ in range(count):
                time_h += hours / count
                steps.append((time_h, temperature, hours / count))
        else:
            tau_h = limits.cooling_time_constant_s / 3600.0
            target = max(segment.target_c, limits.ambient_c + 1.0)
            while temperature > target + 1e-6:
                dt = HOLD_STEP_H
                new = limits.ambient_c + (temperature - limits.ambient_c) * math.exp(-dt / tau_h)
                new = max(new, target)
                time_h += dt
                steps.append((time_h, 0.5 * (temperature + new), dt))
                temperature = new
    return steps
