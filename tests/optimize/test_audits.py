"""The audit-interval optimizer over the drift the daemon found, kept as `DriftDetected`
events of a real SQLite store: the interval that keeps drift standing within its budget
is proposed as a commit of reconciler.yaml."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from reconciler.clock import SystemClock
from reconciler.optimize import audits, proposals, runner
from reconciler.optimize.records import State, state_of
from reconciler.run import triggers
from reconciler.runstate import RunKind, RunRecord, RunStatus
from reconciler.specs.optimization import Audit, Weights
from reconciler.store.interfaces import EventRecord
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests import gitrepo

ITEM = Audit.model_validate({"name": "drift", "source": "shop", "objective": {"query": "q"}})
DAY = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_interval_keeps_drift_standing_within_its_budget() -> None:
    drifts = [DAY + timedelta(hours=h) for h in range(0, 24, 2)]  # 12 a day: 0.5 an hour
    audited = audits.tune(
        drifts,
        since=DAY,
        until=DAY + timedelta(days=1),
        current=600,
        item=ITEM,
        weights=Weights(),
    )
    # λ = 0.5/h: T = 2 x budget / λ -> 0.05: 12m, 0.1: 24m, 0.2: 48m
    assert [(c["value"], c["cost"], c["reliability"]) for c in audited.candidates] == [
        (720.0, 0.8333, 0.5),
        (1440.0, 0.4167, 1.0),
        (2880.0, 0.2083, 2.0),
    ]
    assert audited.chosen == 720.0  # the lowest sum: 1.3333
    assert audited.reason == "12 drifts in 24h (0.5/h): audit interval 10m -> 12m"
    dear = audits.tune(
        drifts,
        since=DAY,
        until=DAY + timedelta(days=1),
        current=600,
        item=ITEM,
        weights=Weights(cost=3),
    )
    assert dear.chosen == 1440.0  # audits weigh more: 2.25 beats 3.0 and 2.625
    close = audits.tune(
        drifts,
        since=DAY,
        until=DAY + timedelta(days=1),
        current=700,
        item=ITEM,
        weights=Weights(),
    )
    assert close.chosen is None
    assert close.reason == "12 drifts in 24h (0.5/h): 12m is close to 700s"


def test_no_drift_asks_for_the_longest_interval() -> None:
    audited = audits.tune(
        [], since=DAY, until=DAY + timedelta(days=7), current=600, item=ITEM, weights=Weights()
    )
    assert {c["value"] for c in audited.candidates} == {21600.0}
    assert audited.chosen == 21600.0
    assert audited.reason == "0 drifts in 168h (0/h): audit interval 10m -> 6h"


SETTINGS = """\
apiVersion: reconciler.dev/v1
kind: Settings
metadata:
  name: shop
spec:
  auditInterval: 10m   # policies change rarely
  optimization:
    approval: auto
    audits:
      - name: drift
        source: shop
        lookback: 2d   # the span read starts at the first reconcile run in it
        objective: {query: reconciler_audit_seconds}
"""


def record_history(store: SqliteStore, *, now: datetime, drifts: int) -> None:
    """A day of hourly reconcile runs of shop, and `drifts` drifts spread over it (and one
    of another source, which does not count)."""
    for h in range(24):
        at = now - timedelta(hours=24 - h)
        store.create_run(
            RunRecord(
                id=f"shop-{h}",
                kind=RunKind.RECONCILE,
                name="shop",
                trigger="interval",
                revision=None,
                status=RunStatus.SUCCEEDED,
                started_at=at,
                finished_at=at + timedelta(seconds=2),
            )
        )
    for i in range(drifts):
        at = now - timedelta(hours=24) + timedelta(hours=24 * (i + 0.5) / drifts)
        store.append_event(
            EventRecord(
                at=at, type="DriftDetected", object_key="WebApp/shop/web", data={"source": "shop"}
            )
        )
    store.append_event(
        EventRecord(at=now, type="DriftDetected", object_key="x", data={"source": "other"})
    )


def test_an_audit_proposal_is_a_commit_of_reconciler_yaml(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    gitrepo.make_repo(repo, {"reconciler.yaml": SETTINGS})
    store = SqliteStore(tmp_path / "optimize.db", retention=RetentionSettings())
    clock = SystemClock()
    record_history(store, now=clock.now(), drifts=2)
    ws = proposals.Workspace(repo=repo, ref="main", store=store, clock=clock)

    result = runner.run(ws, prometheus=triggers.Prometheus("http://127.0.0.1:9"))

    [made] = result.proposals
    assert made.context.subject == "audit/drift"
    assert state_of(made) is State.LANDED
    change = made.context.facts["change"]
    assert [row["value"] for row in change["tradeoff"]] == [4320.0, 8640.0, 17280.0]
    assert (change["old"], change["new"]) == (600.0, 4320.0)
    written = gitrepo.git(repo, "show", "main:reconciler.yaml") + "\n"
    assert written == SETTINGS.replace("auditInterval: 10m ", "auditInterval: 72m ")
    store.close()


def test_without_reconcile_history_nothing_is_proposed(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    gitrepo.make_repo(repo, {"reconciler.yaml": SETTINGS})
    store = SqliteStore(tmp_path / "optimize.db", retention=RetentionSettings())
    ws = proposals.Workspace(repo=repo, ref="main", store=store, clock=SystemClock())

    result = runner.run(ws, prometheus=triggers.Prometheus("http://127.0.0.1:9"))

    assert result.proposals == ()
    [skipped] = result.skipped
    assert skipped.startswith("audit/drift: no reconcile run of shop since ")
    assert skipped.endswith(": no history")
    store.close()
