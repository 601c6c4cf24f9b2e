"""The Simulations page in real Chromium: a simulation started while the page is open
appears without a reload when it finishes, and its report renders as HTML in which
nothing the pull request wrote (here, a policy message holding markup) becomes markup."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests import gitrepo
from tests.dashboard.browser import OPERATOR, VIEWER, Site, screenshot, sign_in

HOSTILE_REGO = """package files.hostile

import rego.v1

deny contains msg if {
	input.resource.kind == "File"
	msg := "<img src=x onerror=window.pwned=1> <b>bold</b> is not allowed"
}
"""
HOSTILE_BINDING = """apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata: {name: hostile}
spec: {policy: files.hostile, scope: {kinds: [File]}, enforcement: strict}
"""


def _pull_request(site: Site) -> str:
    base = gitrepo.git(site.repo, "rev-parse", "main")
    gitrepo.git(site.repo, "checkout", "--quiet", "-b", "hostile", base)
    head = gitrepo.commit(
        site.repo, {"policies/hostile.rego": HOSTILE_REGO, "policies/hostile.yaml": HOSTILE_BINDING}
    )
    gitrepo.git(site.repo, "checkout", "--quiet", "main")
    return head


def test_a_finished_simulation_appears_live_and_its_report_is_safe_html(
    page: Page, site: Site
) -> None:
    head = _pull_request(site)
    sign_in(page, site, VIEWER, next_path="/simulations")
    expect(page.locator("#simulation-table")).to_contain_text("No simulation reports")
    expect(page.locator("body")).to_have_attribute("data-streaming", "open")
    r = site.live.post(
        "/api/v1/simulations",
        json={"source": "demo", "base": "main", "head": head},
        headers={"Authorization": f"Bearer {OPERATOR}"},
    )
    assert r.status_code == 202, r.text
    row = page.locator("#simulation-table tbody tr").first
    expect(row).to_contain_text("blocked", timeout=60_000)
    expect(row).to_contain_text("succeeded")
    row.get_by_role("link").click()
    page.wait_for_url(f"{site.url}/simulations/{r.json()['simulation']}")
    report = page.locator("article.report")
    expect(report.get_by_role("heading", level=3)).to_contain_text("would be blocked")
    report.locator("summary", has_text="Newly denied").first.click()
    expect(report).to_contain_text("<img src=x onerror=window.pwned=1> <b>bold</b>")
    assert report.locator("img, b").count() == 0
    assert page.evaluate("window.pwned") is None
    screenshot(page, "simulation-report")
