"""Optimization runs end to end: a real git repository, a real Prometheus server scraping
series the test sets, the real simulation and a real SQLite store. A sizing proposal is a
commit with its simulation, a planted regression after it lands is detected and reverted,
and a proposal whose simulation shows a strict denial is never merged on its own."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from reconciler import cli
from reconciler.api.dashboard import render, tuning
from reconciler.clock import SystemClock
from reconciler.decide import ledger
from reconciler.events import Bus, Event
from reconciler.optimize import proposals, runner
from reconciler.optimize.records import State, state_of
from reconciler.run import triggers
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests import gitrepo, prometheus
from tests.prometheus import Served

pytestmark = pytest.mark.slow

SETTINGS = """\
apiVersion: reconciler.dev/v1
kind: Settings
metadata:
  name: shop
spec:
  optimization:
    approval: auto
    regression: {window: 4s, step: 250ms, alpha: 0.05, minEffect: 0.1}
    sizing:
      - name: web-cpu
        resource: {kind: WebApp, name: web, namespace: shop}
        field: spec.cpu
        query: app_cpu
        lookback: 4s
        step: 250ms
        objective: {query: app_latency_seconds}
"""
WEBAPP = """\
# The storefront. Sized by hand at launch; the optimizer may tune cpu.
apiVersion: example.dev/v1
kind: WebApp
metadata:
  name: web
  namespace: shop
spec:
  cpu: 2.0      # cores per replica
  replicas: 3   # never below 3 (zone spread)
"""
FLOOR_POLICY = """\
package shop.cpu_floor

import rego.v1

deny contains msg if {
  input.spec.cpu < 0.5
  msg := sprintf("cpu %v is below the floor of 0.5", [input.spec.cpu])
}
"""
FLOOR_BINDING = """\
apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata:
  name: cpu-floor
spec:
  policy: shop.cpu_floor
  input: conftest
  scope:
    kinds: [WebApp]
  enforcement: strict
"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from prometheus.serve(tmp_path, ["app_cpu", "app_latency_seconds"])


def workspace(tmp_path: Path, repo: Path) -> proposals.Workspace:
    data = tmp_path / "data"
    data.mkdir()
    store = SqliteStore(data / "optimize.db", retention=RetentionSettings())
    return proposals.Workspace(repo=repo, ref="main", store=store, clock=SystemClock())


def show(repo: Path, rev: str = "main") -> str:
    return gitrepo.git(repo, "show", f"{rev}:resources/web.yaml") + "\n"


def steady(served: Served, *, cpu: float, latency: float, seconds: float) -> None:
    """Set the gauges and let Prometheus hold them for `seconds`."""
    served.gauges["app_cpu"].set(cpu)
    served.gauges["app_latency_seconds"].set(latency)
    prometheus.wait_until(lambda: served.value("app_cpu") == cpu, "the new cpu value")
    prometheus.wait_until(lambda: served.value("app_latency_seconds") == latency, "latency")
    time.sleep(seconds)


def test_a_sizing_lands_as_a_commit_and_a_planted_regression_is_reverted(
    tmp_path: Path, served: Served
) -> None:
    repo = tmp_path / "repo"
    gitrepo.make_repo(repo, {"reconciler.yaml": SETTINGS, "resources/web.yaml": WEBAPP})
    seen: list[Event] = []
    bus = Bus()
    bus.subscribe(seen.append)
    ws = replace(workspace(tmp_path, repo), bus=bus)
    client = triggers.Prometheus(served.url)
    steady(served, cpu=0.3, latency=0.1, seconds=4.5)

    first = runner.run(ws, prometheus=client)

    [proposal] = first.proposals
    facts = proposal.context.facts
    assert state_of(proposal) is State.LANDED
    assert facts["simulation"]["verdict"] == "passes"
    assert facts["simulation"]["denials"] == []
    assert [row["value"] for row in facts["change"]["tradeoff"]] == [0.33, 0.36, 0.42]
    assert facts["change"]["new"] == 0.42  # the only candidate that does not run hot
    assert show(repo) == WEBAPP.replace("cpu: 2.0 ", "cpu: 0.42")
    assert gitrepo.git(repo, "rev-parse", "main") == facts["commit"]
    assert "p95 of app_cpu is 0.3" in gitrepo.git(repo, "log", "-1", "--format=%B", "main")
    assert proposal.explanation
    stored = ledger.from_entry(ws.store.get_daemon_decision(proposal.id))
    assert state_of(stored) is State.LANDED

    steady(served, cpu=0.3, latency=0.3, seconds=4.5)  # the planted regression
    second = runner.run(ws, prometheus=client)

    [revert] = second.reverts
    assert second.proposals == ()
    assert second.skipped == ("sizing/web-cpu: 0.42 is within 5% of 0.42",)
    assert revert.context.type == "optimization-revert"
    assert revert.context.facts["revertOf"] == proposal.id
    assert state_of(revert) is State.LANDED
    assert show(repo) == WEBAPP
    regressed = ledger.from_entry(ws.store.get_daemon_decision(proposal.id))
    assert state_of(regressed) is State.REVERTED
    assert regressed.outcome.value == "failed"
    measured = regressed.context.facts["regression"]
    assert measured["regressed"] is True
    assert measured["beforeMedian"] == 0.1
    assert measured["afterMedian"] == 0.3

    assert [(e.type.value, e.data["decision"], e.data["state"]) for e in seen] == [
        ("DecisionTaken", proposal.id, "landed"),
        ("DecisionTaken", revert.id, "landed"),
        ("DecisionSettled", proposal.id, "reverted"),
    ]
    html = render.Renderer().render(
        tuning.one(ws.store, proposal.id),
        csrf="c",
        user=None,
        signed_in=False,
        nav=(),
        active="/optimizations",
        live=False,
        can_operate=False,
    )
    assert html.count("<polyline") == 2  # the objective before and after, as a chart
    assert "median 0.1 → 0.3" in html and f'href="/optimizations/{revert.id}"' in html

    third = runner.run(ws, prometheus=client)  # the same sizing would be proposed again
    assert third.proposals == () and third.reverts == ()
    assert third.skipped == (
        f"sizing/web-cpu: 0.42 regressed once already (decision {proposal.id[:12]})",
    )
    assert show(repo) == WEBAPP


def test_no_automatic_merge_when_the_simulation_shows_a_strict_denial(
    tmp_path: Path, served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    gitrepo.make_repo(
        repo,
        {
            "reconciler.yaml": SETTINGS,
            "resources/web.yaml": WEBAPP,
            "policies/cpu_floor.rego": FLOOR_POLICY,
            "policies/bindings.yaml": FLOOR_BINDING,
        },
    )
    before = gitrepo.git(repo, "rev-parse", "main")
    data = tmp_path / "data"
    steady(served, cpu=0.3, latency=0.1, seconds=4.5)

    run = ["optimize", "run", str(repo), "--prometheus", served.url, "--data-dir", str(data)]
    assert cli.main([*run, "--format", "json"]) == 0

    [made] = json.loads(capsys.readouterr().out)["proposals"]
    assert made["state"] == "blocked"
    assert made["level"] == "autonomous"  # the level allowed it; the denial did not
    assert made["simulation"] == "would be blocked"
    assert gitrepo.git(repo, "rev-parse", "main") == before
    assert show(repo, made["branch"]) == WEBAPP.replace("cpu: 2.0 ", "cpu: 0.42")
    assert cli.main(["optimize", "list", "--data-dir", str(data)]) == 0
    listed = capsys.readouterr().out
    assert f"{made['id'][:12]}  optimization" in listed and "spec.cpu 2 -> 0.42" in listed
    assert cli.main(["optimize", "show", made["id"][:8], "--data-dir", str(data)]) == 0
    shown = capsys.readouterr().out
    assert "  denial: shop.cpu_floor denies WebApp/shop/web" in shown
    assert "  headroom     value        cost         performance  reliability  score" in shown
    assert "  0.4          0.42         0.21         0            0            0.21" in shown
    assert "state: blocked  level: autonomous  outcome: pending" in shown
    assert "note: the simulation shows a strict denial" in shown
