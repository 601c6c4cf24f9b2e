"""The interval optimizer over the daemon's own reconcile runs, kept in a real SQLite store:
the proposal is a commit of reconciler.yaml's `interval` with its comments, simulated and
landed (approval auto)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.clock import SystemClock
from reconciler.errors import UsageError
from reconciler.optimize import intervals, proposals, runner
from reconciler.optimize.records import State, state_of
from reconciler.run import triggers
from reconciler.runstate import RunKind, RunRecord, RunStatus
from reconciler.specs.optimization import Interval, Weights
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests import gitrepo

SETTINGS = """\
apiVersion: reconciler.dev/v1
kind: Settings
metadata:
  name: shop
spec:
  # Reconcile often: drift on the storefront costs money.
  interval: 5m   # see docs/daemon.md
  optimization:
    approval: auto
    intervals:
      - name: reconcile
        source: shop
        busy: 0.05
        objective: {query: reconciler_pass_seconds}
"""
ITEM = Interval.model_validate(
    {"name": "reconcile", "source": "shop", "objective": {"query": "q"}, "busy": 0.05}
)
START = datetime(2026, 1, 1, tzinfo=UTC)


def runs(durations: list[float], *, name: str = "shop", failed: int = 0) -> list[RunRecord]:
    return [
        RunRecord(
            id=f"{name}-{i}",
            kind=RunKind.RECONCILE,
            name=name,
            trigger="interval",
            revision=None,
            status=RunStatus.FAILED if i < failed else RunStatus.SUCCEEDED,
            started_at=START + timedelta(minutes=i),
            finished_at=START + timedelta(minutes=i, seconds=seconds),
        )
        for i, seconds in enumerate(durations)
    ]


def test_the_interval_follows_the_p95_pass_over_the_busy_budget() -> None:
    timed = intervals.tune(runs([3.0] * 19 + [6.0]), current=300, item=ITEM, weights=Weights())
    assert [c["value"] for c in timed.candidates] == [120.0, 60.0, 30.0]
    assert timed.chosen == 120.0  # 2m: the cheapest; 30s would keep the daemon 10% busy
    assert timed.reason == "p95 pass 3s over 20 runs (0% failed): interval 5m -> 2m"


def test_the_failure_rate_is_reported_and_too_few_runs_propose_nothing() -> None:
    timed = intervals.tune(runs([3.0] * 10, failed=5), current=300, item=ITEM, weights=Weights())
    assert "(50% failed)" in timed.reason
    few = intervals.tune(runs([3.0, 3.0]), current=300, item=ITEM, weights=Weights())
    assert few.chosen is None and few.reason == "only 2 finished reconcile runs; 3 needed"


def test_an_interval_proposal_is_a_commit_of_reconciler_yaml(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    gitrepo.make_repo(repo, {"reconciler.yaml": SETTINGS})
    store = SqliteStore(tmp_path / "optimize.db", retention=RetentionSettings())
    for run in [*runs([3.0] * 20), *runs([500.0] * 20, name="other")]:
        store.create_run(run)
    ws = proposals.Workspace(repo=repo, ref="main", store=store, clock=SystemClock())

    result = runner.run(ws, prometheus=triggers.Prometheus("http://127.0.0.1:9"))

    [made] = result.proposals
    assert state_of(made) is State.LANDED
    assert made.context.subject == "interval/reconcile"
    assert made.context.facts["simulation"]["verdict"] == "passes"
    written = gitrepo.git(repo, "show", "main:reconciler.yaml") + "\n"
    assert written == SETTINGS.replace("interval: 5m ", "interval: 2m ")


def test_the_run_is_recorded_and_its_decisions_point_at_it(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    gitrepo.make_repo(repo, {"reconciler.yaml": SETTINGS})
    store = SqliteStore(tmp_path / "optimize.db", retention=RetentionSettings())
    for run in runs([3.0] * 20):
        store.create_run(run)
    ws = proposals.Workspace(repo=repo, ref="main", store=store, clock=SystemClock())

    result = runner.run(ws, prometheus=triggers.Prometheus("http://127.0.0.1:9"))

    [made] = result.proposals
    recorded = store.get_run(result.run_id or "")
    assert recorded is not None and recorded.kind is RunKind.OPTIMIZATION
    assert recorded.status is RunStatus.SUCCEEDED and recorded.revision == result.revision
    assert made.run_id == result.run_id
    assert [e.id for e in store.daemon_decisions(run_id=result.run_id)] == [made.id]


def test_an_optimization_that_names_nothing_usable_is_skipped_with_its_reason(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    web = "apiVersion: v1\nkind: WebApp\nmetadata:\n  name: web\nspec:\n  cpu: fast\n"
    extra = (
        "    sizing:\n      - name: words\n        resource: {kind: WebApp, name: web}\n"
        "        field: spec.cpu\n        query: q\n        objective: {query: q}\n"
        "      - name: gone\n        resource: {kind: WebApp, name: nope}\n"
        "        field: spec.cpu\n        query: q\n        objective: {query: q}\n"
    )
    gitrepo.make_repo(repo, {"reconciler.yaml": SETTINGS + extra, "resources/web.yaml": web})
    store = SqliteStore(tmp_path / "optimize.db", retention=RetentionSettings())
    ws = proposals.Workspace(repo=repo, ref="main", store=store, clock=SystemClock())

    result = runner.run(ws, prometheus=triggers.Prometheus("http://127.0.0.1:9"))

    assert result.proposals == ()
    assert result.skipped == (
        "sizing/words: resources/web.yaml:1 spec.cpu: not a number",
        "sizing/gone: no WebApp named nope in the repository",
        "interval/reconcile: only 0 finished reconcile runs; 3 needed",
    )


def test_an_invalid_revision_is_not_optimized_and_the_failed_run_is_kept(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    broken = SETTINGS.replace("        busy: 0.05\n", "        busy: lots\n")
    gitrepo.make_repo(repo, {"reconciler.yaml": broken})
    store = SqliteStore(tmp_path / "optimize.db", retention=RetentionSettings())
    ws = proposals.Workspace(repo=repo, ref="main", store=store, clock=SystemClock())
    sha = gitrepo.git(repo, "rev-parse", "main")

    with pytest.raises(UsageError) as caught:
        runner.run(ws, prometheus=triggers.Prometheus("http://127.0.0.1:9"))

    message = str(caught.value)
    assert message == (
        f"{sha[:10]} has invalid specs; nothing optimized:\n"
        "reconciler.yaml:13 spec.optimization.intervals[0].busy: must be a number"
    )
    [failed] = store.list_runs(kind=RunKind.OPTIMIZATION)
    assert failed.status is RunStatus.FAILED and failed.error == message
    assert gitrepo.git(repo, "rev-parse", "main") == sha


def test_the_schedule_reads_the_interval_from_the_settings_file_alone(tmp_path: Path) -> None:
    """Asked every few seconds: a bad resource does not stop it (the run itself refuses
    the revision, naming it); a bad settings file does, naming its line and key."""
    repo = tmp_path / "repo"
    every = SETTINGS.replace("    approval: auto\n", "    approval: auto\n    interval: 1h\n")
    bad_resource = "apiVersion: reconciler.dev/v1\nkind: File\nmetadata: {name: [\n"
    gitrepo.make_repo(repo, {"reconciler.yaml": every, "resources/bad.yaml": bad_resource})
    store = SqliteStore(tmp_path / "optimize.db", retention=RetentionSettings())
    ws = proposals.Workspace(repo=repo, ref="main", store=store, clock=SystemClock())

    assert runner.interval(ws) == 3600.0
    with pytest.raises(UsageError, match=r"resources/bad\.yaml:4: did not find"):
        runner.run(ws, prometheus=triggers.Prometheus("http://127.0.0.1:9"))

    broken = every.replace("        busy: 0.05\n", "        busy: lots\n")
    sha = gitrepo.commit(repo, {"reconciler.yaml": broken}, delete=["resources/bad.yaml"])
    with pytest.raises(UsageError) as caught:
        runner.interval(ws)
    assert str(caught.value) == (
        f"{sha[:10]} has invalid specs; nothing optimized:\n"
        "reconciler.yaml:14 spec.optimization.intervals[0].busy: must be a number"
    )
    gitrepo.commit(repo, {}, delete=["reconciler.yaml"])
    assert runner.interval(ws) == 0.0  # no settings file: on demand only


TRUST = """\
package reconciler.decisions.optimization

import rego.v1

score["action:commit"] := 1 if input.context.subject == "interval/reconcile"

reasons["action:commit"] contains "interval changes are reviewed by the simulation"
"""


@pytest.mark.parametrize(
    ("rules", "state", "level"), [(False, "proposed", "human"), (True, "landed", "autonomous")]
)
def test_the_repository_rules_set_the_level_that_lets_a_proposal_land(
    tmp_path: Path, rules: bool, state: str, level: str
) -> None:
    repo = tmp_path / "repo"
    files = {"reconciler.yaml": SETTINGS.replace("approval: auto", "approval: confidence")}
    if rules:
        files["policies/decisions/optimization.rego"] = TRUST
    gitrepo.make_repo(repo, files)
    store = SqliteStore(tmp_path / "optimize.db", retention=RetentionSettings())
    for run in runs([3.0] * 20):
        store.create_run(run)
    ws = proposals.Workspace(repo=repo, ref="main", store=store, clock=SystemClock())

    [made] = runner.run(ws, prometheus=triggers.Prometheus("http://127.0.0.1:9")).proposals

    assert (made.context.facts["state"], made.level.value) == (state, level)
    assert made.rule_problem is None
    changed = gitrepo.git(repo, "show", "main:reconciler.yaml").count("interval: 2m")
    assert changed == (1 if rules else 0)
