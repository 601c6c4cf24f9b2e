"""A real daemon on a real repository, with access tokens, and real headless Chromium
(Debian's `chromium`, driven by Playwright) looking at its dashboard.

The daemon runs once per module (reconciling is the slow part); each test gets a fresh
browser context, so cookies never leak between tests. Playwright's synchronous API keeps an
event loop running in the test thread while it is open, so it lives per module only.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from tests import gitrepo
from tests.api import live
from tests.dashboard.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    GATED_WORKFLOW,
    Site,
    seed_decision,
    seed_workflow_run,
    tokens,
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("dashboard")
    repo, out = tmp / "repo", tmp / "out"
    live.demo_repo(repo, out=out)
    gitrepo.commit(repo, {"workflows/gated.yaml": GATED_WORKFLOW}, message="gated workflow")
    settings = live.settings_for(
        tmp / "data",
        {"name": "demo", "path": str(repo), "ref": "main", "interval": "1h"},
        auth={"tokens": tokens()},
        reconcile={"selfHeal": False},
    )
    with live.serve(settings) as running:
        running.wait_for(lambda: running.passes("demo") >= 1, "the first reconcile")
        seed_workflow_run(running.daemon.store)
        seed_decision(running.daemon.store)
        yield Site(live=running, repo=repo, out=out)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs Debian's chromium")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1366, "height": 800})
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()
