"""The retry-backoff and parallelism optimizers over a workflow's own runs, kept in a real
SQLite store: the figures `workflow analyze` reads (step durations, failures, the
recoveries after a retry) give the tables, and the proposals are commits of the
workflow's YAML keeping its comments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from reconciler.clock import SystemClock
from reconciler.optimize import backoff, parallelism, proposals, runner
from reconciler.optimize.records import State, state_of
from reconciler.run import history, triggers
from reconciler.runstate import RunKind, RunRecord, RunStatus, StepRecord, StepStatus
from reconciler.specs import flows
from reconciler.specs.optimization import Weights
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests import gitrepo

WORKFLOW = """\
# Ship the storefront: build, test and lint side by side, then push.
apiVersion: reconciler.dev/v1
kind: Workflow
metadata:
  name: deploy
spec:
  maxParallelism: 4   # as many as the runners allow
  steps:
    - name: fetch
      command: [git, fetch]
    - name: build
      dependsOn: [fetch]
      command: [make, build]
    - name: test
      dependsOn: [fetch]
      command: [make, test]
    - name: lint
      dependsOn: [fetch]
      command: [make, lint]
    - name: push
      dependsOn: [build, test, lint]
      command: [make, push]
      retry: {maxAttempts: 3, backoff: 1s}   # the registry flakes now and then
"""
SETTINGS = """\
apiVersion: reconciler.dev/v1
kind: Settings
metadata:
  name: shop
spec:
  optimization:
    approval: auto
    weights: {cost: 1, performance: 1, reliability: 5}
    workflows:
      - name: deploy
        workflow: deploy
        objective: {query: reconciler_run_seconds}
"""
START = datetime(2026, 1, 1, tzinfo=UTC)
SECONDS = {"fetch": 2.0, "build": 10.0, "test": 4.0, "lint": 3.0, "push": 1.0}
RECOVERIES = [5.0, 6.0, 6.0, 7.0, 20.0]


def run(i: int, *, recovery: float | None = None) -> RunRecord:
    """Run `i` of deploy; with `recovery`, push's first attempt failed and its second
    started that many seconds later and succeeded."""
    at = START + timedelta(hours=i)
    steps = []
    for name, seconds in SECONDS.items():
        steps.append(
            StepRecord(
                name=name,
                status=StepStatus.FAILED if recovery and name == "push" else StepStatus.SUCCEEDED,
                started_at=at,
                finished_at=at + timedelta(seconds=seconds),
            )
        )
    if recovery is not None:
        again = at + timedelta(seconds=1 + recovery)
        steps.append(
            StepRecord(
                name="push",
                attempt=2,
                status=StepStatus.SUCCEEDED,
                started_at=again,
                finished_at=again + timedelta(seconds=1),
            )
        )
    return RunRecord(
        id=f"deploy-{i}",
        kind=RunKind.WORKFLOW,
        name="deploy",
        trigger="manual",
        revision=None,
        status=RunStatus.SUCCEEDED,
        started_at=at,
        finished_at=at + timedelta(seconds=30),
        steps=tuple(steps),
    )


def runs() -> list[RunRecord]:
    """20 runs, oldest first; five of them needed a second push."""
    return [run(i, recovery=RECOVERIES[i // 4] if i % 4 == 0 else None) for i in range(20)]


def test_the_history_keeps_the_recoveries_after_a_retry() -> None:
    stats = history.stats(runs())
    assert stats["push"].retried == 5
    assert stats["push"].recoveries == tuple(RECOVERIES)
    assert stats["build"].retried == 0 and stats["build"].recoveries == ()


def test_the_backoff_reaches_past_the_recoveries_as_reliability_is_weighed() -> None:
    stats = history.stats(runs())["push"]
    cheap = backoff.tune(
        stats, step="push", current=1.0, attempts=3, min_change=0.1, weights=Weights()
    )
    # a schedule of b, then 2b: its last attempt starts 3b after the first failure
    assert cheap.candidates == (
        {"value": 2.0, "cost": 2.0, "reliability": 0.4, "score": 2.4},
        {"value": 7.0, "cost": 3.2667, "reliability": 0.0, "score": 3.2667},
    )
    assert cheap.chosen == 2.0
    safe = backoff.tune(
        stats,
        step="push",
        current=1.0,
        attempts=3,
        min_change=0.1,
        weights=Weights(reliability=5),
    )
    assert safe.chosen == 7.0
    assert safe.reason == (
        "push: 5 recoveries (median 6s, longest 20s) in 20 runs, 5 retried: backoff 1s -> 7s"
    )
    once = backoff.tune(
        stats, step="push", current=1.0, attempts=1, min_change=0.1, weights=Weights()
    )
    assert once.chosen is None and once.reason == "push: maxAttempts 1, never retried"


def test_parallelism_is_the_fewest_steps_that_keep_the_run_near_its_shortest() -> None:
    workflow = flows.Workflow.model_validate(yaml.safe_load(WORKFLOW))
    spread = parallelism.tune(workflow, history.stats(runs()), runs=20, weights=Weights())
    # the critical path fetch > build > push takes 13s; one step at a time, 20s
    assert [(c["value"], c["expected"], c["score"]) for c in spread.candidates] == [
        (1.0, 20.0, 0.7885),
        (2.0, 13.0, 0.5),
        (3.0, 13.0, 0.75),
    ]
    assert spread.chosen == 2
    few = parallelism.tune(workflow, {}, runs=2, weights=Weights())
    assert few.chosen is None and few.reason == "only 2 finished runs of the workflow; 3 needed"


def test_workflow_proposals_are_commits_of_the_workflow_yaml(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    gitrepo.make_repo(repo, {"reconciler.yaml": SETTINGS, "workflows/deploy.yaml": WORKFLOW})
    store = SqliteStore(tmp_path / "optimize.db", retention=RetentionSettings())
    for record in runs():
        store.create_run(record)
    ws = proposals.Workspace(repo=repo, ref="main", store=store, clock=SystemClock())

    result = runner.run(ws, prometheus=triggers.Prometheus("http://127.0.0.1:9"))

    assert [p.context.subject for p in result.proposals] == [
        "workflow/deploy-parallelism",
        "workflow/deploy-push-backoff",
    ]
    assert all(state_of(p) is State.LANDED for p in result.proposals)
    written = gitrepo.git(repo, "show", "main:workflows/deploy.yaml") + "\n"
    assert written == WORKFLOW.replace("maxParallelism: 4 ", "maxParallelism: 2 ").replace(
        "backoff: 1s}", "backoff: 7s}"
    )
    store.close()


def test_a_workflow_without_history_is_skipped_with_the_reason(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    gitrepo.make_repo(repo, {"reconciler.yaml": SETTINGS, "workflows/deploy.yaml": WORKFLOW})
    store = SqliteStore(tmp_path / "optimize.db", retention=RetentionSettings())
    ws = proposals.Workspace(repo=repo, ref="main", store=store, clock=SystemClock())

    result = runner.run(ws, prometheus=triggers.Prometheus("http://127.0.0.1:9"))

    assert result.proposals == ()
    assert result.skipped == (
        "workflow/deploy: only 0 finished runs of the workflow; 3 needed; push: never ran",
    )
    store.close()
