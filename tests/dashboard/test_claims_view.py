"""The claims ledger in the dashboard: open to read, reviewed by a logged-in person, audit-logged;
and the Samples & XRD tab in headless Chromium (a web app over a campaign store, no lab needed)."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from powderlab.autonomy.claims import ClaimLedger, ClaimThresholds
from powderlab.autonomy.model import AnalysisResult, PhaseFraction
from powderlab.autonomy.store import Store
from powderlab.dashboard.app import DashboardSettings, create_app
from powderlab.dashboard.audit import CommandLog
from powderlab.dashboard.auth import UserStore, add_user

USER, PASSWORD = "ada", "correct horse battery"
CHROMIUM = os.environ.get("POWDERLAB_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


class EmptyLab:
    """A monitor of a lab with nothing in it (the claims come from the store, not the lab)."""

    version = 1

    def snapshot(self) -> dict[str, Any]:
        return {
            "version": 1,
            "lab_time": 0.0,
            "estop": {"engaged": False, "reason": "", "source": ""},
            "health": {"seen": False, "all_active": False, "nodes": []},
            "stations": {},
            "arms": {},
            "furnaces": [],
            "positions": [],
            "campaign": None,
            "patterns": [],
            "alarms": [],
            "diagnostics": [],
            "camera": None,
        }

    def history(self) -> dict[str, Any]:
        return {}


def result(target_yield: float, rwp: float, unexplained: float) -> AnalysisResult:
    x = np.linspace(10, 80, 200)
    observed = 100 + 900 * np.exp(-0.5 * ((x - 32) / 0.2) ** 2)
    curves = {"two_theta": x.tolist(), "observed": observed.tolist(), "calculated": (observed * 0.97).tolist()}
    evidence = {
        "analysis_version": "chemistry-whole-pattern-fit/2",
        "rexp": 0.06,
        "goodness_of_fit": rwp / 0.06,
        "unexplained_fraction": unexplained,
        "amorphous_fraction": 0.02,
        "phases": [
            {"phase_id": "ZnO", "formula": "ZnO", "weight_fraction": target_yield, "weight_fraction_esd": 0.004},
            {
                "phase_id": "ZnCO3",
                "formula": "ZnCO3",
                "weight_fraction": 1 - target_yield,
                "weight_fraction_esd": 0.004,
            },
        ],
        "alternatives": [{"phases": [], "rwp": 0.6, "delta_rwp": 0.5, "note": "best fit without ZnO"}],
    }
    phases = (PhaseFraction("ZnO", "ZnO", target_yield), PhaseFraction("ZnCO3", "ZnCO3", 1 - target_yield))
    return AnalysisResult("chemistry-whole-pattern-fit", "ZnO", target_yield, phases, rwp, False, curves, "", evidence)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[ClaimLedger]:
    store = Store(tmp_path / "campaign.sqlite")
    store.create_campaign("c1", "claims", 1, {}, 0.0)
    ledger = ClaimLedger(store)
    common = {"target_id": "c1/ZnO", "target": "ZnO", "thresholds": ClaimThresholds(), "sim_now": 1.0}
    ledger.record("c1", key="s-1", experiment_id="c1/ZnO#1", analysis=result(0.9, 0.07, 0.0), **common)
    ledger.record("c1", key="s-2", experiment_id="c1/ZnO#2", analysis=result(0.86, 0.09, 0.028), **common)
    yield ledger
    store.close()


def make_app(ledger: ClaimLedger, tmp_path: Path) -> tuple[web.Application, CommandLog]:
    add_user(tmp_path / "users.yaml", USER, PASSWORD)
    log = CommandLog(tmp_path / "log.jsonl")
    app = create_app(
        EmptyLab(), object(), UserStore(tmp_path / "users.yaml"), log, DashboardSettings(push_period_s=0.05), ledger
    )
    return app, log


def test_claims_are_open_to_read_and_reviewed_only_by_a_logged_in_person(ledger, tmp_path) -> None:
    app, log = make_app(ledger, tmp_path)
    csrf = {"X-PowderLab": "1"}

    async def scenario() -> None:
        async with TestClient(TestServer(app)) as client:
            listing = await (await client.get("/api/claims")).json()
            assert [(c["claim"], c["verdict"], c["status"]) for c in listing["claims"]] == [
                ("s-1", "made", "automatic"),
                ("s-2", "needs review", "automatic"),
            ]
            second = listing["claims"][1]["id"]
            detail = await (await client.get(f"/api/claims/{second}")).json()
            assert detail["curves"]["two_theta"] and detail["all_versions"][0]["version"] == 1
            assert (await client.get("/api/claims/999")).status == 404

            body = {"decision": "rejected", "comment": "unindexed peaks near 35 and 43 deg"}
            refused = await client.post(f"/api/claims/{second}/review", json=body, headers=csrf)
            assert refused.status == 401
            assert (await client.post(f"/api/claims/{second}/review", json=body)).status == 403  # no CSRF header
            await client.post("/api/login", json={"user": USER, "password": PASSWORD}, headers=csrf)
            empty = await client.post(
                f"/api/claims/{second}/review", json={"decision": "rejected", "comment": ""}, headers=csrf
            )
            assert empty.status == 400 and "comment" in (await empty.json())["message"]
            done = await (await client.post(f"/api/claims/{second}/review", json=body, headers=csrf)).json()
            assert done["ok"] and done["claim"]["status"] == "rejected"

    asyncio.run(scenario())
    review = ledger.get(ledger.list("c1")[1].id).reviews
    assert [(r.reviewer, r.decision) for r in review] == [(USER, "rejected")]
    audit = [(e["user"], e["command"], e["ok"]) for e in log.entries() if e["command"] == "review_claim"]
    assert audit[0][1:] == ("review_claim", False) and audit[0][0].startswith("anonymous@")
    assert audit[-1] == (USER, "review_claim", True)
    assert (USER, "review_claim", False) in audit  # the review without a comment is logged as refused


@pytest.fixture
def served(ledger, tmp_path) -> Iterator[tuple[str, CommandLog]]:
    """The web app on 127.0.0.1 (any free port) in a thread of its own."""
    app, log = make_app(ledger, tmp_path)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    ready = threading.Event()
    url: list[str] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        url.append(f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/")
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert ready.wait(10)
    yield url[0], log
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def test_samples_tab_shows_claims_and_a_person_rejects_one(served) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, log = served
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        try:
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(url)
            page.click('nav#tabs button[data-tab="samples"]')
            review_row = page.locator('#claims tr[data-claim="2"]')
            expect(review_row.locator(".verdict")).to_have_text("needs review", timeout=10_000)
            expect(page.locator('#claims tr[data-claim="1"] .verdict')).to_have_text("made")
            review_row.click()
            expect(page.locator("#claim-title")).to_contain_text("ZnO: needs review", timeout=10_000)
            expect(page.locator("#claim-checks")).to_contain_text("unexplained fraction")
            expect(page.locator("#claim-checks tr.level-warn")).to_have_count(1)  # the one threshold missed
            expect(page.locator("#claim-plot canvas")).to_have_count(1)  # observed / calculated / difference

            page.fill("#login-user", USER)
            page.fill("#login-password", PASSWORD)
            page.click("#login-button")
            expect(page.locator("#user-name")).to_have_text(f"logged in as {USER}", timeout=10_000)
            page.click('nav#tabs button[data-tab="samples"]')
            page.fill("#claim-comment", "residual peaks of an unindexed phase: not a clean synthesis")
            page.click("#claim-reject")
            expect(review_row.locator(".status")).to_have_text("rejected", timeout=10_000)
            expect(page.locator("#claim-reviews")).to_contain_text(f"rejected by {USER}: residual peaks")
        finally:
            browser.close()
    assert not errors, f"JavaScript errors on the page: {errors}"
    assert any(e["command"] == "review_claim" and e["ok"] and e["user"] == USER for e in log.entries())


def test_the_lab_dashboard_reads_the_autonomy_nodes_store_once_it_exists(ledger, tmp_path) -> None:
    from powderlab.bringup.manifest import build_manifest
    from powderlab.dashboard.claims import StoreLedger

    database = str(ledger.store.url).removeprefix("sqlite:///")
    manifest = build_manifest("mock", autonomy={"database": database}, dashboard={"port": 0})
    dashboard = next(n for n in manifest.nodes if n.name == "dashboard")
    assert dashboard.parameters["campaign_database"] == database
    assert (
        "campaign_database"
        not in next(n for n in build_manifest("mock", dashboard={"port": 0}).nodes if n.name == "dashboard").parameters
    )

    later = StoreLedger(str(tmp_path / "not-yet.sqlite"))
    assert later.list() == [] and not (tmp_path / "not-yet.sqlite").exists()  # never creates the store
    assert [c.key for c in StoreLedger(database).list("c1")] == ["s-1", "s-2"]
