"""The claims of a campaign in its report (JSON part and HTML section), from the claims ledger."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

from powderlab.autonomy.claims import Claim, ClaimLedger
from powderlab.autonomy.store import Store


def claims_document(store: Store, campaign_id: str) -> list[dict[str, Any]]:
    """Every claim version of the campaign (without curves: those stay in the store and the export)."""
    return [c.to_dict() for c in ClaimLedger(store).list(campaign_id, all_versions=True)]


def claims_html(
    store: Store, campaign_id: str, plot: Callable[[dict[str, list[float]] | None, str], str] | None
) -> str:
    """The report's "Claims" section: one block per claim (latest version), evidence first."""
    found = ClaimLedger(store).list(campaign_id)
    parts = ["<h2>Claims</h2>"]
    if not found:
        parts.append("<p>No claims: no sample of this campaign was analysed.</p>")
        return "\n".join(parts)
    counts: dict[str, int] = {}
    for claim in found:
        counts[claim.verdict] = counts.get(claim.verdict, 0) + 1
    parts.append(
        "<p>"
        + "; ".join(f"{n} {html.escape(v)}" for v, n in sorted(counts.items()))
        + ". A claim is <i>made</i> only when every threshold holds; it stays <i>automatic</i> until a person "
        "accepts or rejects it in the dashboard.</p>"
    )
    for claim in found:
        parts.append(_claim_html(claim, plot))
    return "\n".join(parts)


def _claim_html(claim: Claim, plot: Callable[[dict[str, list[float]] | None, str], str] | None) -> str:
    css = {"made": "made", "needs review": "review"}.get(claim.verdict, "bad")
    esc = html.escape
    rows = [
        f"<div class='claim' id='claim-{claim.id}'><h3 class='{css}'>claim {claim.id}: {esc(claim.headline)}</h3>",
        f"<p>sample {esc(', '.join(claim.samples))}, experiment {esc(claim.experiment_id)}; version "
        f"{claim.version} of {claim.versions}; {esc(claim.analysis_version)}<br>novelty: {esc(claim.novelty)}</p>",
    ]
    if claim.evidence.get("warning"):
        rows.append(f"<p class='bad'>{esc(claim.evidence['warning'])}</p>")
    rows.append("<table><tr><th>check</th><th>value</th><th>limit</th><th></th></tr>")
    for check in claim.evidence.get("checks", []):
        value = "not reported" if check["value"] is None else f"{check['value']:.4g}"
        mark = "ok" if check["passed"] else "<b class='bad'>missed</b>"
        rows.append(f"<tr><td>{esc(check['name'])}</td><td>{value}</td><td>{check['limit']:g}</td><td>{mark}</td></tr>")
    rows.append("</table><table><tr><th>phase</th><th>wt%</th><th>+-</th><th></th></tr>")
    impurities = {p.get("phase_id") for p in claim.evidence.get("impurities", [])}
    for phase in claim.evidence.get("phases", []):
        esd = phase.get("weight_fraction_esd")
        role = "impurity" if phase.get("phase_id") in impurities else "target"
        rows.append(
            f"<tr><td>{esc(str(phase.get('phase_id')))}</td><td>{100 * phase.get('weight_fraction', 0):.1f}</td>"
            f"<td>{'' if esd is None else f'{100 * esd:.1f}'}</td><td>{role}</td></tr>"
        )
    rows.append("</table>")
    for alternative in claim.evidence.get("alternatives", []):
        phases = ", ".join(f"{p['phase_id']} {100 * p['weight_fraction']:.0f}%" for p in alternative.get("phases", []))
        rows.append(
            f"<p>alternative hypothesis ({esc(alternative.get('note', ''))}): {esc(phases or '-')}; "
            f"Rwp {alternative.get('rwp')} (worse by {alternative.get('delta_rwp')})</p>"
        )
    disorder = claim.evidence.get("order_disorder")
    if disorder:
        matched = ", ".join(f"{m['parent_id']} ({m['parent_spacegroup']})" for m in disorder["matches"]) or "none"
        rows.append(
            f"<p>order-disorder check: metals {esc(', '.join(disorder['metals']))}; disordered parents matched: "
            f"{esc(matched)} {esc(disorder.get('note', ''))}</p>"
        )
    for review in claim.reviews:
        rows.append(f"<p>review: <b>{esc(review.decision)}</b> by {esc(review.reviewer)}: {esc(review.comment)}</p>")
    if plot is not None and claim.curves:
        rows.append(f"<img src='data:image/png;base64,{plot(claim.curves, f'claim {claim.id}: {claim.key}')}'>")
    rows.append("</div>")
    return "\n".join(rows)
