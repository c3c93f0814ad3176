"""The claims ledger: every analysed sample of a target becomes a claim a crystallographer can check.

A claim keeps what the synthesis claim rests on: the target, the experiment and sample, the phases
with weight fractions and uncertainties, Rwp / Rexp / goodness of fit, the unexplained share of the
peak intensity, the amorphous estimate, the impurity phases, the observed / calculated / difference
curves, the best alternative phase set and how much worse it fits, the analysis version, and the
order-disorder check of the target's predicted structure (chemistry/disorder.py).

Its verdict is `made` only when every threshold of `ClaimThresholds` holds; a claim that reaches
the yield but misses a threshold says `needs review`. Its status is `automatic` until a logged-in
person accepts or rejects it with a comment (the dashboard, audit-logged; `claim_reviews` keeps
every review). Re-analysis adds a version; nothing is overwritten (tables `claims`,
`claim_reviews`, migration 0003). See docs/decisions/0098-claims-ledger.md.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from enum import StrEnum
from typing import Any

from sqlalchemy import func, insert, select

from powderlab.autonomy.model import AnalysisResult
from powderlab.autonomy.schema import claim_reviews, claims
from powderlab.autonomy.store import Store
from powderlab.core.errors import UnknownResourceError, ValidationError

log = logging.getLogger(__name__)


class Verdict(StrEnum):
    """What the evidence of one claim supports."""

    MADE = "made"  # target yield reached and every fit threshold holds
    NEEDS_REVIEW = "needs review"  # target yield reached, but a threshold is missed: a person decides
    NOT_MADE = "not made"  # the target's yield is below the success yield


class ClaimStatus(StrEnum):
    """Who stands behind a claim."""

    AUTOMATIC = "automatic"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


REVIEW_DECISIONS = (ClaimStatus.ACCEPTED.value, ClaimStatus.REJECTED.value)


@dataclass(frozen=True)
class ClaimThresholds:
    """What an automatic "made" needs (campaign parameters: CampaignConfig.extra["claims"])."""

    success_yield: float = 0.5  # target weight fraction
    # an automatic "made" needs the yield clear of the line by this much: weight fractions carry a
    # systematic error of ~0.02 the statistical esd does not show (bench: 0.51 measured, 0.49 true)
    yield_margin: float = 0.03
    max_rwp: float = 0.20
    max_goodness_of_fit: float = 2.5  # Rwp / Rexp
    # share of the peak intensity in unindexed residual peaks: 0.0 on clean simulated mixtures, 0.025-0.03
    # with 14 wt% of an unindexed impurity (the analysis itself only flags an unknown phase above 0.03)
    max_unexplained_fraction: float = 0.01
    max_amorphous_fraction: float = 0.30
    min_alternative_delta_rwp: float = 0.02  # the best fit without the target must be this much worse
    max_yield_esd: float = 0.05  # standard uncertainty of the target's weight fraction

    @staticmethod
    def from_mapping(values: Mapping[str, Any] | None, success_yield: float | None = None) -> ClaimThresholds:
        """Thresholds from a mapping (unknown names are refused, naming the allowed ones)."""
        known = {f.name for f in fields(ClaimThresholds)}
        given = dict(values or {})
        unknown = sorted(set(given) - known)
        if unknown:
            raise ValidationError("claim thresholds", f"unknown {unknown}; allowed: {sorted(known)}")
        if success_yield is not None and "success_yield" not in given:
            given["success_yield"] = success_yield
        try:
            return ClaimThresholds(**{k: float(v) for k, v in given.items()})
        except (TypeError, ValueError) as error:
            raise ValidationError("claim thresholds", f"{given}: every threshold is a number ({error})") from None

    def to_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class Check:
    """One threshold against one figure of the evidence."""

    name: str
    value: float | None
    limit: float
    passed: bool
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "limit": self.limit, "passed": self.passed, "text": self.text}


@dataclass(frozen=True)
class Review:
    """A person's decision on one claim version."""

    reviewer: str
    decision: str
    comment: str
    wall_time: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Claim:
    """One version of the claim about one analysed sample of a target."""

    id: int
    campaign_id: str
    key: str  # the sample the claim is about
    version: int
    target_id: str
    target: str
    experiment_id: str
    samples: tuple[str, ...]
    verdict: str
    novelty: str
    analysis_version: str
    evidence: dict[str, Any]
    curves: dict[str, list[float]] | None
    created_s: float | None
    created_wall: float | None
    reviews: tuple[Review, ...] = ()
    versions: int = 1  # how many versions this claim has (this one may be older)

    @property
    def status(self) -> str:
        return self.reviews[-1].decision if self.reviews else ClaimStatus.AUTOMATIC.value

    @property
    def made(self) -> bool:
        """The evidence alone supports "made" (the engine marks the target made by it)."""
        return self.verdict == Verdict.MADE.value

    @property
    def headline(self) -> str:
        text = f"{self.target}: {self.verdict}"
        if self.novelty.startswith("likely a known disordered phase"):
            text += f" ({self.novelty})"
        return f"{text} [{self.status}]"

    def to_dict(self, include_curves: bool = False) -> dict[str, Any]:
        data = {
            "id": self.id,
            "campaign": self.campaign_id,
            "claim": self.key,
            "version": self.version,
            "versions": self.versions,
            "target_id": self.target_id,
            "target": self.target,
            "experiment": self.experiment_id,
            "samples": list(self.samples),
            "verdict": self.verdict,
            "status": self.status,
            "novelty": self.novelty,
            "headline": self.headline,
            "analysis_version": self.analysis_version,
            "evidence": self.evidence,
            "reviews": [r.to_dict() for r in self.reviews],
            "created_s": self.created_s,
            "created_wall": self.created_wall,
        }
        if include_curves:
            data["curves"] = self.curves
        return data


# ----------------------------------------------------------------------------- the evidence


def judge(
    target: str, analysis: AnalysisResult, thresholds: ClaimThresholds
) -> tuple[str, list[Check], dict[str, Any]]:
    """(verdict, checks, evidence) of one analysis of a target's sample."""
    extra = dict(analysis.evidence or {})
    phases = extra.get("phases") or [p.to_dict() for p in analysis.phases]
    target_phases = [p for p in phases if _same_formula(p.get("formula", ""), target) or p.get("phase_id") == target]
    impurities = [p for p in phases if p not in target_phases]
    yield_esd = max((float(p.get("weight_fraction_esd", 0.0)) for p in target_phases), default=None)
    alternatives = list(extra.get("alternatives") or [])
    best_alternative = min(
        (a for a in alternatives if a.get("delta_rwp") is not None), key=lambda a: a["delta_rwp"], default=None
    )
    figures: dict[str, float | None] = {
        "target_yield": float(analysis.target_yield),
        "rwp": None if analysis.rwp is None else float(analysis.rwp),
        "rexp": extra.get("rexp"),
        "goodness_of_fit": extra.get("goodness_of_fit"),
        "unexplained_fraction": extra.get("unexplained_fraction"),
        "amorphous_fraction": extra.get("amorphous_fraction"),
        "yield_esd": yield_esd if target_phases else None,
        "alternative_delta_rwp": None if best_alternative is None else float(best_alternative["delta_rwp"]),
    }
    checks = [_check("target yield", figures["target_yield"], thresholds.success_yield, at_least=True)]
    checks.append(
        _check(
            "target yield above the success yield",
            figures["target_yield"] - thresholds.success_yield,
            thresholds.yield_margin,
            at_least=True,
        )
    )
    checks.append(_check("Rwp", figures["rwp"], thresholds.max_rwp))
    checks.append(_check("goodness of fit (Rwp/Rexp)", figures["goodness_of_fit"], thresholds.max_goodness_of_fit))
    checks.append(_check("unexplained fraction", figures["unexplained_fraction"], thresholds.max_unexplained_fraction))
    checks.append(_check("amorphous fraction", figures["amorphous_fraction"], thresholds.max_amorphous_fraction))
    checks.append(_check("target weight-fraction uncertainty", figures["yield_esd"], thresholds.max_yield_esd))
    checks.append(
        _check(
            "Rwp rise of the best fit without the target",
            figures["alternative_delta_rwp"],
            thresholds.min_alternative_delta_rwp,
            at_least=True,
        )
    )
    if analysis.unknown_phase_suspected:
        checks.append(Check("unknown phase suspected", 1.0, 0.0, False, "the analysis suspects an unknown phase"))
    reported = [c for c in checks if c.value is not None]
    if not checks[0].passed:
        verdict = Verdict.NOT_MADE
    elif all(c.passed for c in reported):
        verdict = Verdict.MADE
    else:
        verdict = Verdict.NEEDS_REVIEW
    missing = [c.name for c in checks if c.value is None]
    evidence = {
        "figures": figures,
        "checks": [c.to_dict() for c in checks],
        "not_reported": missing,
        "phases": phases,
        "impurities": impurities,
        "alternatives": alternatives,
        "unknown_phase_suspected": bool(analysis.unknown_phase_suspected),
        "analyzer": analysis.analyzer,
        "notes": analysis.notes,
        "thresholds": thresholds.to_dict(),
    }
    if analysis.rwp is None:
        evidence["warning"] = f"no fit evidence: analyzer {analysis.analyzer} reports no Rwp (a stand-in)"
    return verdict.value, checks, evidence


def _check(name: str, value: float | None, limit: float, at_least: bool = False) -> Check:
    if value is None:
        return Check(name, None, limit, True, f"{name}: not reported")
    passed = value >= limit if at_least else value <= limit
    relation = ">=" if at_least else "<="
    mark = "ok" if passed else "MISSED"
    return Check(name, round(float(value), 4), limit, passed, f"{name} {value:.3g} {relation} {limit:g}: {mark}")


def _same_formula(a: str, b: str) -> bool:
    from powderlab.chemistry.phases import _reduced_formula

    ra = _reduced_formula(a)
    return ra is not None and ra == _reduced_formula(b)


def novelty_of(target: str, library: Any = None) -> tuple[str, dict[str, Any] | None]:
    """(novelty label, order-disorder check) of a target formula by its predicted structure (the
    phase of that formula in `library`, default the packaged one)."""
    from powderlab.chemistry.disorder import check_library_phase, check_order_disorder
    from powderlab.chemistry.phases import default_library

    packaged = library is None or library is default_library()
    library = default_library() if library is None else library
    try:
        phase = library.find(target)
    except UnknownResourceError:
        return "no predicted structure (not in the phase library): novelty not checked", None
    if packaged:
        check = check_library_phase(phase.phase_id)
    else:
        check = check_order_disorder(phase.structure(), library, exclude=[phase.phase_id])
    provenance = phase.provenance or {}
    if check.matched:
        return check.matches[0].describe(), check.to_dict()
    if provenance.get("structure_quality") == "literature" or provenance.get("structure_source"):
        return (
            f"known compound (reference library: {provenance.get('structure_source', 'literature')})",
            check.to_dict(),
        )
    return "new: no known disordered parent matches the predicted structure", check.to_dict()


@dataclass(frozen=True)
class PendingClaim:
    """A claim judged but not yet written: the engine decides "made" by it in memory and writes it
    with the analysis, in the same transaction (`write`)."""

    campaign_id: str
    key: str
    target_id: str
    target: str
    experiment_id: str
    verdict: str
    novelty: str
    analysis_version: str
    evidence: dict[str, Any]
    curves: dict[str, list[float]] | None
    sim_now: float | None

    @property
    def made(self) -> bool:
        return self.verdict == Verdict.MADE.value

    def write(self, store: Store) -> Claim:
        """Insert as the next version of its claim (joins an open transaction)."""
        with store.atomic() as conn:
            latest = conn.execute(
                select(func.max(claims.c.version)).where(
                    claims.c.campaign_id == self.campaign_id, claims.c.claim_key == self.key
                )
            ).scalar()
            values = {
                "campaign_id": self.campaign_id,
                "claim_key": self.key,
                "version": (latest or 0) + 1,
                "target_id": self.target_id,
                "target": self.target,
                "experiment_id": self.experiment_id,
                "samples": [self.key],
                "verdict": self.verdict,
                "novelty": self.novelty,
                "analysis_version": self.analysis_version,
                "evidence": self.evidence,
                "curves": self.curves,
                "created_s": self.sim_now,
                "created_wall": time.time(),
            }
            row_id = conn.execute(insert(claims).values(**values)).inserted_primary_key[0]
        return ClaimLedger._claim({"id": row_id, **values}, (), values["version"])


def assess(
    campaign_id: str,
    *,
    key: str,
    target_id: str,
    target: str,
    experiment_id: str,
    analysis: AnalysisResult,
    thresholds: ClaimThresholds,
    sim_now: float | None,
    library: Any = None,
) -> PendingClaim:
    """Judge one analysis of a target's sample: verdict, novelty (order-disorder check against
    `library`, default the packaged one), evidence."""
    verdict, _checks, evidence = judge(target, analysis, thresholds)
    novelty, disorder = novelty_of(target, library)
    evidence["order_disorder"] = disorder
    return PendingClaim(
        campaign_id,
        key,
        target_id,
        target,
        experiment_id,
        verdict,
        novelty,
        str((analysis.evidence or {}).get("analysis_version") or analysis.analyzer),
        _jsonable(evidence),
        analysis.curves,
        sim_now,
    )


# ----------------------------------------------------------------------------- the ledger


class ClaimLedger:
    """Claims of the campaigns in one store: record, list, show, review, re-analyse."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def record(
        self,
        campaign_id: str,
        *,
        key: str,
        target_id: str,
        target: str,
        experiment_id: str,
        analysis: AnalysisResult,
        thresholds: ClaimThresholds,
        sim_now: float | None,
    ) -> Claim:
        """A new version of the claim `key` (the first when there is none); joins an open transaction."""
        pending = assess(
            campaign_id,
            key=key,
            target_id=target_id,
            target=target,
            experiment_id=experiment_id,
            analysis=analysis,
            thresholds=thresholds,
            sim_now=sim_now,
        )
        return pending.write(self.store)

    def review(self, claim_id: int, reviewer: str, decision: str, comment: str) -> Claim:
        """A person accepts or rejects one claim version, with a comment (kept; never replaced)."""
        if decision not in REVIEW_DECISIONS:
            raise ValidationError("decision", f"'{decision}' is not allowed; allowed: {', '.join(REVIEW_DECISIONS)}")
        if not reviewer.strip():
            raise ValidationError("reviewer", "a review needs the name of the person who made it")
        if not comment.strip():
            raise ValidationError("comment", f"say why the claim is {decision} (a comment is required)")
        self.get(claim_id)  # names a claim that exists
        with self.store.atomic() as conn:
            conn.execute(
                insert(claim_reviews).values(
                    claim_id=claim_id, reviewer=reviewer, decision=decision, comment=comment, wall_time=time.time()
                )
            )
        return self.get(claim_id)

    def get(self, claim_id: int) -> Claim:
        """One claim version by its id."""
        with self.store.engine.connect() as conn:
            row = conn.execute(select(claims).where(claims.c.id == claim_id)).mappings().first()
        if row is None:
            raise UnknownResourceError("claim", str(claim_id), [str(c.id) for c in self.list()][:20])
        return self._with_reviews(dict(row))

    def versions(self, campaign_id: str, key: str) -> list[Claim]:
        """Every version of one claim, oldest first."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(claims)
                .where(claims.c.campaign_id == campaign_id, claims.c.claim_key == key)
                .order_by(claims.c.version)
            ).mappings()
            return [self._with_reviews(dict(r)) for r in rows]

    def list(self, campaign_id: str | None = None, all_versions: bool = False) -> list[Claim]:
        """The claims (latest version of each unless all_versions), in recording order."""
        query = select(claims).order_by(claims.c.id)
        if campaign_id is not None:
            query = query.where(claims.c.campaign_id == campaign_id)
        with self.store.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
        count: dict[tuple[str, str], int] = {}
        for row in rows:
            count[(row["campaign_id"], row["claim_key"])] = max(
                count.get((row["campaign_id"], row["claim_key"]), 0), row["version"]
            )
        if not all_versions:
            rows = [r for r in rows if r["version"] == count[(r["campaign_id"], r["claim_key"])]]
        reviews = self._reviews([r["id"] for r in rows])
        return [self._claim(r, reviews.get(r["id"], ()), count[(r["campaign_id"], r["claim_key"])]) for r in rows]

    def reanalyze(self, claim_id: int, analyzer: Any, thresholds: ClaimThresholds | None = None) -> Claim:
        """Analyse the claim's sample pattern again (e.g. with new reference phases): a new version."""
        claim = self.get(claim_id)
        pattern = self.store.pattern(claim.key)
        if pattern is None:
            raise UnknownResourceError("pattern of sample", claim.key, [])
        from powderlab.autonomy.model import elements_of

        analysis = analyzer.analyze(pattern, claim.target, elements_of(claim.target))
        if thresholds is None:
            thresholds = ClaimThresholds.from_mapping(claim.evidence.get("thresholds"))
        return self.record(
            claim.campaign_id,
            key=claim.key,
            target_id=claim.target_id,
            target=claim.target,
            experiment_id=claim.experiment_id,
            analysis=analysis,
            thresholds=thresholds,
            sim_now=claim.created_s,
        )

    # --- rows -> claims

    def _reviews(self, claim_ids: Sequence[int]) -> dict[int, tuple[Review, ...]]:
        if not claim_ids:
            return {}
        found: dict[int, list[Review]] = {}
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(claim_reviews).where(claim_reviews.c.claim_id.in_(list(claim_ids))).order_by(claim_reviews.c.id)
            ).mappings()
            for r in rows:
                found.setdefault(r["claim_id"], []).append(
                    Review(r["reviewer"], r["decision"], r["comment"], r["wall_time"])
                )
        return {k: tuple(v) for k, v in found.items()}

    def _with_reviews(self, row: dict[str, Any]) -> Claim:
        with self.store.engine.connect() as conn:
            versions = conn.execute(
                select(func.max(claims.c.version)).where(
                    claims.c.campaign_id == row["campaign_id"], claims.c.claim_key == row["claim_key"]
                )
            ).scalar()
        return self._claim(row, self._reviews([row["id"]]).get(row["id"], ()), int(versions or row["version"]))

    @staticmethod
    def _claim(row: Mapping[str, Any], reviews: Sequence[Review], versions: int) -> Claim:
        return Claim(
            id=int(row["id"]),
            campaign_id=row["campaign_id"],
            key=row["claim_key"],
            version=int(row["version"]),
            target_id=row["target_id"],
            target=row["target"],
            experiment_id=row["experiment_id"],
            samples=tuple(row["samples"] or ()),
            verdict=row["verdict"],
            novelty=row["novelty"],
            analysis_version=row["analysis_version"],
            evidence=dict(row["evidence"] or {}),
            curves=row["curves"],
            created_s=row["created_s"],
            created_wall=row["created_wall"],
            reviews=tuple(reviews),
            versions=versions,
        )


def _jsonable(value: Any) -> Any:
    """Plain JSON types (numpy floats and tuples from analyzers become floats and lists)."""
    return json.loads(json.dumps(value, default=float))


# ----------------------------------------------------------------------------- the engine's hook


def thresholds_of(config: Any) -> ClaimThresholds:
    """The claim thresholds of a campaign: CampaignConfig.extra["claims"] over its success_yield."""
    extra = getattr(config, "extra", None) or {}
    return ClaimThresholds.from_mapping(extra.get("claims"), success_yield=getattr(config, "success_yield", None))


def claim_for_analysis(
    config: Any,
    campaign_id: str,
    *,
    sample_id: str,
    target_id: str,
    target: str,
    experiment_id: str,
    analysis: AnalysisResult,
    sim_now: float | None,
    library: Any = None,
) -> PendingClaim:
    """The engine's one call when an analysis comes in: the claim of this sample, judged by the
    campaign's thresholds. The target counts as made when `made`; `write(store)` records it. A
    failure of the assessment itself must not stop the lab: the claim then says so and needs review.
    `library`: the analysis's (with a candidate library's predicted structures, ADR 0109), for the
    order-disorder check of a target given by formula alone."""
    thresholds = thresholds_of(config)
    try:
        return assess(
            campaign_id,
            key=sample_id,
            target_id=target_id,
            target=target,
            experiment_id=experiment_id,
            analysis=analysis,
            thresholds=thresholds,
            sim_now=sim_now,
            library=library,
        )
    except Exception as error:
        log.exception("claim assessment of %s failed", sample_id)
        verdict = Verdict.NEEDS_REVIEW if analysis.target_yield >= thresholds.success_yield else Verdict.NOT_MADE
        evidence = {"warning": f"claim assessment failed: {error!r}", "analysis": analysis.to_dict()}
        return PendingClaim(
            campaign_id,
            sample_id,
            target_id,
            target,
            experiment_id,
            verdict.value,
            "not checked",
            analysis.analyzer,
            _jsonable(evidence),
            analysis.curves,
            sim_now,
        )


__all__ = [
    "Check",
    "Claim",
    "ClaimLedger",
    "ClaimStatus",
    "ClaimThresholds",
    "PendingClaim",
    "Review",
    "Verdict",
    "assess",
    "claim_for_analysis",
    "judge",
    "novelty_of",
    "thresholds_of",
]
