"""Every dashboard page in real Chromium, rendering what a real daemon reconciled: the
demo repository's `motd` (applied) and `banner` (blocked by the strict owner policy), plus
a workflow run with a DAG and a step waiting for approval."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.dashboard.browser import DECISION, OPERATOR, WORKFLOW_RUN, Site, screenshot, sign_in

PAGES = [
    ("overview", "/", ["demo", "Objects by condition", "ReconcileFinished"]),
    ("resources", "/resources", ["File//motd", "File//banner", "PolicyDenied=True"]),
    ("resource", "/resources/File//banner", ["DeniedByPolicy", "banner has no owner"]),
    ("policies", "/policies", ["files.owner", "owner", "strict"]),
    ("runs", "/runs", ["nightly-backup", "reconcile", "startup"]),
    ("run", f"/runs/{WORKFLOW_RUN}", ["approve-upload", "attempt 2", "Timeline"]),
    ("decisions", "/decisions", ["files.owner", "File//banner", "blocked"]),
    (
        "daemon decisions",
        "/daemon/decisions",
        ["owner/File//banner", "runbook:label-owner", "operator", "pending"],
    ),
    (
        "daemon decision",
        f"/daemon/decisions/{DECISION}",
        ["labels are safe to add", "2 recorded outcomes", "waits for approval by the operator"],
    ),
    ("approvals", "/approvals", ["approve-upload", "Upload the backup?", "nightly-backup"]),
    ("simulations", "/simulations", ["No simulation reports are stored"]),
]


@pytest.mark.parametrize(("name", "path", "texts"), PAGES, ids=[p[0] for p in PAGES])
def test_each_page_renders_the_daemons_data(
    page: Page, site: Site, name: str, path: str, texts: list[str]
) -> None:
    sign_in(page, site, OPERATOR, next_path=path)
    expect(page.locator("h1")).to_be_visible()
    main = page.locator("main")
    for text in texts:
        expect(main).to_contain_text(text)
    assert page.locator("nav a[aria-current=page]").count() <= 1
    screenshot(page, name)


def test_the_overview_counts_objects_by_condition(page: Page, site: Site) -> None:
    sign_in(page, site, OPERATOR)
    ready = page.get_by_role("row", name=re.compile(r"^Ready"))
    expect(ready.locator("td")).to_have_text(["1", "1", "0"])
    revision = site.live.get(
        "/api/v1/sources/demo", headers={"Authorization": f"Bearer {OPERATOR}"}
    ).json()["revision"]
    expect(page.locator("#sources")).to_contain_text(revision[:12])


def test_the_overview_shows_the_settings_in_force_and_their_origin(page: Page, site: Site) -> None:
    sign_in(page, site, OPERATOR)
    row = page.locator("#settings").get_by_role("row", name=re.compile(r"^demo"))
    expect(row.locator("td")).to_have_text(["1h (config)", "10m (default)", "false (config)"])


def test_the_overview_shows_the_replicas_and_what_each_owns(page: Page, site: Site) -> None:
    sign_in(page, site, OPERATOR)
    name = site.live.get("/readyz").json()["replica"]
    section = page.locator("#replicas")
    expect(section).to_contain_text(f"This page is served by replica {name}.")
    row = section.get_by_role("row", name=re.compile(f"^{re.escape(name)}"))
    expect(row.locator("td").nth(0)).to_have_text("live")
    expect(row.locator("td").nth(2)).to_have_text("demo")


def test_the_policies_page_counts_violations_and_draws_the_trend(page: Page, site: Site) -> None:
    sign_in(page, site, OPERATOR, next_path="/policies")
    row = page.get_by_role("row", name=re.compile(r"^files\.owner"))
    expect(row.locator("td").nth(4)).to_have_text("1")
    spark = row.locator("svg.spark")
    expect(spark).to_have_attribute("aria-label", re.compile(r"oldest first: (0, ){23}[1-9]"))
    assert row.locator("rect.bar-bad").count() == 1


def test_the_run_page_draws_the_dag_with_state_colours_and_a_timeline(
    page: Page, site: Site
) -> None:
    sign_in(page, site, OPERATOR, next_path=f"/runs/{WORKFLOW_RUN}")
    nodes = page.locator("svg.dag g.node")
    expect(nodes).to_have_count(4)
    assert page.locator("svg.dag g.st-waiting").count() == 1
    assert page.locator("svg.dag g.st-succeeded").count() == 3
    colour = page.locator("svg.dag g.st-waiting rect").evaluate("el => getComputedStyle(el).fill")
    assert colour == "rgb(255, 248, 197)"
    bars = page.locator("ol.timeline li")
    expect(bars).to_have_count(5)
    expect(bars.nth(0)).to_contain_text("failed, 4.00 s")


def test_decisions_filter_by_outcome(page: Page, site: Site) -> None:
    sign_in(page, site, OPERATOR, next_path="/decisions")
    page.get_by_label("Outcome").select_option("deny")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r"outcome=deny"))
    rows = page.locator("#decision-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("File//banner")


def test_an_unknown_resource_is_a_404_page(page: Page, site: Site) -> None:
    sign_in(page, site, OPERATOR)
    response = page.goto(f"{site.url}/resources/File//nope")
    assert response is not None and response.status == 404
    expect(page.get_by_role("alert")).to_have_text('no resource "File//nope"')


def test_a_run_links_to_the_decision_that_started_it(page: Page, site: Site) -> None:
    sign_in(page, site, OPERATOR, next_path=f"/runs/{WORKFLOW_RUN}")
    page.get_by_role("link", name=re.compile(r"^runbook:label-owner at 0\.\d\d")).click()
    page.wait_for_url(f"{site.url}/daemon/decisions/{DECISION}")
    scores = page.locator("#h-scores + table")
    expect(scores.get_by_role("row", name=re.compile(r"^runbook:label-owner"))).to_contain_text(
        "0.70"
    )
    expect(scores.get_by_role("row", name=re.compile(r"^workflow:page-owner"))).to_contain_text(
        "none"
    )


def test_daemon_decisions_filter_by_outcome(page: Page, site: Site) -> None:
    sign_in(page, site, OPERATOR, next_path="/daemon/decisions")
    page.get_by_label("Outcome").select_option("succeeded")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#daemon-decision-table")).to_contain_text("No decisions match.")
