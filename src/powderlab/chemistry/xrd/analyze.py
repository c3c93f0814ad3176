"""Phase identification and quantification of a powder pattern by whole-pattern fitting.

The measured pattern is modelled as a sum of candidate phases' simulated profiles (per unit
weight fraction, see `profile`) plus a Chebyshev background and broad amorphous humps; the phase
scales are non-negative least squares, so the fitted scales are weight fractions directly.

1. Search: the residual and each candidate's profile are resampled on a grid uniform in
   u = ln(sin theta), where a change of lattice parameter is a plain translation; one FFT
   cross-correlation per candidate then scores every lattice scale within the strain tolerance.
2. Greedy selection: the best-scoring candidate is added and the selected set refined (lattice
   scale and Lorentzian width per phase, zero shift; scipy least_squares around NNLS) until no
   candidate lowers chi-square by a significant share.
3. Pruning: each phase must still matter when it is taken out again.
4. Figures of merit: Rwp, Rexp, a confidence per phase from how much chi-square rises without
   it, and a flag when the residual keeps significant peaks (an unknown phase).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.polynomial import chebyshev
from scipy.optimize import least_squares, nnls

from powderlab.chemistry.phases import PhaseLibrary, default_library
from powderlab.chemistry.xrd.profile import Instrument, PhaseShape, phase_profile
from powderlab.chemistry.xrd.reflections import Reflections
from powderlab.core.errors import ValidationError
from powderlab.core.xrd import XrdPattern

HUMP_CENTRES_DEG = (18.0, 26.0, 34.0)
HUMP_FWHM_DEG = 9.0


@dataclass(frozen=True)
class AnalysisOptions:
    """Tolerances and thresholds of the analysis."""

    instrument: Instrument = field(default_factory=Instrument)
    max_phases: int = 5
    max_lattice_strain: float = 0.012  # searched and refined lattice-scale range (+-)
    max_size_broadening_deg: float = 0.4
    min_weight_fraction: float = 0.03
    min_chi2_gain: float = 0.02  # a phase must lower chi-square by this share to be added or kept
    background_order: int = 10
    unknown_residual_fraction: float = 0.03  # unexplained share of peak intensity that flags a phase
    unknown_significance: float = 8.0  # sigma of a residual peak that counts as unexplained
    include_elements: bool = False  # elemental phases (metals) as candidates


@dataclass(frozen=True)
class PhaseResult:
    """One identified phase."""

    phase_id: str
    formula: str
    weight_fraction: float
    confidence: float
    lattice_scale: float
    delta_rwp: float  # how much Rwp rises when the phase is left out
    # standard uncertainty of the weight fraction (from the scales' covariance, scaled by the
    # reduced chi-square: a poor fit gives a wide uncertainty)
    weight_fraction_esd: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase_id": self.phase_id,
            "formula": self.formula,
            "weight_fraction": round(self.weight_fraction, 4),
            "weight_fraction_esd": round(self.weight_fraction_esd, 4),
            "confidence": round(self.confidence, 3),
            "lattice_scale": round(self.lattice_scale, 5),
            "delta_rwp": round(self.delta_rwp, 4),
        }


@dataclass
class XrdAnalysis:
    """Result of analysing one pattern."""

    phases: tuple[PhaseResult, ...]
    rwp: float
    rexp: float
    unexplained_fraction: float
    unknown_phase_suspected: bool
    amorphous_hump_fraction: float
    candidates: tuple[str, ...]
    elapsed_s: float
    two_theta: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    observed: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    calculated: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))
    background: np.ndarray = field(repr=False, default_factory=lambda: np.zeros(0))

    @property
    def phase_ids(self) -> tuple[str, ...]:
        return tuple(p.phase_id for p in self.phases)

    def fraction(self, name: str) -> float:
        """Weight fraction of a phase by id or formula (0 when absent)."""
        from powderlab.chemistry.phases import _reduced_formula

        reduced = _reduced_formula(name)
        return sum(
            p.weight_fraction for p in self.phases if p.phase_id == name or _reduced_formula(p.formula) == reduced
        )

    def to_dict(self, include_curves: bool = False) -> dict[str, Any]:
        data: dict[str, Any] = {
            "phases": [p.to_dict() for p in self.phases],
            "rwp": round(self.rwp, 4),
            "rexp": round(self.rexp, 4),
            "unexplained_fraction": round(self.unexplained_fraction, 4),
            "unknown_phase_suspected": self.unknown_phase_suspected,
            "amorphous_hump_fraction": round(self.amorphous_hump_fraction, 4),
            "candidates": list(self.candidates),
            "elapsed_s": round(self.elapsed_s, 3),
        }
        if include_curves:
            data["curves"] = {
                "two_theta": self.two_theta.round(4).tolist(),
                "observed": self.observed.round(2).tolist(),
                "calculated": self.calculated.round(2).tolist(),
                "background": self.background.round(2).tolist(),
            }
        return data


def analyze_pattern(
    pattern: XrdPattern,
    candidates: Sequence[str] | None = None,
    *,
    elements: Sequence[str] | None = None,
    references: Mapping[str, Reflections] | None = None,
    library: PhaseLibrary | None = None,
    options: AnalysisOptions | None = None,
) -> XrdAnalysis:
    """Phases and weight fractions of a pattern.

    Candidates: the given library ids, else the library phases made of `elements`, plus any
    `references` (name -> Reflections, e.g. from CIF files); with only references given, only they.
    """
    start = time.perf_counter()
    options = options or AnalysisOptions()
    library = library if library is not None else default_library()
    refs, formulas = _candidate_references(library, candidates, elements, references, options)
    fitter = _Fitter(pattern, refs, options)
    result = fitter.run()
    phases = []
    total = sum(result.scales.values())
    for name, scale in sorted(result.scales.items(), key=lambda kv: -kv[1]):
        phases.append(
            PhaseResult(
                phase_id=name,
                formula=formulas[name],
                weight_fraction=scale / total if total > 0 else 0.0,
                confidence=result.confidence[name],
                lattice_scale=result.lattice[name],
                delta_rwp=result.delta_rwp[name],
                weight_fraction_esd=result.fraction_esd.get(name, 0.0),
            )
        )
    return XrdAnalysis(
        phases=tuple(phases),
        rwp=result.rwp,
        rexp=result.rexp,
        unexplained_fraction=result.unexplained,
        unknown_phase_suspected=result.unexplained > options.unknown_residual_fraction,
        amorphous_hump_fraction=result.hump_fraction,
        candidates=tuple(refs),
        elapsed_s=time.perf_counter() - start,
        two_theta=fitter.x,
        observed=fitter.y,
        calculated=result.calculated,
        background=result.background,
    )


def _candidate_references(
    library: PhaseLibrary,
    candidates: Sequence[str] | None,
    elements: Sequence[str] | None,
    references: Mapping[str, Reflections] | None,
    options: AnalysisOptions,
) -> tuple[dict[str, Reflections], dict[str, str]]:
    refs: dict[str, Reflections] = {}
    formulas: dict[str, str] = {}
    if candidates is not None:
        phases = [library.get(name) for name in candidates]
    elif elements is not None:
        phases = library.in_system(elements, include_elements=options.include_elements)
        if not phases and not references:
            allowed = sorted({e for p in library for e in p.elements})
            raise ValidationError(
                "elements",
                f"no library phase is made of {','.join(elements)} only; elements known: {','.join(allowed)}",
            )
    elif references:
        phases = []
    else:
        raise ValidationError("candidates", "give candidate phase ids, the sample's elements, or reference structures")
    for phase in phases:
        refs[phase.phase_id] = library.reflections(phase.phase_id)
        formulas[phase.phase_id] = phase.reduced_formula
    for name, reflections in (references or {}).items():
        refs[name] = reflections
        formulas[name] = name
    if not refs:
        raise ValidationError("candidates", "no candidate phase to fit")
    return refs, formulas


@dataclass
class _FitResult:
    scales: dict[str, float]
    lattice: dict[str, float]
    confidence: dict[str, float]
    delta_rwp: dict[str, float]
    rwp: float
    rexp: float
    unexplained: float
    hump_fraction: float
    calculated: np.ndarray
    background: np.ndarray
    fraction_esd: dict[str, float] = field(default_factory=dict)


class _Fitter:
    """The state of one analysis: data, basis functions, profile cache."""

    def __init__(self, pattern: XrdPattern, refs: dict[str, Reflections], options: AnalysisOptions) -> None:
        self.options = options
        self.refs = refs
        self.x = np.asarray(pattern.two_theta_deg, dtype=float)
        self.y = np.clip(np.asarray(pattern.intensity, dtype=float), 0.0, None)
        if self.x.size < 50:
            raise ValidationError("pattern", f"has {self.x.size} points; at least 50 are needed for an analysis")
        self.weights = 1.0 / np.maximum(self.y, 1.0)
        self.sqrt_w = np.sqrt(self.weights)
        t = 2.0 * (self.x - self.x[0]) / (self.x[-1] - self.x[0]) - 1.0
        self.background_basis = chebyshev.chebvander(t, options.background_order).T
        sigma = HUMP_FWHM_DEG / 2.3548
        self.hump_basis = np.array([np.exp(-0.5 * ((self.x - c) / sigma) ** 2) for c in HUMP_CENTRES_DEG])
        self._cache: dict[tuple, np.ndarray] = {}
        self._u_grid = self._make_u_grid()
        self._prepare_projection()

    # --- profiles ------------------------------------------------------------------------------

    def profile(self, name: str, scale: float, width: float, zero: float) -> np.ndarray:
        key = (name, round(scale, 7), round(width, 6), round(zero, 5))
        if key not in self._cache:
            shape = PhaseShape(lattice_scale=scale, size_broadening_deg=width)
            self._cache[key] = phase_profile(
                self.x, self.refs[name], self.options.instrument, shape, zero_shift_deg=zero
            )
            if len(self._cache) > 4000:
                self._cache.clear()
        return self._cache[key]

    # --- linear solve ----------------------------------------------------------------------------

    def _prepare_projection(self) -> None:
        """The weighted background basis is orthonormalised once; its coefficients are free, so
        every fit projects the data and the phase columns onto its orthogonal complement."""
        weighted_bg = (self.background_basis * self.sqrt_w).T
        self._q_bg, _ = np.linalg.qr(weighted_bg)
        self._y_w = self.y * self.sqrt_w
        self._y_perp = self._project(self._y_w)

    def _project(self, vectors: np.ndarray) -> np.ndarray:
        return vectors - self._q_bg @ (self._q_bg.T @ vectors)

    def solve(self, columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, float]:
        """Non-negative phase and hump scales with a free background.

        Returns (coefficients: phases then humps, weighted residual vector, chi2).
        """
        design = np.vstack([*columns, self.hump_basis]) if columns else self.hump_basis
        weighted = (design * self.sqrt_w).T
        projected = self._project(weighted)
        gram = projected.T @ projected
        rhs = projected.T @ self._y_perp
        ridge = 1e-12 * float(np.trace(gram)) + 1e-300
        try:
            lower = np.linalg.cholesky(gram + ridge * np.eye(gram.shape[0]))
            coefficients, _ = nnls(lower.T, np.linalg.solve(lower, rhs), maxiter=100 * gram.shape[0])
        except np.linalg.LinAlgError:
            coefficients, _ = nnls(projected, self._y_perp, maxiter=100 * gram.shape[0])
        residual = self._y_perp - projected @ coefficients
        return coefficients, residual, float(residual @ residual)

    def model(self, columns: list[np.ndarray], coefficients: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(full model, background, hump) curves in counts for solved coefficients."""
        design = np.vstack([*columns, self.hump_basis]) if columns else self.hump_basis
        fitted_w = (coefficients @ design) * self.sqrt_w
        background_w = self._q_bg @ (self._q_bg.T @ (self._y_w - fitted_w))
        hump = coefficients[len(columns) :] @ self.hump_basis
        background = background_w / self.sqrt_w
        return coefficients @ design + background, background, hump

    # --- search in u = ln(sin theta) ---------------------------------------------------------------

    def _make_u_grid(self) -> dict[str, Any]:
        u = np.log(np.sin(np.radians(self.x) / 2.0))
        step = float(np.min(np.diff(u))) * 0.7
        n = 2 ** math.ceil(math.log2((u[-1] - u[0]) / step))
        grid = np.linspace(u[0], u[-1], n)
        max_shift = math.ceil(-math.log(1 - self.options.max_lattice_strain) / (grid[1] - grid[0]))
        return {"u": u, "grid": grid, "du": grid[1] - grid[0], "max_shift": max_shift}

    def search(self, residual: np.ndarray, names: list[str], width: float) -> list[tuple[float, str, float]]:
        """(chi2 gain estimate, name, lattice scale) for each candidate, best first."""
        u, grid = self._u_grid["u"], self._u_grid["grid"]
        r = np.interp(grid, u, residual * self.weights)
        w = np.interp(grid, u, self.weights)
        n = grid.size
        fft_len = 2 * n
        r_f = np.fft.rfft(r, fft_len)
        w_f = np.fft.rfft(w, fft_len)
        max_shift = self._u_grid["max_shift"]
        shifts = np.arange(-max_shift, max_shift + 1)
        scored = []
        for name in names:
            p = np.interp(grid, u, self.profile(name, 1.0, width, 0.0))
            if not p.any():
                continue
            p_f = np.conj(np.fft.rfft(p, fft_len))
            num = np.fft.irfft(r_f * p_f, fft_len)[shifts % fft_len]
            den = np.fft.irfft(w_f * np.conj(np.fft.rfft(p * p, fft_len)), fft_len)[shifts % fft_len]
            gain = np.where((num > 0) & (den > 0), num**2 / np.maximum(den, 1e-30), 0.0)
            best = int(np.argmax(gain))
            scale = math.exp(-shifts[best] * self._u_grid["du"])  # peaks at u + s <=> d / exp(s)
            scored.append((float(gain[best]), name, scale))
        return sorted(scored, reverse=True)

    # --- nonlinear refinement ----------------------------------------------------------------------

    def refine(self, names: list[str], params: dict[str, tuple[float, float]], zero: float) -> tuple[dict, float]:
        opts = self.options
        vector0 = [zero]
        low, high = [-0.15], [0.15]
        for name in names:
            scale, width = params[name]
            vector0 += [scale, width]
            low += [1 - opts.max_lattice_strain - 1e-9, 0.0]
            high += [1 + opts.max_lattice_strain + 1e-9, opts.max_size_broadening_deg]
        vector0 = np.clip(vector0, np.array(low) + 1e-9, np.array(high) - 1e-9)

        def residuals(vector: np.ndarray) -> np.ndarray:
            columns = [self.profile(n, vector[1 + 2 * i], vector[2 + 2 * i], vector[0]) for i, n in enumerate(names)]
            return self.solve(columns)[1]

        steps = np.array([1e-3] + [2e-5, 2e-3] * len(names))
        fit = least_squares(
            residuals,
            vector0,
            bounds=(low, high),
            diff_step=steps / np.maximum(np.abs(vector0), 1e-3),
            max_nfev=12 * (1 + len(names)),
            x_scale=np.array([0.01] + [1e-3, 0.02] * len(names)),
        )
        vector = fit.x
        refined = {n: (float(vector[1 + 2 * i]), float(vector[2 + 2 * i])) for i, n in enumerate(names)}
        return refined, float(vector[0])

    def evaluate(self, names: list[str], params: dict, zero: float) -> tuple[np.ndarray, float, list]:
        columns = [self.profile(n, *params[n], zero) for n in names]
        coefficients, _, chi2 = self.solve(columns)
        return coefficients, chi2, columns

    # --- the whole analysis -------------------------------------------------------------------------

    def run(self) -> _FitResult:
        opts = self.options
        default_width = 0.03
        selected: list[str] = []
        params: dict[str, tuple[float, float]] = {}
        zero = 0.0
        coefficients, _, chi2 = self.solve([])
        model = self.model([], coefficients)[0]
        remaining = list(self.refs)
        while remaining and len(selected) < opts.max_phases:
            ranked = self.search(self.y - model, remaining, default_width)
            best = None
            for _, name, scale in ranked[:4]:  # cheap linear check at the searched lattice scale
                trial_params = {**params, name: (scale, default_width)}
                coefficients, trial_chi2, _ = self.evaluate([*selected, name], trial_params, zero)
                if best is None or trial_chi2 < best[0]:
                    best = (trial_chi2, name, trial_params)
            if best is None:
                break
            _, name, trial_params = best
            trial = [*selected, name]
            trial_params, trial_zero = self.refine(trial, trial_params, zero)
            coefficients, trial_chi2, columns = self.evaluate(trial, trial_params, trial_zero)
            scales = coefficients[: len(trial)]
            share = scales[-1] / scales.sum() if scales.sum() > 0 else 0.0
            if (chi2 - trial_chi2) / chi2 < opts.min_chi2_gain or share < opts.min_weight_fraction:
                break
            selected, params, zero, chi2 = trial, trial_params, trial_zero, trial_chi2
            model = self.model(columns, coefficients)[0]
            remaining.remove(name)
        selected, params, zero = self._prune(selected, params, zero)
        return self._summarise(selected, params, zero)

    def _prune(self, selected: list[str], params: dict, zero: float) -> tuple[list[str], dict, float]:
        opts = self.options
        while len(selected) > 1:
            coefficients, chi2, columns = self.evaluate(selected, params, zero)
            scales = coefficients[: len(selected)]
            worst, worst_gain = None, math.inf
            for i, name in enumerate(selected):
                _, _, chi2_without = self.solve(columns[:i] + columns[i + 1 :])
                gain = (chi2_without - chi2) / chi2
                share = scales[i] / scales.sum() if scales.sum() > 0 else 0.0
                if (gain < opts.min_chi2_gain or share < opts.min_weight_fraction) and gain < worst_gain:
                    worst, worst_gain = name, gain
            if worst is None:
                break
            selected = [n for n in selected if n != worst]
            params = {n: params[n] for n in selected}
            params, zero = self.refine(selected, params, zero)
        return selected, params, zero

    def _summarise(self, selected: list[str], params: dict, zero: float) -> _FitResult:
        coefficients, chi2, columns = self.evaluate(selected, params, zero)
        model, background, hump = self.model(columns, coefficients)
        k = len(selected)
        scales = {n: float(coefficients[i]) for i, n in enumerate(selected)}
        sum_wy2 = float(np.sum(self.weights * self.y**2))
        rwp = math.sqrt(chi2 / sum_wy2)
        n_params = 1 + 3 * k + self.background_basis.shape[0] + len(HUMP_CENTRES_DEG)
        rexp = math.sqrt(max(self.y.size - n_params, 1) / sum_wy2)
        reduced = chi2 / max(self.y.size - n_params, 1)
        confidence, delta_rwp = {}, {}
        for i, name in enumerate(selected):
            _, _, chi2_without = self.solve(columns[:i] + columns[i + 1 :])
            significance = (chi2_without - chi2) / max(reduced, 1e-12)
            confidence[name] = float(1.0 - math.exp(-significance / 400.0))
            delta_rwp[name] = math.sqrt(chi2_without / sum_wy2) - rwp
        fraction_esd = self._fraction_esd(selected, columns, coefficients[:k], reduced)
        crystalline = model - hump - background
        peak_area = float(np.sum(np.clip(crystalline, 0, None)))
        hump_area = float(np.sum(hump))
        return _FitResult(
            scales=scales,
            lattice={n: params[n][0] for n in selected},
            confidence=confidence,
            delta_rwp=delta_rwp,
            rwp=rwp,
            rexp=rexp,
            unexplained=self._unexplained(model, crystalline, peak_area),
            hump_fraction=hump_area / (hump_area + peak_area) if hump_area + peak_area > 0 else 0.0,
            calculated=model,
            background=background + hump,
            fraction_esd=fraction_esd,
        )

    def _fraction_esd(
        self, selected: list[str], columns: list[np.ndarray], scales: np.ndarray, reduced_chi2: float
    ) -> dict[str, float]:
        """Standard uncertainties of the weight fractions w_i = s_i / sum(s): the linear scales'
        covariance (background projected out, humps included) times the reduced chi-square,
        propagated to the fractions (dw_i/ds_j = (delta_ij S - s_i) / S^2)."""
        k = len(selected)
        total = float(scales.sum())
        if k == 0 or total <= 0:
            return {}
        design = np.vstack([*columns, self.hump_basis])
        projected = self._project((design * self.sqrt_w).T)
        gram = projected.T @ projected
        try:
            covariance = np.linalg.pinv(gram)[:k, :k] * max(reduced_chi2, 1e-12)
        except np.linalg.LinAlgError:
            return {}
        jacobian = (np.eye(k) * total - scales[:, None]) / total**2
        variance = np.einsum("ij,jk,ik->i", jacobian, covariance, jacobian)
        return {name: float(math.sqrt(max(variance[i], 0.0))) for i, name in enumerate(selected)}

    def _unexplained(self, model: np.ndarray, crystalline: np.ndarray, peak_area: float) -> float:
        """Share of the peak intensity left in significant positive residual peaks where the fitted
        phases put little intensity (misfit of a known peak, e.g. texture, does not count)."""
        residual = self.y - model
        variance = np.maximum(model, 1.0)
        window = 7
        kernel = np.ones(window)
        summed = np.convolve(residual, kernel, mode="same")
        sigma = np.sqrt(np.convolve(variance, kernel, mode="same"))
        local_peaks = np.convolve(np.clip(crystalline, 0, None), np.ones(2 * window + 1), mode="same")
        local_residual = np.convolve(np.clip(residual, 0, None), np.ones(2 * window + 1), mode="same")
        significant = (summed / sigma > self.options.unknown_significance) & (local_residual > local_peaks)
        if not significant.any():
            return 0.0
        mask = np.convolve(significant.astype(float), np.ones(2 * window + 1), mode="same") > 0
        excess = float(np.sum(np.clip(residual[mask], 0, None)))
        return excess / max(peak_area, 1.0)
