"""`powderlab claims list|show|export|reanalyze`: the claims ledger of a campaign store (ADR 0098).

Reviews (accept / reject with a comment) are a logged-in person's, in the dashboard; here claims
are read, exported for scripts, and re-analysed (a new version, e.g. after `xrd add-phase`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from powderlab.core.errors import ValidationError


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "claims", help="the claims of a campaign store: what was made, on which evidence, reviewed by whom"
    )
    commands = parser.add_subparsers(dest="claims_command", required=True)

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--database", required=True, help="the campaign store: a file path or sqlite:// / postgresql:// URL"
        )
        sub.add_argument("--json", action="store_true", help="print JSON (for scripts)")

    listing = commands.add_parser("list", help="one line per claim (latest versions)")
    common(listing)
    listing.add_argument("--campaign", default=None, help="only this campaign's claims")
    listing.add_argument("--all-versions", action="store_true", help="every version, not only the latest")
    listing.set_defaults(handler=run_list)

    show = commands.add_parser("show", help="one claim with its evidence, versions and reviews")
    common(show)
    show.add_argument("claim", type=int, help="the claim's id (from `claims list`)")
    show.add_argument("--curves", action="store_true", help="with --json: include the observed/calculated curves")
    show.set_defaults(handler=run_show)

    export = commands.add_parser("export", help="every claim with its evidence and curves as JSON")
    common(export)
    export.add_argument("--campaign", default=None, help="only this campaign's claims")
    export.add_argument("-o", "--output", default=None, help="write to this file (default: standard output)")
    export.set_defaults(handler=run_export)

    again = commands.add_parser(
        "reanalyze", help="analyse a claim's pattern again with today's references: a new version of the claim"
    )
    common(again)
    again.add_argument("claim", type=int, help="the claim's id")
    again.set_defaults(handler=run_reanalyze)


def _ledger(database: str) -> Any:
    from powderlab.autonomy.claims import ClaimLedger
    from powderlab.autonomy.store import Store

    if "://" not in database and not Path(database).exists():
        raise ValidationError("--database", f"{database} does not exist; give the store a campaign wrote")
    return ClaimLedger(Store(database))


def _line(claim: Any) -> str:
    figures = claim.evidence.get("figures", {})
    rwp = figures.get("rwp")
    return (
        f"{claim.id:>5}  {claim.campaign_id:<18.18} {claim.target:<12.12} {claim.key:<22.22} v{claim.version}/"
        f"{claim.versions}  {claim.verdict:<12} {claim.status:<9} yield {figures.get('target_yield', 0):.0%}  "
        f"Rwp {'--' if rwp is None else f'{rwp:.3f}'}  {claim.novelty[:60]}"
    )


def run_list(args: argparse.Namespace) -> int:
    ledger = _ledger(args.database)
    found = ledger.list(args.campaign, all_versions=args.all_versions)
    if args.json:
        print(json.dumps([c.to_dict() for c in found], indent=1))
        return 0
    if not found:
        print("no claims" + (f" in campaign {args.campaign}" if args.campaign else ""))
        return 0
    print(f"{'id':>5}  {'campaign':<18} {'target':<12} {'sample':<22} ver   {'verdict':<12} {'status':<9} evidence")
    for claim in found:
        print(_line(claim))
    return 0


def run_show(args: argparse.Namespace) -> int:
    ledger = _ledger(args.database)
    claim = ledger.get(args.claim)
    versions = ledger.versions(claim.campaign_id, claim.key)
    if args.json:
        data = claim.to_dict(include_curves=args.curves)
        data["all_versions"] = [
            {"id": v.id, "version": v.version, "verdict": v.verdict, "status": v.status} for v in versions
        ]
        print(json.dumps(data, indent=1))
        return 0
    print(f"claim {claim.id}: {claim.headline}")
    print(
        f"  campaign {claim.campaign_id}, target {claim.target} ({claim.target_id}), experiment {claim.experiment_id}"
    )
    print(
        f"  samples: {', '.join(claim.samples)}; version {claim.version} of {claim.versions}; {claim.analysis_version}"
    )
    print(f"  novelty: {claim.novelty}")
    if claim.evidence.get("warning"):
        print(f"  WARNING: {claim.evidence['warning']}")
    print("  checks:")
    for check in claim.evidence.get("checks", []):
        print(f"    {check['text']}")
    print("  phases:")
    for phase in claim.evidence.get("phases", []):
        esd = phase.get("weight_fraction_esd")
        print(
            f"    {phase.get('phase_id', phase.get('phase'))} ({phase.get('formula')}): "
            f"{phase.get('weight_fraction', 0):.1%}" + (f" +- {esd:.1%}" if esd is not None else "")
        )
    for alternative in claim.evidence.get("alternatives", []):
        phases = ", ".join(f"{p['phase_id']} {p['weight_fraction']:.0%}" for p in alternative.get("phases", []))
        worse = alternative.get("delta_rwp")
        print(f"  alternative ({alternative.get('note', '')}): {phases or '-'}; Rwp worse by {worse}")
    disorder = claim.evidence.get("order_disorder")
    if disorder:
        parents = ", ".join(m["parent_id"] for m in disorder["matches"]) or "none"
        print(
            f"  order-disorder: metals {', '.join(disorder['metals'])}; parents matched: {parents} {disorder['note']}"
        )
    for review in claim.reviews:
        print(f"  review: {review.decision} by {review.reviewer}: {review.comment}")
    if len(versions) > 1:
        print("  versions: " + "; ".join(f"{v.id}: v{v.version} {v.verdict} [{v.status}]" for v in versions))
    return 0


def run_export(args: argparse.Namespace) -> int:
    ledger = _ledger(args.database)
    data = {"claims": [c.to_dict(include_curves=True) for c in ledger.list(args.campaign, all_versions=True)]}
    text = json.dumps(data, indent=1)
    if args.output:
        Path(args.output).write_text(text)
        print(f"{len(data['claims'])} claim versions written to {args.output}", file=sys.stderr)
    else:
        print(text)
    return 0


def run_reanalyze(args: argparse.Namespace) -> int:
    from powderlab.autonomy.analysis import ChemistryAnalyzer

    ledger = _ledger(args.database)
    claim = ledger.reanalyze(args.claim, ChemistryAnalyzer())
    if args.json:
        print(json.dumps(claim.to_dict(), indent=1))
    else:
        print(f"claim {claim.id} (version {claim.version} of {claim.key}): {claim.headline}")
    return 0
