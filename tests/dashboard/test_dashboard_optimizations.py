"""The Optimizations pages in real Chromium, on optimizations the daemon really made: a
daemon on loopback, a real Prometheus scraping series the test sets, a sizing run asked of
the API that lands, a planted regression and the run that reverts it. The list shows both
with their states; the proposal's page shows its change, trade-off, decision and the
objective before and after as a chart."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests import gitrepo, prometheus
from tests.api import live
from tests.dashboard.browser import OPERATOR, VIEWER, Site, screenshot, sign_in, tokens
from tests.optimize.test_optimization_runs import SETTINGS, WEBAPP, steady
from tests.prometheus import Served

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("prometheus")
    yield from prometheus.serve(tmp, ["app_cpu", "app_latency_seconds"])


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, served: Served) -> Iterator[dict[str, Any]]:
    """The site, with the sizing proposal and its revert the daemon made."""
    tmp = tmp_path_factory.mktemp("optimizations")
    repo = tmp / "repo"
    gitrepo.make_repo(repo, {"reconciler.yaml": SETTINGS, "resources/web.yaml": WEBAPP})
    settings = live.settings_for(
        tmp / "data",
        {"name": "shop", "path": str(repo), "ref": "main", "interval": "1h"},
        auth={"tokens": tokens()},
        prometheus={"url": served.url},
    )
    operator = {"Authorization": f"Bearer {OPERATOR}"}
    with live.serve(settings, run_daemon=False) as running:
        steady(served, cpu=0.3, latency=0.1, seconds=4.5)
        first = running.post("/api/v1/optimizations/run", json={}, headers=operator)
        assert first.status_code == 200, first.text
        steady(served, cpu=0.3, latency=0.3, seconds=4.5)  # the planted regression
        second = running.post("/api/v1/optimizations/run", json={}, headers=operator)
        assert second.status_code == 200, second.text
        [proposal], [revert] = first.json()["proposals"], second.json()["proposals"]
        yield {
            "site": Site(live=running, repo=repo, out=tmp / "out"),
            "proposal": proposal,
            "revert": revert,
        }


def test_the_list_shows_each_optimization_with_its_state(page: Page, made: dict[str, Any]) -> None:
    site: Site = made["site"]
    sign_in(page, site, VIEWER, next_path="/optimizations")
    rows = page.locator("#optimization-table tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("optimization-revert")  # newest first
    expect(rows.nth(0)).to_contain_text("0.42 → 2")
    expect(rows.nth(0)).to_contain_text("landed")
    expect(rows.nth(1)).to_contain_text("2 → 0.42")
    expect(rows.nth(1)).to_contain_text("reverted")
    expect(rows.nth(1)).to_contain_text("passes")
    expect(rows.nth(1).locator("code")).to_contain_text([made["proposal"]["field"], "optimize/"])
    screenshot(page, "optimizations")


def test_a_proposal_shows_its_change_decision_and_chart(page: Page, made: dict[str, Any]) -> None:
    site: Site = made["site"]
    proposal, revert = made["proposal"], made["revert"]
    sign_in(page, site, VIEWER, next_path="/optimizations")
    page.locator("#optimization-table tbody tr").nth(1).get_by_role("link").click()
    page.wait_for_url(f"{site.url}/optimizations/{proposal['id']}")
    facts = page.locator("#optimization dl.facts")
    expect(facts).to_contain_text("WebApp/shop/web in resources/web.yaml: spec.cpu 2 → 0.42")
    expect(facts).to_contain_text("p95 of app_cpu is 0.3")
    expect(facts).to_contain_text(proposal["commit"][:12])
    expect(facts.get_by_role("link", name=revert["id"][:12])).to_have_attribute(
        "href", f"/optimizations/{revert['id']}"
    )
    tradeoff = page.locator("section[aria-labelledby=h-tradeoff] tbody tr")
    expect(tradeoff).to_have_count(3)
    expect(tradeoff.nth(2)).to_contain_text("chosen")
    chart = page.get_by_role("img", name="app_latency_seconds: before median 0.1, after median 0.3")
    expect(chart).to_be_visible()
    assert chart.locator("polyline").count() == 2
    box = chart.bounding_box()
    assert box is not None and box["width"] == 600 and box["height"] == 160
    expect(page.locator("section[aria-labelledby=h-metric]")).to_contain_text("median 0.1 → 0.3")
    expect(page.locator(".explanation p").first).not_to_be_empty()
    screenshot(page, "optimization")
