"""Using the dashboard: the keyboard reaches the main actions, pages follow the daemon
live over server-sent events, roles and CSRF are enforced, approvals are answered."""

from __future__ import annotations

import re

from playwright.sync_api import BrowserContext, Page, expect

from tests import gitrepo
from tests.api import live
from tests.dashboard.browser import OPERATOR, VIEWER, Site, screenshot, sign_in


def focused(page: Page) -> str:
    return str(page.evaluate("document.activeElement.textContent.trim()"))


def test_the_keyboard_reaches_the_skip_link_the_pages_and_the_sync_action(
    page: Page, site: Site
) -> None:
    sign_in(page, site, OPERATOR)
    page.keyboard.press("Tab")
    assert focused(page) == "Skip to content"
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    for _ in range(40):
        page.keyboard.press("Tab")
        if focused(page) == "Sync demo":
            break
    else:
        raise AssertionError("Tab never reached the Sync demo button")
    passes = site.live.passes("demo")
    page.keyboard.press("Enter")
    expect(page.locator("#live-status")).to_contain_text("Done:")
    site.live.wait_for(lambda: site.live.passes("demo") > passes, "the requested sync")


def test_pages_update_without_reload_when_a_commit_lands(page: Page, site: Site) -> None:
    sign_in(page, site, OPERATOR, next_path="/resources")
    expect(page.locator("body")).to_have_attribute("data-streaming", "open")
    page.evaluate("window.sameDocument = true")
    extra = live.file_doc("live-extra", path=site.out / "live-extra", owner="web")
    gitrepo.commit(site.repo, {"resources/live.yaml": extra}, message="add live-extra")
    expect(page.locator("#resource-table")).to_contain_text("File//live-extra", timeout=20_000)
    assert page.evaluate("window.sameDocument") is True
    page.goto(f"{site.url}/")
    page.evaluate("window.sameDocument = true")
    newest = page.locator("#events tbody tr td").first
    before = newest.inner_text()
    site.live.post("/api/v1/sources/demo/sync", headers={"Authorization": f"Bearer {OPERATOR}"})
    expect(newest).not_to_have_text(before, timeout=20_000)
    assert page.evaluate("window.sameDocument") is True
    screenshot(page, "overview-live")


def test_a_page_view_without_a_token_is_answered_with_the_sign_in_form(
    page: Page, site: Site
) -> None:
    response = page.goto(f"{site.url}/policies")
    assert response is not None and response.status == 401
    page.get_by_label("Access token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("That token is not valid.")
    page.get_by_label("Access token").fill(VIEWER)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site.url}/policies")
    screenshot(page, "policies-viewer")


def test_a_viewer_sees_no_actions_and_is_refused_when_posting(page: Page, site: Site) -> None:
    sign_in(page, site, VIEWER)
    expect(page.locator("#sources")).to_contain_text("demo")
    assert page.get_by_role("button", name="Sync demo").count() == 0
    status = page.evaluate("""async () => {
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        const r = await fetch('/api/v1/sync', {method: 'POST', headers: {'X-CSRF-Token': csrf}});
        return [r.status, (await r.json()).error];
    }""")
    assert status == [403, "vera (viewer) may not POST /api/v1/sync: needs the operator role"]


def test_a_post_from_the_page_without_the_csrf_token_is_refused(page: Page, site: Site) -> None:
    sign_in(page, site, OPERATOR)
    status = page.evaluate("""async () => {
        const r = await fetch('/api/v1/sync', {method: 'POST'});
        return [r.status, (await r.json()).error];
    }""")
    assert status == [403, "CSRF token missing or wrong"]


def test_the_session_cookie_is_httponly_and_same_site_strict(
    context: BrowserContext, site: Site
) -> None:
    sign_in(context.new_page(), site, OPERATOR)
    cookies = {c["name"]: c for c in context.cookies()}
    session = cookies["reconciler_token"]
    assert (session["httpOnly"], session["sameSite"]) == (True, "Strict")
    assert cookies["reconciler_csrf"]["sameSite"] == "Strict"


def test_signing_out_forgets_the_token(page: Page, site: Site) -> None:
    sign_in(page, site, OPERATOR)
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{site.url}/login")
    response = page.goto(f"{site.url}/")
    assert response is not None and response.status == 401


def test_approving_a_waiting_step_from_the_approvals_page(page: Page, site: Site) -> None:
    operator = {"Authorization": f"Bearer {OPERATOR}"}
    started = site.live.post("/api/v1/workflows/gated/run", headers=operator)
    assert started.status_code == 202, started.text
    run_id = started.json()["run"]

    def waiting() -> bool:
        found = site.live.get("/api/v1/approvals", headers=operator).json()["approvals"]
        return any(a["runId"] == run_id for a in found)

    site.live.wait_for(waiting, "the sign-off step to wait")
    sign_in(page, site, OPERATOR, next_path="/approvals")
    row = page.get_by_role("row", name=re.compile(f"{run_id[:8]}.*sign-off"))
    expect(row).to_contain_text("ship it?")
    screenshot(page, "approvals")
    row.get_by_role("button", name="Approve sign-off").click()
    expect(page.locator("#live-status")).to_contain_text("Done:")

    def finished() -> bool:
        run = site.live.get(f"/api/v1/runs/{run_id}", headers=operator).json()
        return bool(run["status"] == "succeeded")

    site.live.wait_for(finished, "the approved run to finish")
    run = site.live.get(f"/api/v1/runs/{run_id}", headers=operator).json()
    assert [(s["name"], s["status"]) for s in run["steps"]] == [
        ("build", "succeeded"),
        ("sign-off", "succeeded"),
        ("ship", "succeeded"),
    ]
    assert run["steps"][1]["output"].get("approver") == "otto"
    page.goto(f"{site.url}/runs/{run_id}")
    expect(page.locator("svg.dag line.edge")).to_have_count(2)
    screenshot(page, "run-workflow")
