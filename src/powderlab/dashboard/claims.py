"""The claims ledger in the dashboard: read by anyone, reviewed by a logged-in person (ADR 0098).

GET /api/claims lists the latest version of every claim; GET /api/claims/{id} gives one version
with its curves, its other versions and its reviews; POST /api/claims/{id}/review with
{"decision": "accepted"|"rejected", "comment": "..."} records a review by the logged-in user, in
the ledger and in the dashboard's command log (the audit trail of ADR 0072).

The ledger is the campaign store's (`powderlab.autonomy.claims.ClaimLedger`), opened by the
dashboard process from its `campaign_database` parameter; the web app takes any object with its
list/get/versions/review methods.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

CLAIMS_KEY = web.AppKey("claims", object)


class StoreLedger:
    """The claims ledger of a campaign store, opened when first needed: the dashboard may start
    before the autonomy node has created the store (until then there are no claims)."""

    def __init__(self, database: str) -> None:
        self.database = database
        self._ledger: Any = None

    def _open(self) -> Any:
        if self._ledger is None:
            from pathlib import Path

            from powderlab.autonomy.claims import ClaimLedger
            from powderlab.autonomy.store import Store

            if "://" not in self.database and not Path(self.database).expanduser().exists():
                return None
            self._ledger = ClaimLedger(Store(str(Path(self.database).expanduser())))
        return self._ledger

    def list(self, campaign_id: str | None = None) -> list[Any]:
        ledger = self._open()
        return [] if ledger is None else ledger.list(campaign_id)

    def get(self, claim_id: int) -> Any:
        ledger = self._open()
        if ledger is None:
            raise LookupError(f"no claim {claim_id}: the campaign store {self.database} does not exist yet")
        return ledger.get(claim_id)

    def versions(self, campaign_id: str, key: str) -> list[Any]:
        ledger = self._open()
        return [] if ledger is None else ledger.versions(campaign_id, key)

    def review(self, claim_id: int, reviewer: str, decision: str, comment: str) -> Any:
        ledger = self._open()
        if ledger is None:
            raise LookupError(f"no claim {claim_id}: the campaign store {self.database} does not exist yet")
        return ledger.review(claim_id, reviewer, decision, comment)


def add_routes(app: web.Application, ledger: Any) -> None:
    """Serve the ledger (None: the routes answer that no campaign store is configured)."""
    app[CLAIMS_KEY] = ledger
    app.router.add_get("/api/claims", list_claims)
    app.router.add_get("/api/claims/{id}", show_claim)
    app.router.add_post("/api/claims/{id}/review", review_claim)


def _ledger(request: web.Request) -> Any:
    ledger = request.app[CLAIMS_KEY]
    if ledger is None:
        raise web.HTTPNotFound(
            text="no campaign store configured: start the dashboard with the campaign_database parameter"
        )
    return ledger


def _claim_id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise web.HTTPBadRequest(text="a claim id is an integer (see /api/claims)") from None


async def list_claims(request: web.Request) -> web.Response:
    ledger = request.app[CLAIMS_KEY]
    if ledger is None:
        return web.json_response({"configured": False, "claims": []})
    campaign = request.query.get("campaign") or None
    found = await asyncio.to_thread(ledger.list, campaign)
    return web.json_response({"configured": True, "claims": [c.to_dict() for c in found]})


async def show_claim(request: web.Request) -> web.Response:
    ledger = _ledger(request)
    claim_id = _claim_id(request)
    try:
        claim = await asyncio.to_thread(ledger.get, claim_id)
    except LookupError as error:
        raise web.HTTPNotFound(text=str(error)) from None
    versions = await asyncio.to_thread(ledger.versions, claim.campaign_id, claim.key)
    data = claim.to_dict(include_curves=True)
    data["all_versions"] = [
        {"id": v.id, "version": v.version, "verdict": v.verdict, "status": v.status} for v in versions
    ]
    return web.json_response(data)


async def review_claim(request: web.Request) -> web.Response:
    from powderlab.dashboard.app import KEYS, _check_csrf, _json_body, current_user

    _check_csrf(request)
    ledger = _ledger(request)
    claim_id = _claim_id(request)
    body = await _json_body(request)
    decision, comment = str(body.get("decision", "")), str(body.get("comment", ""))
    log = request.app[KEYS["log"]]
    arguments = {"claim": claim_id, "decision": decision, "comment": comment}
    user = current_user(request)
    if user is None:
        log.record(f"anonymous@{request.remote or '?'}", "review_claim", arguments, False, "refused: not logged in")
        return web.json_response({"ok": False, "message": "log in to review a claim"}, status=401)
    try:
        claim = await asyncio.to_thread(ledger.review, claim_id, user, decision, comment)
    except LookupError as error:  # UnknownResourceError
        log.record(user, "review_claim", arguments, False, str(error))
        return web.json_response({"ok": False, "message": str(error)}, status=404)
    except ValueError as error:  # ValidationError: no comment, an unknown decision
        log.record(user, "review_claim", arguments, False, str(error))
        return web.json_response({"ok": False, "message": str(error)}, status=400)
    message = f"claim {claim_id} ({claim.target}, {claim.key} v{claim.version}) {decision}"
    log.record(user, "review_claim", arguments, True, message)
    return web.json_response({"ok": True, "message": message, "claim": claim.to_dict()})
