"""Every dashboard page, and every page it links to, in real Chromium, on a daemon that has
a bit of everything: applied and blocked Files, a Kubernetes Deployment no provider manages
(audited by a gradual binding and a Gatekeeper constraint), runs of every kind including a
child run whose id holds `/` and `#`, a real workflow waiting for approval, a finished
simulation, repeated reconciles, and events about a run and an object that are gone."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlsplit

import pytest
from playwright.sync_api import BrowserContext, ConsoleMessage, Page, expect

from reconciler import runstate
from reconciler.store import interfaces
from tests import gitrepo
from tests.api import live
from tests.dashboard.browser import (
    GATED_WORKFLOW,
    OPERATOR,
    WORKFLOW_RUN,
    Site,
    screenshot,
    seed_workflow_run,
    sign_in,
    tokens,
)

MAX_PAGES = 300
TEMPLATE = Path(__file__).parents[1] / "policy" / "fixtures" / "requiredlabels-template.yaml"
DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop-prod, labels: {app: web}}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: "nginx:1.27"}]}
"""
CONSTRAINT = """apiVersion: constraints.gatekeeper.sh/v1beta1
kind: K8sRequiredLabels
metadata: {name: deployments-need-tier}
spec:
  enforcementAction: warn
  match:
    kinds: [{apiGroups: [apps], kinds: [Deployment]}]
    excludedNamespaces: [kube-system]
  parameters: {labels: [{key: tier}]}
"""
SHOP_BINDING = """apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata: {name: shop-owner}
spec:
  policy: files.owner
  scope:
    kinds: [apps/Deployment]
    namespaces: ["shop-*"]
    labelSelector:
      matchLabels: {app: web}
      matchExpressions: [{key: legacy, operator: DoesNotExist}]
  enforcement: gradual
  gradual: {deadline: "2099-01-01T00:00:00Z"}
"""
CHILD_RUN = f"{WORKFLOW_RUN}/deploy#1"
SEEDED_KINDS = (
    runstate.RunKind.RUNBOOK,
    runstate.RunKind.REMEDIATION,
    runstate.RunKind.OPTIMIZATION,
    runstate.RunKind.SIMULATION,
)


def _seed(store: interfaces.Store) -> None:
    """Runs of the kinds a short test cannot start for real, an event about the child run,
    and events about a run and an object the store no longer has (pruned and deleted)."""
    seed_workflow_run(store)
    t0 = datetime.now(UTC) - timedelta(minutes=2)
    step = runstate.StepRecord(
        name="check",
        status=runstate.StepStatus.SUCCEEDED,
        attempt=1,
        started_at=t0,
        finished_at=t0 + timedelta(seconds=2),
        output={"exitCode": 0},
    )
    runs = [(f"{kind}-0001", kind, f"{kind}-example") for kind in SEEDED_KINDS]
    runs.append((CHILD_RUN, runstate.RunKind.WORKFLOW, "deploy"))
    for run_id, kind, name in runs:
        store.create_run(
            runstate.RunRecord(
                id=run_id,
                kind=kind,
                name=name,
                trigger="test",
                revision="b" * 40,
                status=runstate.RunStatus.SUCCEEDED,
                started_at=t0,
                finished_at=t0 + timedelta(seconds=3),
                steps=(step,),
            )
        )
    for key, type_, message in (
        (f"run/{CHILD_RUN}", "RunUpdated", "workflow deploy succeeded"),
        ("run/pruned-0001", "RunUpdated", "gone"),
        ("File//gone", "ResourceDeleted", "gone"),
    ):
        store.append_event(
            interfaces.EventRecord(
                at=datetime.now(UTC), type=type_, object_key=key, message=message
            )
        )


def _sync(site: Site, times: int) -> None:
    for _ in range(times):
        passes = site.live.passes("demo")
        r = site.live.post(
            "/api/v1/sources/demo/sync", headers={"Authorization": f"Bearer {OPERATOR}"}
        )
        assert r.status_code == 202, r.text
        site.live.wait_for(lambda p=passes: site.live.passes("demo") > p, "a requested sync")


def _simulate(site: Site) -> None:
    base_sha = gitrepo.git(site.repo, "rev-parse", "main")
    gitrepo.git(site.repo, "checkout", "--quiet", "-b", "unowned", base_sha)
    doc = live.file_doc("proposed", path=site.out / "proposed", owner=None)
    head = gitrepo.commit(site.repo, {"resources/proposed.yaml": doc}, message="propose")
    gitrepo.git(site.repo, "checkout", "--quiet", "main")
    r = site.live.post(
        "/api/v1/simulations",
        json={"source": "demo", "base": "main", "head": head},
        headers={"Authorization": f"Bearer {OPERATOR}"},
    )
    assert r.status_code == 202, r.text
    found = f"/api/v1/simulations/{r.json()['simulation']}"
    site.live.wait_for(
        lambda: site.api(found)["status"] not in ("queued", "running"),  # type: ignore[index]
        "the simulation",
        timeout=90,
    )


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("crawl")
    repo, out = tmp / "repo", tmp / "out"
    live.demo_repo(repo, out=out)
    gitrepo.commit(
        repo,
        {
            "workflows/gated.yaml": GATED_WORKFLOW,
            "resources/k8s.yaml": DEPLOYMENT,
            "policies/requiredlabels-template.yaml": TEMPLATE.read_text(),
            "policies/constraints.yaml": CONSTRAINT,
            "policies/shop.yaml": SHOP_BINDING,
        },
        message="everything",
    )
    settings = live.settings_for(
        tmp / "data",
        {"name": "demo", "path": str(repo), "ref": "main", "interval": "1h"},
        auth={"tokens": tokens()},
        reconcile={"selfHeal": False},
    )
    with live.serve(settings) as running:
        running.wait_for(lambda: running.passes("demo") >= 1, "the first reconcile")
        site = Site(live=running, repo=repo, out=out)
        runner = running.daemon.runner("demo")
        audit = asyncio.run_coroutine_threadsafe(runner.run_audit(), running.loop)
        audit.result(timeout=30)
        r = running.post(
            "/api/v1/workflows/gated/run", headers={"Authorization": f"Bearer {OPERATOR}"}
        )
        assert r.status_code == 202, r.text
        _seed(running.daemon.store)
        _sync(site, 3)
        _simulate(site)
        yield site


def _links(page: Page, origin: str) -> set[str]:
    hrefs = page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)")
    return {urldefrag(h).url for h in hrefs if _origin(h) == origin}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def crawl(page: Page, start: str) -> tuple[dict[str, int], list[str]]:
    """Breadth first over same-origin links from `start`: each page's HTTP status, and
    every console error, uncaught exception and failed request (the page's own assets
    included), naming the page it happened on."""
    current = [start]
    errors: list[str] = []
    page.on(
        "console",
        lambda m: errors.append(f"{current[0]}: console {m.text}") if _bad(m) else None,
    )
    page.on("pageerror", lambda e: errors.append(f"{current[0]}: exception {e}"))
    page.on(
        "response",
        lambda r: errors.append(f"{current[0]}: {r.status} {r.url}") if r.status >= 400 else None,
    )
    seen: dict[str, int] = {}
    queue = [start]
    while queue and len(seen) < MAX_PAGES:
        url = queue.pop(0)
        if url in seen:
            continue
        current[0] = url
        response = page.goto(url, wait_until="load")
        seen[url] = response.status if response is not None else 0
        if "text/html" in (response.headers.get("content-type", "") if response else ""):
            queue += sorted(_links(page, _origin(start)) - set(seen))
    return seen, errors


def _bad(message: ConsoleMessage) -> bool:
    return message.type == "error"


def test_every_page_and_every_link_answers_without_console_errors(
    context: BrowserContext, site: Site
) -> None:
    page = context.new_page()
    sign_in(page, site, OPERATOR)
    seen, errors = crawl(page, f"{site.url}/")
    broken = sorted(f"{status} {url}" for url, status in seen.items() if status != 200)
    assert (broken, errors) == ([], [])
    paths = {unquote(urlsplit(url).path) for url in seen}
    expected = {
        "/",
        "/resources",
        "/resources/File//motd",
        "/resources/File//banner",
        "/policies",
        "/runs",
        "/decisions",
        "/approvals",
        "/simulations",
        f"/runs/{WORKFLOW_RUN}",
        f"/runs/{CHILD_RUN}",
        *(f"/runs/{kind}-0001" for kind in SEEDED_KINDS),
    }
    assert expected <= paths, sorted(expected - paths)
    assert f"{site.url}/decisions?key=Deployment%2Fshop-prod%2Fweb" in seen
    assert any(p.startswith("/simulations/") for p in paths)
    assert len(seen) < MAX_PAGES, "the crawl stopped at its bound"


def test_the_overview_shows_repeated_events_once_with_a_count(page: Page, site: Site) -> None:
    sign_in(page, site, OPERATOR)
    finished = page.locator("#events tbody tr", has_text="ReconcileFinished")
    expect(finished).to_have_count(1)
    expect(finished).to_contain_text(re.compile(r"\d+ times since 20\d\d-\d\d-\d\d "))
    expect(finished).to_contain_text("source demo")
    gone = page.locator("#events tbody tr", has_text="File//gone")
    expect(gone.locator("a")).to_have_count(0)
    expect(page.locator("#events tbody tr", has_text="run/pruned-0001").locator("a")).to_have_count(
        0
    )
    child = page.locator("#events a", has_text=f"run/{CHILD_RUN}")
    expect(child).to_have_attribute("href", "/runs/wf-0001-nightly-backup/deploy%231")
    screenshot(page, "crawl-overview")


def test_a_gatekeeper_constraint_has_one_enforcement_everywhere_and_scopes_read_as_text(
    page: Page, site: Site
) -> None:
    sign_in(page, site, OPERATOR, next_path="/policies")
    rows = {}
    for row in page.locator("#policy-table tbody tr").all():
        binding, source, enforcement, scope = row.locator("td").all_inner_texts()[:4]
        rows[binding] = (row.locator("th").inner_text(), source, enforcement, scope)
    assert rows == {
        "owner": ("files.owner", "demo", "strict", "kinds File"),
        "shop-owner": (
            "files.owner",
            "demo",
            "gradual\nadvisory until 2099-01-01 00:00:00Z",
            "kinds apps/Deployment; namespaces shop-*; labels app=web, !legacy",
        ),
        "deployments-need-tier": (
            "K8sRequiredLabels",
            "demo",
            "advisory\nGatekeeper enforcementAction: warn",
            "kinds apps/Deployment; not in namespaces kube-system",
        ),
    }
    screenshot(page, "crawl-policies")
    logged = {}
    for policy in ("K8sRequiredLabels", "files.owner"):
        page.goto(f"{site.url}/decisions?policy={policy}")
        for row in page.locator("#decision-table tbody tr").all():
            key = row.locator("th").inner_text()
            logged.setdefault((policy, key), set()).add(row.locator("td").nth(3).inner_text())
    assert logged == {
        ("K8sRequiredLabels", "Deployment/shop-prod/web"): {"advisory"},
        ("files.owner", "Deployment/shop-prod/web"): {"gradual"},
        ("files.owner", "File//banner"): {"strict"},
        ("files.owner", "File//motd"): {"strict"},
    }


def test_decisions_about_unmanaged_documents_link_to_their_decisions(
    page: Page, site: Site
) -> None:
    sign_in(page, site, OPERATOR, next_path="/decisions")
    table = page.locator("#decision-table")
    deployment = table.get_by_role("link", name="Deployment/shop-prod/web").first
    expect(deployment).to_have_attribute("href", "/decisions?key=Deployment%2Fshop-prod%2Fweb")
    banner = table.get_by_role("link", name="File//banner").first
    expect(banner).to_have_attribute("href", "/resources/File//banner")
    deployment.click()
    page.wait_for_url(re.compile(r"key=Deployment"))
    keys = set(page.locator("#decision-table tbody th").all_inner_texts())
    assert keys == {"Deployment/shop-prod/web"}
    screenshot(page, "crawl-decisions")


def test_times_are_compact_on_one_line_with_the_full_time_in_the_title(
    page: Page, site: Site
) -> None:
    page.set_viewport_size({"width": 900, "height": 800})
    sign_in(page, site, OPERATOR, next_path="/runs")
    times = page.locator("#run-table time")
    assert times.count() >= 6
    for t in times.all():
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ", t.inner_text())
        iso = t.get_attribute("datetime") or ""
        assert t.get_attribute("title") == iso and datetime.fromisoformat(iso).tzinfo
        assert t.evaluate("el => el.getClientRects().length") == 1
    screenshot(page, "crawl-runs")
