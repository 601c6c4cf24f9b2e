"""A real daemon on a real repository, with access tokens, and real headless Chromium
(Debian's `chromium`, driven by Playwright) looking at its dashboard.

The daemon runs once per module (reconciling is the slow part); each test gets a fresh
browser context, so cookies never leak between tests. Screenshots land in
`artifacts/screenshots/` at the repository root.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from reconciler.store import base
from tests import gitrepo
from tests.api import live

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
VIEWER, OPERATOR = "viewer-token-0123456789", "operator-token-0123456789"
WORKFLOW_RUN = "wf-0001-nightly-backup"
GATED_WORKFLOW = """apiVersion: reconciler.dev/v1
kind: Workflow
metadata: {name: gated}
spec:
  triggers: [{manual: {}}]
  steps:
    - {name: build, command: ["true"]}
    - {name: sign-off, kind: approval, dependsOn: [build],
       approval: {message: "ship it?", approvers: [otto]}}
    - {name: ship, dependsOn: [sign-off], command: ["true"]}
"""


def tokens() -> list[dict[str, str]]:
    return [
        {"name": "vera", "role": "viewer", "sha256": hashlib.sha256(VIEWER.encode()).hexdigest()},
        {"name": "otto", "role": "operator",
         "sha256": hashlib.sha256(OPERATOR.encode()).hexdigest()},
    ]


@dataclasses.dataclass
class Site:
    live: live.Live
    repo: Path
    out: Path

    @property
    def url(self) -> str:
        return self.live.base_url

    def api(self, path: str) -> object:
        r = self.live.get(path, headers={"Authorization": f"Bearer {VIEWER}"})
        assert r.status_code == 200, r.text
        return r.json()


def seed_workflow_run(store: base.Store) -> None:
    """A workflow run as the workflow engine writes one: a DAG, a retried step, and an
    approval step waiting for a human."""
    t0 = datetime.now(UTC) - timedelta(minutes=5)

    def step(name: str, status: base.StepStatus, start: float, end: float | None,
             attempt: int = 1) -> base.StepRecord:
        return base.StepRecord(name=name, status=status, attempt=attempt,
                               started_at=t0 + timedelta(seconds=start),
                               finished_at=None if end is None else t0 + timedelta(seconds=end),
                               output={"exitCode": 0} if end is not None else {})

    store.create_run(base.RunRecord(
        id=WORKFLOW_RUN, kind=base.RunKind.WORKFLOW, name="nightly-backup", trigger="cron",
        revision="a" * 40, status=base.RunStatus.WAITING, started_at=t0,
        steps=(
            step("archive", base.StepStatus.FAILED, 0, 4),
            step("archive", base.StepStatus.SUCCEEDED, 5, 12, attempt=2),
            step("verify", base.StepStatus.SUCCEEDED, 12, 15),
            step("checksum", base.StepStatus.SUCCEEDED, 12, 14),
            step("approve-upload", base.StepStatus.WAITING, 15, None),
        ),
    ))


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("dashboard")
    repo, out = tmp / "repo", tmp / "out"
    live.demo_repo(repo, out=out)
    gitrepo.commit(repo, {"workflows/gated.yaml": GATED_WORKFLOW}, message="gated workflow")
    settings = live.settings_for(
        tmp / "data", {"name": "demo", "path": str(repo), "ref": "main", "interval": "1h"},
        auth={"tokens": tokens()}, reconcile={"selfHeal": False},
    )
    with live.serve(settings) as running:
        running.wait_for(lambda: running.passes("demo") >= 1, "the first reconcile")
        seed_workflow_run(running.daemon.store)
        yield Site(live=running, repo=repo, out=out)


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
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


def sign_in(page: Page, site: Site, token: str, *, next_path: str = "/") -> None:
    page.goto(f"{site.url}/login?next={next_path}")
    page.get_by_label("Access token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site.url}{next_path}")


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
