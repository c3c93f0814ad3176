"""Recipe planners behind the campaign's Planner protocol: ARROWS-like active learning and two baselines.

All three see a target's history only as the analysed XRD gave it (phases and weight fractions);
none reads the hidden truth. They are duck-typed against powderlab.autonomy's Target / Attempt
(formula, budget; recipe, status, target_yield, phases) because the planner layer may not import
the autonomy layer.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from powderlab.chemistry.phases import PhaseLibrary, default_library
from powderlab.chemistry.thermo import Thermo, default_thermo
from powderlab.core.errors import PowderLabError
from powderlab.core.recipes import Recipe, a_lab_profile
from powderlab.planner.cofiring import OPEN_RUN_STATES, CofiringHint
from powderlab.planner.inventory import Inventory, closed_elements
from powderlab.planner.memory import PairwiseMemory
from powderlab.planner.observations import Observation, Reading, driving_force_left, observations, read
from powderlab.planner.recipes import (
    MAX_TEMPERATURE_C,
    MIN_TEMPERATURE_C,
    TEMPERATURE_STEP_C,
    VOLATILE_CAP_C,
    VOLATILE_ELEMENTS,
    PrecursorSet,
    RecipeChoice,
    first_recipes,
    precursor_sets,
    round_temperature,
)

LONG_DWELL_H = 12.0
DECOMPOSITION_AWARE = True
PENDING = ("planned", "running")

ARROWS_PLANNER = "arrows (driving-force ranking + active learning from analysed XRD)"
RANKING_PLANNER = "ranking (driving-force ranking, no learning)"
RANDOM_PLANNER = "random (random precursor set and temperature)"


@dataclass(frozen=True)
class PlannerProposal:
    """A recipe and why it was proposed (duck-compatible with powderlab.autonomy.model.Proposal)."""

    recipe: Recipe
    reason: str
    details: dict[str, Any] = field(default_factory=dict, compare=False)


class _Base:
    """Shared: inventory, library, precursor sets per target (cached), what was tried."""

    name = "planner"

    def __init__(
        self,
        inventory: Inventory | None = None,
        library: PhaseLibrary | None = None,
        thermo: Thermo | None = None,
    ) -> None:
        self.inventory = inventory if inventory is not None else Inventory.from_site("default")
        self.library = library if library is not None else default_library()
        self.thermo = (
            thermo
            if thermo is not None
            else (default_thermo() if self.library is default_library() else Thermo(self.library))
        )
        self._sets: dict[str, list[PrecursorSet]] = {}
        self.explanations: dict[str, str] = {}

    def sets(self, formula: str) -> list[PrecursorSet]:
        if formula not in self._sets:
            try:
                self._sets[formula] = precursor_sets(formula, self.inventory, library=self.library, thermo=self.thermo)
            except PowderLabError as error:
                self.explanations[formula] = f"no precursor set: {error}"
                self._sets[formula] = []
        return self._sets[formula]

    def _done(self, target: Any, history: Sequence[Any]) -> str | None:
        """Why no further recipe is wanted, or None."""
        if any(str(a.status) == "analysed" and (a.target_yield or 0.0) >= 0.5 for a in history):
            return "made"
        if len(history) >= int(getattr(target, "budget", 4)):
            return f"budget of {target.budget} experiments spent"
        if not self.sets(target.formula):
            return self.explanations.get(target.formula, "no precursor set from the inventory")
        return None

    @staticmethod
    def _tried(history: Sequence[Any]) -> set[Any]:
        """Keys of attempts that ran or are running (a lab failure may be repeated)."""
        keys = set()
        for attempt in history:
            if str(attempt.status) in ("analysed", *PENDING):
                keys.add(_key_of(attempt.recipe))
        return keys

    def _propose(self, choice: RecipeChoice, details: dict[str, Any]) -> PlannerProposal:
        recipe = choice.recipe(self.library)
        reason = "; ".join(choice.why)
        self.explanations[choice.precursor_set.target] = reason
        return PlannerProposal(recipe, reason, {"choice": choice.precursor_set.to_dict(), **details})

    def report(self, target: Any, attempt: Any) -> None:
        """Nothing to learn for the baselines."""


class RankingPlanner(_Base):
    """The ARROWS start without learning: the first recipes by driving force, in order."""

    name = RANKING_PLANNER

    def next_recipe(self, target: Any, history: Sequence[Any]) -> PlannerProposal | None:
        stop = self._done(target, history)
        if stop:
            self.explanations[target.formula] = stop
            return None
        tried = self._tried(history)
        for rank, choice in enumerate(first_recipes(self.sets(target.formula), count=int(target.budget)), start=1):
            if choice.key not in tried:
                return self._propose(choice, {"rank": rank})
        return None


class RandomPlanner(_Base):
    """Random precursor set and temperature (600-1200 C by 100 C), seeded per target; no learning."""

    name = RANDOM_PLANNER

    def __init__(self, seed: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.seed = seed

    def next_recipe(self, target: Any, history: Sequence[Any]) -> PlannerProposal | None:
        stop = self._done(target, history)
        if stop:
            self.explanations[target.formula] = stop
            return None
        digest = hashlib.sha256(f"{self.seed}|{target.formula}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "little"))
        grid = [(s, t) for s in self.sets(target.formula) for t in np.arange(600.0, MAX_TEMPERATURE_C + 1, 100.0)]
        order = rng.permutation(len(grid))
        tried = self._tried(history)
        for index in order:
            chosen, temperature = grid[int(index)]
            choice = RecipeChoice(
                chosen,
                float(temperature),
                4.0,
                (f"random choice: {' + '.join(chosen.precursors)}", f"random temperature {temperature:.0f} C"),
            )
            if choice.key not in tried:
                return self._propose(choice, {})
        return None


class ArrowsPlanner(_Base):
    """Driving-force ranking, then active learning from each failed attempt's analysed pattern.

    Learns pairwise reactions (shared across targets) and inert intermediates, re-ranks precursor
    sets by the driving force left after the learned reactions, skips sets that would form an
    inert intermediate, and moves temperature and dwell as the readings say (cold / sluggish /
    hot / partial). Gives up when no untried recipe is left inside the learned temperature window.

    Co-firing: given a CofiringHint (the heating profiles the lab is already gathering crucibles
    for), a temperature it chose may move by one grid step to join an open run, where that is of
    equal standing: a Tamman-based estimate (+- one step is within its accuracy), or a learning
    step that keeps its direction (hotter stays hotter, cooler stays cooler), inside the learned
    window, on the same side of every precursor's decomposition and of the volatile cap. A
    temperature that repeats or extends one already tried (same temperature, longer dwell) never
    moves; the dwell never changes. Preference: a run a furnace is being loaded with, then a
    queued run, then runs still forming from proposals; among those the run closest to full (so
    fewer runs go part-filled), then its own temperature. The reason says what was joined.
    """

    name = ARROWS_PLANNER
    accepts_cofiring = True  # next_recipe takes cofiring= (the campaign passes the open runs)

    def __init__(self, memory: PairwiseMemory | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.memory = memory if memory is not None else PairwiseMemory()

    # --- protocol ---------------------------------------------------------------------------

    def report(self, target: Any, attempt: Any) -> None:
        """Learn from one finished attempt (pairwise reactions and inert intermediates)."""
        for observation in observations([attempt]):
            self._learn(target.formula, observation, read(observation, target.formula, self.library, self.thermo))

    def next_recipe(
        self, target: Any, history: Sequence[Any], cofiring: CofiringHint | None = None
    ) -> PlannerProposal | None:
        """The next recipe for target; cofiring: the open furnace runs it may join (see the class)."""
        stop = self._done(target, history)
        if stop:
            self.explanations[target.formula] = stop
            return None
        formula = target.formula
        seen = observations(history)
        readings = [read(o, formula, self.library, self.thermo) for o in seen]
        for observation, reading in zip(seen, readings, strict=True):
            self._learn(formula, observation, reading)
        tried = self._tried(history)
        analysed = [(o, r) for o, r in zip(seen, readings, strict=True) if o.analysed]
        dead = {tuple(sorted(o.precursors)) for o, r in analysed if r.verdict == "dead"}
        stuck: dict[tuple[str, ...], int] = {}
        for o, r in analysed:  # heat and time did not move an inert intermediate twice: a dead end
            if r.verdict == "sluggish" and o.dwell_h >= LONG_DWELL_H - 1e-6 and o.target_yield < 0.05:
                stuck[tuple(sorted(o.precursors))] = stuck.get(tuple(sorted(o.precursors)), 0) + 1
        dead |= {key for key, count in stuck.items() if count >= 2}
        inert_pairs: dict[tuple[str, ...], int] = {}
        for o, r in analysed:  # heated further above the Tamman temperatures and still nothing reacted
            if r.no_reaction:
                inert_pairs[tuple(sorted(o.precursors))] = inert_pairs.get(tuple(sorted(o.precursors)), 0) + 1
        dead |= {key for key, count in inert_pairs.items() if count >= 2}
        ranked, skipped = self.rank_sets(formula, dead)
        if not analysed:
            for rank, choice in enumerate(first_recipes(ranked or self.sets(formula)), start=1):
                if choice.key not in tried:
                    placed, joined = self._cofire(choice, cofiring, tried)
                    return self._propose(placed, {"rank": rank, "skipped": skipped, **joined})
            return None
        choice, joined = self._adapt(formula, analysed, ranked, skipped, tried, cofiring)
        if choice is None:
            why = "no untried recipe left inside the learned temperature window"
            if any(r.no_reaction for _, r in analysed):
                why = "nothing reacted although heated well above the Tamman temperatures: no real driving force"
            self.explanations[formula] = f"{why}: " + "; ".join(r.summary() for _, r in analysed[-2:])
            return None
        details = {"readings": [r.summary() for _, r in analysed], "skipped": skipped, "memory": self.memory.to_dict()}
        return self._propose(choice, {**details, **joined})

    # --- learning ---------------------------------------------------------------------------

    def _learn(self, formula: str, observation: Observation, reading: Reading) -> None:
        for (a, b), product in reading.pair_reactions:
            self.memory.learn_pair(a, b, product, observation.temperature_c)
        if reading.verdict == "sluggish":
            self.memory.learn_inert(formula, reading.intermediates)

    def rank_sets(self, formula: str, dead: set[tuple[str, ...]] | None = None) -> tuple[list[PrecursorSet], list[str]]:
        """Sets by the driving force left after the learned pairwise reactions; sets predicted to
        form an inert intermediate of this target are skipped (listed with the reason), unless every
        live set is: then they stay, least trapped first (heat and time may still finish them).
        Sets in `dead` (proven hopeless by an attempt) are dropped."""
        inert = self.memory.inert.get(formula, set())
        scored, skipped, trapped = [], [], []
        for chosen in self.sets(formula):
            if tuple(sorted(chosen.precursors)) in (dead or set()):
                skipped.append(f"{' + '.join(chosen.precursors)} is a dead end (see its attempt)")
                continue
            predicted = self.memory.predicted_products(chosen.precursors, chosen.temperature_c + 100.0)
            if predicted & inert:
                skipped.append(f"{' + '.join(chosen.precursors)} forms inert {', '.join(sorted(predicted & inert))}")
                trapped.append(chosen)
                continue
            left = chosen.driving_force_ev_per_atom
            if predicted:
                residue = {p: 1.0 for p in predicted} | {p: 1.0 for p in chosen.precursors}
                probe = Observation(chosen.precursors, chosen.temperature_c, 4.0, True, 0.0, residue)
                value = driving_force_left(formula, residue, probe, self.library, self.thermo)
                left = value if value is not None else left
            scored.append((left, chosen))
        scored.sort(key=lambda item: (item[0], item[1].precursors))
        if not scored and trapped:
            return trapped, skipped
        return [s for _, s in scored], skipped

    def _adapt(
        self,
        formula: str,
        analysed: list[tuple[Observation, Reading]],
        ranked: list[PrecursorSet],
        skipped: list[str],
        tried: set[Any],
        cofiring: CofiringHint | None = None,
    ) -> tuple[RecipeChoice | None, dict[str, Any]]:
        """The next condition for the last set, or a switch; and what it joined (details)."""
        last_obs, last = analysed[-1]
        current = next((s for s in self.sets(formula) if sorted(s.precursors) == sorted(last_obs.precursors)), None)
        if current is None or current not in ranked:
            why = f"set {' + '.join(last_obs.precursors)} skipped: " + "; ".join(skipped) if skipped else ""
            return self._switch(formula, ranked, tried, why, cofiring)
        same = [(o, r) for o, r in analysed if sorted(o.precursors) == sorted(current.precursors)]
        low, high = self._window(same)
        steps = self._next_conditions(last_obs, last, same)
        for raw_c, dwell, step_why in steps:
            temperature = round_temperature(raw_c)
            temperature, why = self._below_decomposition(current, last_obs.temperature_c, temperature, same, step_why)
            same_t_longer = temperature == last_obs.temperature_c and dwell != last_obs.dwell_h
            if not low < temperature < high and not same_t_longer:
                continue
            choice = RecipeChoice(current, temperature, dwell, (f"after {last.summary()}", why))
            if choice.key not in tried:
                if temperature in {o.temperature_c for o, _ in same} or temperature != round_temperature(raw_c):
                    return choice, {}  # repeats or extends a tried one, or sits just below a decomposition
                return self._cofire(choice, cofiring, tried, last_obs.temperature_c, (low, high))
        return self._switch(
            formula,
            [s for s in ranked if s is not current],
            tried,
            f"{' + '.join(current.precursors)} has no untried condition in "
            f"{max(low, MIN_TEMPERATURE_C - 1):.0f}-{min(high, MAX_TEMPERATURE_C + 1):.0f} C",
            cofiring,
        )

    def _below_decomposition(
        self,
        chosen: PrecursorSet,
        last_c: float,
        next_c: float,
        same: list[tuple[Observation, Reading]],
        why: str,
    ) -> tuple[float, str]:
        """A step up that would cross a precursor's decomposition temperature (e.g. Co3O4 -> CoO at
        895 C) first tries just below it: the window with the original phase may be narrow."""
        if not DECOMPOSITION_AWARE or next_c <= last_c:
            return next_c, why
        for name in chosen.precursors:
            thermal = self.library.get(name).thermal
            decomposition = thermal.get("decomposition_c")
            if decomposition is None or thermal.get("melting_c"):
                continue
            below = round_temperature(float(decomposition) - 25.0)
            tried_between = any(last_c < o.temperature_c < float(decomposition) for o, _ in same)
            if last_c < below < next_c and not tried_between:
                return below, f"{why}; first just below {name}'s decomposition ({float(decomposition):.0f} C)"
        return next_c, why

    @staticmethod
    def _window(same: list[tuple[Observation, Reading]]) -> tuple[float, float]:
        """Open temperature window (low, high) learned for one set: too cold below, too hot above."""
        low, high = MIN_TEMPERATURE_C - 1.0, MAX_TEMPERATURE_C + 1.0
        for observation, reading in same:
            if reading.verdict == "cold" and observation.dwell_h >= LONG_DWELL_H - 1e-6:
                low = max(low, observation.temperature_c)
            if reading.verdict == "hot":
                high = min(high, observation.temperature_c)
        for a, _ in same:  # yield fell from a to b when heating hotter: b is too hot
            for b, _ in same:
                if b.temperature_c > a.temperature_c and b.target_yield < a.target_yield - 0.05:
                    high = min(high, b.temperature_c)
        return low, high

    @staticmethod
    def _next_conditions(
        last_obs: Observation, last: Reading, same: list[tuple[Observation, Reading]]
    ) -> list[tuple[float, float, str]]:
        """Candidate (temperature, dwell, why) in order of preference, from the last reading."""
        t, dwell = last_obs.temperature_c, last_obs.dwell_h
        best = max(same, key=lambda item: item[0].target_yield)[0]
        unreacted = sum(last.unreacted.values())
        if last.verdict == "amorphous":
            steps = [(t + 200.0, 4.0, "hotter by 200 C: products amorphous"), (t + 100.0, 4.0, "hotter by 100 C")]
        elif last.verdict == "cold":
            step = 200.0 if unreacted > 0.9 else 150.0 if unreacted > 0.6 else 100.0
            steps = [
                (t + step, 4.0, f"hotter by {step:.0f} C: precursors did not react"),
                (t + 50.0, 4.0, "hotter by 50 C"),
                (t, LONG_DWELL_H, "longer dwell at the hottest allowed"),
            ]
        elif last.verdict == "sluggish":
            steps = [
                (t + 100.0, LONG_DWELL_H, "hotter by 100 C and 12 h: inert intermediate needs heat and time"),
                (t, LONG_DWELL_H, "12 h dwell: inert intermediate needs time"),
                (t + 50.0, LONG_DWELL_H, "hotter by 50 C, 12 h"),
            ]
        elif last.verdict == "hot":
            steps = [
                (t - 100.0, dwell, "cooler by 100 C: volatile element lost"),
                (t - 50.0, LONG_DWELL_H, "cooler by 50 C, 12 h"),
                (t - 150.0, LONG_DWELL_H, "cooler by 150 C, 12 h"),
            ]
        else:
            base = best.temperature_c if best.target_yield > last_obs.target_yield else t
            steps = [
                (base, LONG_DWELL_H, f"12 h at {base:.0f} C: target forming, reaction unfinished"),
                (base + 50.0, LONG_DWELL_H, "hotter by 50 C, 12 h"),
                (base + 100.0, 4.0, "hotter by 100 C"),
                (base - 50.0, LONG_DWELL_H, "cooler by 50 C, 12 h"),
            ]
        return steps

    def _switch(
        self,
        formula: str,
        ranked: list[PrecursorSet],
        tried: set[Any],
        why: str,
        cofiring: CofiringHint | None = None,
    ) -> tuple[RecipeChoice | None, dict[str, Any]]:
        for rank, chosen in enumerate(ranked, start=1):
            for offset in (0.0, 100.0, -100.0):
                temperature = round_temperature(chosen.temperature_c + offset)
                reasons = tuple(
                    x
                    for x in (
                        why,
                        (
                            f"switch to precursor set {rank} by driving force left "
                            f"({' + '.join(chosen.precursors)}) at {temperature:.0f} C"
                        ),
                    )
                    if x
                )
                choice = RecipeChoice(chosen, temperature, 4.0, reasons)
                if choice.key not in tried:
                    return self._cofire(choice, cofiring, tried)
        return None, {}

    # --- co-firing ----------------------------------------------------------------------------

    def _cofire(
        self,
        choice: RecipeChoice,
        cofiring: CofiringHint | None,
        tried: set[Any],
        last_c: float | None = None,
        window: tuple[float, float] | None = None,
    ) -> tuple[RecipeChoice, dict[str, Any]]:
        """The choice, or the same set and dwell at a neighbouring temperature that joins an open
        furnace run (see the class); with what it joined, for the proposal's details.

        last_c: a learning step from this temperature keeps its direction; window: the learned
        open window (low, high) the temperature stays strictly inside."""
        if cofiring is None or not cofiring.runs:
            return choice, {}
        chosen = choice.precursor_set
        volatile = any(closed_elements(self.library.get(name)) & VOLATILE_ELEMENTS for name in chosen.precursors)
        decompositions = [
            float(phase.thermal["decomposition_c"])
            for phase in (self.library.get(name) for name in chosen.precursors)
            if phase.thermal.get("decomposition_c") is not None and not phase.thermal.get("melting_c")
        ]
        best = None
        for order, run in enumerate(cofiring.runs):
            t = run.temperature_c
            moved = t - choice.temperature_c
            if abs(run.dwell_h - choice.dwell_h) > 1e-6 or run.profile != a_lab_profile(t, choice.dwell_h):
                continue
            if abs(moved) > cofiring.tolerance_c + 1e-6:
                continue
            if not MIN_TEMPERATURE_C <= t <= MAX_TEMPERATURE_C:
                continue
            if last_c is not None and (t - last_c) * (choice.temperature_c - last_c) <= 0:
                continue  # a step hotter stays hotter, a step cooler stays cooler
            if window is not None and not window[0] < t < window[1]:
                continue
            if volatile and choice.temperature_c <= VOLATILE_CAP_C < t:
                continue
            if any((choice.temperature_c < d) != (t < d) for d in decompositions):
                continue
            moved_choice = RecipeChoice(chosen, t, choice.dwell_h, choice.why)
            if moved and moved_choice.key in tried:
                continue
            # a furnace being loaded now first, then a queued run, then runs still forming; of those
            # the one closest to full (fewer part-filled runs), then the nearest temperature
            rank = (OPEN_RUN_STATES.index(run.state), run.free_slots, abs(moved), order)
            if best is None or rank < best[0]:
                best = (rank, run, moved_choice)
        if best is None:
            return choice, {}
        _, run, moved_choice = best
        if run.temperature_c == choice.temperature_c:  # its own profile is open: joins as it is
            return choice, {"cofiring": {"joined": run.describe(), "moved_c": 0.0}}
        why = (
            *choice.why,
            f"{run.temperature_c:.0f} C rather than {choice.temperature_c:.0f} C (one {TEMPERATURE_STEP_C:.0f} C step, "
            f"of equal standing) to share a furnace run: joins {run.describe()}",
        )
        joined = {"joined": run.describe(), "moved_c": run.temperature_c - choice.temperature_c}
        return RecipeChoice(chosen, run.temperature_c, choice.dwell_h, why), {"cofiring": joined}


def _key_of(recipe: Recipe) -> tuple[tuple[str, ...], float, float]:
    from powderlab.core.recipes import SegmentKind

    dwell_min = sum(s.duration_min for s in recipe.heating.segments if s.kind is SegmentKind.DWELL)
    return (
        tuple(sorted(d.powder for d in recipe.precursors)),
        round(recipe.heating.max_temperature_c),
        round(dwell_min / 60.0, 1),
    )


def make(name: str, seed: int = 0, **kwargs: Any) -> Any:
    """A planner by short name: arrows, ranking, random."""
    from powderlab.core.errors import UnknownResourceError

    if name == "arrows":
        return ArrowsPlanner(**kwargs)
    if name == "ranking":
        return RankingPlanner(**kwargs)
    if name == "random":
        return RandomPlanner(seed, **kwargs)
    raise UnknownResourceError("planner", name, ["arrows", "ranking", "random"])
