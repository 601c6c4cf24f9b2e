"""Proposals people merge, squash, reject or replace, against a real git repository, a
real Prometheus server scraping series the test sets, the real simulation and a real
SQLite store. The repository asks a human to approve every optimization, so proposals
stay on their branches; the test merges them with git as a person would, and the next
optimization run notices: a merged proposal is marked landed at the merge commit, its
regression window is watched and a planted regression proposes the revert, which the
person merges too; a squash merge lands as well; a proposal whose branch is deleted, or
that a newer proposal replaced, is closed."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler import cli
from reconciler.api.dashboard import render, tuning
from reconciler.clock import ManualClock, SystemClock
from reconciler.decide import ledger
from reconciler.events import Bus, Event
from reconciler.optimize import catalog, landing, proposals, runner
from reconciler.optimize.records import State, state_of
from reconciler.run import triggers
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests import gitrepo, prometheus
from tests.optimize import test_intervals as intervals_test
from tests.optimize.test_optimization_runs import SETTINGS, WEBAPP, show, steady
from tests.prometheus import Served

pytestmark = pytest.mark.slow

ASKING = SETTINGS.replace("approval: auto", "approval: required")


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from prometheus.serve(tmp_path, ["app_cpu", "app_latency_seconds"])


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    gitrepo.make_repo(path, {"reconciler.yaml": ASKING, "resources/web.yaml": WEBAPP})
    return path


def workspace(tmp_path: Path, repo: Path, *, bus: Bus | None = None) -> proposals.Workspace:
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    store = SqliteStore(data / "reconciler.db", retention=RetentionSettings())
    return proposals.Workspace(repo=repo, ref="main", store=store, clock=SystemClock(), bus=bus)


def now_env() -> dict[str, str]:
    """Commit at the real time (the test repository's commits are otherwise back-dated):
    the merge's time is when the proposal landed."""
    stamp = f"@{int(time.time())} +0000"
    return {"GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}


def merge(repo: Path, branch: str) -> str:
    gitrepo.git(repo, "merge", "--no-ff", "-m", f"Merge {branch}", branch, env=now_env())
    return gitrepo.git(repo, "rev-parse", "main")


def page(ws: proposals.Workspace, proposal_id: str) -> str:
    """The dashboard's page of one optimization."""
    return render.Renderer().render(
        tuning.one(ws.store, proposal_id),  # type: ignore[arg-type]
        csrf="c",
        user=None,
        signed_in=False,
        nav=(),
        active="/optimizations",
        live=False,
        can_operate=False,
    )


def test_a_merged_proposal_lands_and_its_regression_proposes_the_revert(
    tmp_path: Path, repo: Path, served: Served
) -> None:
    seen: list[Event] = []
    bus = Bus()
    bus.subscribe(seen.append)
    ws = workspace(tmp_path, repo, bus=bus)
    client = triggers.Prometheus(served.url)
    steady(served, cpu=0.3, latency=0.1, seconds=4.5)

    [proposal] = runner.run(ws, prometheus=client).proposals
    branch = proposal.context.facts["branch"]
    assert state_of(proposal) is State.PROPOSED
    assert show(repo) == WEBAPP  # left on its branch for a human
    assert ws.store.get_proposal(proposal.id).state == "proposed"  # type: ignore[union-attr]

    merged = merge(repo, branch)  # a human merges it
    merged_at = datetime.fromtimestamp(int(gitrepo.git(repo, "log", "-1", "--format=%ct")), UTC)
    steady(served, cpu=0.3, latency=0.3, seconds=4.5)  # the planted regression
    second = runner.run(ws, prometheus=client)

    [landed] = second.watched.landed
    assert landed.id == proposal.id and second.watched.closed == ()
    assert landed.approver == "Test Author <author@example.com>"
    row = ws.store.get_proposal(proposal.id)
    assert row is not None
    assert (row.landed_by, row.landed_commit, row.landed_at) == ("merge", merged, merged_at)
    assert row.state == "regressed"  # the window after the merge has passed: tested at once
    [revert] = second.reverts
    assert revert.context.facts["revertOf"] == proposal.id
    assert state_of(revert) is State.PROPOSED  # a human is asked for the revert too
    tested = ledger.from_entry(ws.store.get_daemon_decision(proposal.id))  # type: ignore[arg-type]
    assert tested.outcome.value == "failed"
    assert tested.context.facts["regression"]["regressed"] is True
    assert tested.context.facts["regression"]["beforeMedian"] == 0.1
    assert tested.context.facts["regression"]["afterMedian"] == 0.3
    assert ("DecisionTaken", proposal.id, "landed") in [
        (e.type.value, e.data["decision"], e.data["state"]) for e in seen
    ]

    merge(repo, revert.context.facts["branch"])  # the human merges the revert
    third = runner.run(ws, prometheus=client)

    assert [r.id for r in third.watched.landed] == [revert.id]
    assert show(repo) == WEBAPP
    settled = ledger.from_entry(ws.store.get_daemon_decision(revert.id))  # type: ignore[arg-type]
    assert (state_of(settled), settled.outcome.value) == (State.LANDED, "succeeded")
    original = ledger.from_entry(ws.store.get_daemon_decision(proposal.id))  # type: ignore[arg-type]
    assert state_of(original) is State.REVERTED
    assert ws.store.get_proposal(proposal.id).state == "reverted"  # type: ignore[union-attr]
    assert third.proposals == ()  # 0.42 regressed once: not proposed again
    text = catalog.text(original)
    assert f"landed: by merge at {merged[:12]} ({merged_at.isoformat()})" in text
    assert "state: reverted  level: human  outcome: failed" in text
    assert f'by merge at <code class="rev">{merged[:12]}</code>' in page(ws, proposal.id)


def test_a_squash_merge_lands_even_when_the_branch_is_then_deleted(
    tmp_path: Path, repo: Path, served: Served
) -> None:
    ws = workspace(tmp_path, repo)
    client = triggers.Prometheus(served.url)
    steady(served, cpu=0.3, latency=0.1, seconds=4.5)
    [proposal] = runner.run(ws, prometheus=client).proposals
    branch = proposal.context.facts["branch"]

    gitrepo.git(repo, "merge", "--squash", branch)
    gitrepo.git(repo, "commit", "--quiet", "-m", "Optimize web cpu (squashed)", env=now_env())
    squashed = gitrepo.git(repo, "rev-parse", "main")
    gitrepo.commit(repo, {"README.md": "the shop\n"}, message="later work", env=now_env())
    gitrepo.git(repo, "branch", "-D", branch)  # as a forge deletes a merged branch
    second = runner.run(ws, prometheus=client)

    assert [r.id for r in second.watched.landed] == [proposal.id]
    assert second.watched.closed == ()
    row = ws.store.get_proposal(proposal.id)
    assert row is not None and (row.state, row.landed_by) == ("landed", "merge")
    assert row.landed_commit == squashed  # the commit that brought the value, not the later one


def test_proposals_replaced_or_whose_branch_is_deleted_are_closed(
    tmp_path: Path, repo: Path, served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    ws = workspace(tmp_path, repo)
    client = triggers.Prometheus(served.url)
    steady(served, cpu=0.3, latency=0.1, seconds=4.5)
    [first] = runner.run(ws, prometheus=client).proposals

    gitrepo.commit(repo, {"README.md": "the shop\n"}, message="unrelated work")
    second = runner.run(ws, prometheus=client)  # main moved: proposed again on the new base

    [newer] = second.proposals
    assert newer.id != first.id
    [closed] = second.watched.closed
    assert closed.id == first.id
    assert closed.context.facts["closedReason"] == f"superseded by {newer.id[:12]}"
    assert closed.outcome.value == "skipped"

    gitrepo.git(repo, "branch", "-D", newer.context.facts["branch"])  # a human rejects it
    third = runner.run(ws, prometheus=client)

    assert [r.id for r in third.watched.closed] == [newer.id]
    rejected = ledger.from_entry(ws.store.get_daemon_decision(newer.id))  # type: ignore[arg-type]
    assert state_of(rejected) is State.CLOSED and rejected.outcome.value == "rejected"
    row = ws.store.get_proposal(newer.id)
    assert row is not None and row.state == "closed" and row.landed_by is None
    assert row.closed_reason == f"branch {newer.context.facts['branch']} deleted"
    assert show(repo) == WEBAPP
    assert runner.run(ws, prometheus=client).watched == landing.Watched()  # settled once

    data = str(tmp_path / "data")
    assert cli.main(["optimize", "show", newer.id[:10], "--data-dir", data]) == 0
    shown = capsys.readouterr().out
    assert f"closed: branch {newer.context.facts['branch']} deleted" in shown
    assert "state: closed  level: human  outcome: rejected" in shown
    reason = f"branch {newer.context.facts['branch']} deleted"
    assert f"<dt>Closed</dt><dd>{reason}</dd>" in page(ws, newer.id)


def test_a_fast_forward_by_hand_lands_when_it_is_noticed(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    asking = intervals_test.SETTINGS.replace("approval: auto", "approval: required")
    gitrepo.make_repo(repo, {"reconciler.yaml": asking})
    store = SqliteStore(tmp_path / "reconciler.db", retention=RetentionSettings())
    for run in intervals_test.runs([3.0] * 20):
        store.create_run(run)
    clock = ManualClock(datetime(2026, 6, 1, tzinfo=UTC))
    ws = proposals.Workspace(repo=repo, ref="main", store=store, clock=clock)
    no_prometheus = triggers.Prometheus("http://127.0.0.1:9")
    [made] = runner.run(ws, prometheus=no_prometheus).proposals
    commit = made.context.facts["commit"]

    gitrepo.git(repo, "merge", "--ff-only", made.context.facts["branch"])
    clock.advance(3600)
    [landed] = runner.run(ws, prometheus=no_prometheus).watched.landed

    assert landed.id == made.id
    row = store.get_proposal(made.id)
    assert row is not None and (row.landed_commit, row.landed_by) == (commit, "merge")
    assert row.landed_at == clock.now()  # not the proposal commit's time: when it was seen


def test_a_proposal_from_before_the_lifecycle_rows_is_watched_too(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    asking = intervals_test.SETTINGS.replace("approval: auto", "approval: required")
    gitrepo.make_repo(repo, {"reconciler.yaml": asking})
    store = SqliteStore(tmp_path / "reconciler.db", retention=RetentionSettings())
    for run in intervals_test.runs([3.0] * 20):
        store.create_run(run)
    ws = proposals.Workspace(repo=repo, ref="main", store=store, clock=SystemClock())
    no_prometheus = triggers.Prometheus("http://127.0.0.1:9")
    [made] = runner.run(ws, prometheus=no_prometheus).proposals
    with sqlite3.connect(tmp_path / "reconciler.db") as conn:  # as an older reconciler left it
        conn.execute("DELETE FROM proposals")
    conn.close()
    assert store.get_proposal(made.id) is None

    gitrepo.git(repo, "merge", "--no-ff", "-m", "merge", made.context.facts["branch"])
    [landed] = runner.run(ws, prometheus=no_prometheus).watched.landed

    assert landed.id == made.id
    row = store.get_proposal(made.id)
    assert row is not None and (row.state, row.landed_by) == ("landed", "merge")
