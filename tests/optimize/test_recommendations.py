"""Policy recommendations from the decision history: a real git repository, real regorus
evaluating the repository's policies into the decision log of a real SQLite store (two days
of history, each pass at its own time), the real simulation. A quiet binding is promoted, a
resource whose violations were approved every time gets an exception with an expiry, a
binding that never fires is flagged, and one with a recent violation stays as it is."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.api.dashboard import render, tuning
from reconciler.clock import ManualClock
from reconciler.decide import decider, ledger
from reconciler.decide.records import Context, Option, Outcome
from reconciler.optimize import catalog, proposals, runner
from reconciler.optimize.records import State, state_of
from reconciler.policy import bundle, evaluate
from reconciler.policy.decisions import Action
from reconciler.specs.decisions import DecisionSettings
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests import gitrepo
from tests.policy.conftest import make_snapshot

SETTINGS = """\
apiVersion: reconciler.dev/v1
kind: Settings
metadata:
  name: shop
spec:
  optimization:
    recommendations:
      window: 1d
      minDecisions: 5
      exceptionAfter: 3
      exceptionFor: 30d
"""
POLICY = """\
package shop.replicas

import rego.v1

deny contains msg if {
  input.spec.replicas < 2
  msg := sprintf("%s runs %v replica(s); 2 at least", [input.metadata.name, input.spec.replicas])
}
"""
NEVER = """\
package shop.never

import rego.v1

deny contains msg if {
  input.spec.replicas > 1000
  msg := "more than a thousand replicas"
}
"""
BINDINGS = """\
# Replica floors, one binding per service so each can be tightened on its own.
apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata:
  name: web-floor
spec:
  policy: shop.replicas
  input: conftest
  scope: {kinds: [WebApp], names: [web]}
  enforcement: monitor   # watched for a while before it gates anything
---
apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata:
  name: api-floor
spec:
  policy: shop.replicas
  input: conftest
  scope: {kinds: [WebApp], names: [api]}
  enforcement: advisory
---
apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata:
  name: batch-floor
spec:
  policy: shop.replicas
  input: conftest
  scope: {kinds: [WebApp], names: [batch]}
  enforcement: advisory
  remediation:
    runbook: scale-batch
---
apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata:
  name: replica-cap
spec:
  policy: shop.never
  input: conftest
  scope: {kinds: [WebApp]}
  enforcement: strict
"""


def webapp(name: str, replicas: int) -> str:
    return (
        f"apiVersion: example.dev/v1\nkind: WebApp\nmetadata:\n  name: {name}\n"
        f"  namespace: shop\nspec:\n  replicas: {replicas}\n"
    )


def files(*, api: int, bindings: str = BINDINGS) -> dict[str, str]:
    return {
        "reconciler.yaml": SETTINGS,
        "policies/replicas.rego": POLICY,
        "policies/never.rego": NEVER,
        "policies/bindings.yaml": bindings,
        "resources/web.yaml": webapp("web", 3),
        "resources/api.yaml": webapp("api", api),
        "resources/batch.yaml": webapp("batch", 1),
    }


def record_history(
    store: SqliteStore,
    *,
    now: datetime,
    bindings: str = BINDINGS,
    hours_ago: range = range(47, 0, -4),
) -> None:
    """Passes (by default two days of them, every four hours) evaluated by regorus at their
    own times; the api ran one replica at the pass seven hours ago and was fixed by the next."""
    for hours in hours_ago:
        clock = ManualClock(now - timedelta(hours=hours))
        snap = make_snapshot(files(api=1 if hours == 7 else 3, bindings=bindings))
        evaluator = evaluate.Evaluator(bundle.compile(snap), clock=clock, revision="r")
        store.append_decisions([d for doc in snap.resources for d in evaluator.evaluate(doc)])


def approve_remediations(store: SqliteStore, *, now: datetime, count: int) -> None:
    """`count` remediations of the batch's violation in the window, each approved by alice."""
    for hours in range(count):
        at = (now - timedelta(hours=4 * hours + 2)).isoformat()
        record = decider.decide(
            Context(
                type="remediation",
                subject="batch-floor/WebApp/shop/batch",
                kind="WebApp",
                binding="batch-floor",
                policy="shop.replicas",
            ),
            [Option(kind="runbook", target="scale-batch")],
            settings=DecisionSettings(),
            history=ledger.StoreHistory(store),
            at=at,
        )
        done = ledger.settled(
            record, Outcome.SUCCEEDED, at=datetime.fromisoformat(at), approver="alice", note="ok"
        )
        store.put_daemon_decision(ledger.to_entry(done))


@pytest.fixture
def ws(tmp_path: Path) -> proposals.Workspace:
    repo = tmp_path / "repo"
    gitrepo.make_repo(repo, files(api=3))
    store = SqliteStore(tmp_path / "optimize.db", retention=RetentionSettings())
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    return proposals.Workspace(repo=repo, ref="main", store=store, clock=clock)


def bindings_at(repo: Path, rev: str) -> str:
    return gitrepo.git(repo, "show", f"{rev}:policies/bindings.yaml") + "\n"


def test_the_decision_history_recommends_a_promotion_an_exception_and_flags(
    ws: proposals.Workspace,
) -> None:
    assert ws.repo is not None
    now = ws.clock.now()
    record_history(ws.store, now=now)  # type: ignore[arg-type]
    approve_remediations(ws.store, now=now, count=3)  # type: ignore[arg-type]
    before = gitrepo.git(ws.repo, "rev-parse", "main")

    result = runner.run(ws, prometheus=None)

    promoted, excepted = result.proposals
    assert [p.context.subject for p in result.proposals] == [
        "recommend/promote-web-floor",
        "recommend/except-batch-floor-webapp-shop-batch",
    ]
    for made in result.proposals:
        facts = made.context.facts
        assert made.context.type == "recommendation"
        assert state_of(made) is State.PROPOSED  # policy changes wait for a human by default
        assert made.level.value == "human"
        assert facts["simulation"]["verdict"] == "passes"
        assert gitrepo.git(ws.repo, "rev-parse", facts["branch"]) == facts["commit"]
        assert made.explanation
        assert ws.store.get_daemon_decision(made.id) is not None
    assert gitrepo.git(ws.repo, "rev-parse", "main") == before  # nothing merged

    change = promoted.context.facts["change"]
    assert (change["field"], change["old"], change["new"]) == (
        "spec.enforcement",
        "monitor",
        "advisory",
    )
    assert "6 decisions in the last 1d, 0.0% violations (below 1.0%), none now" in change["reason"]
    assert bindings_at(ws.repo, promoted.context.facts["branch"]) == BINDINGS.replace(
        "enforcement: monitor   #", "enforcement: advisory  #"
    )

    expires = (now + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    reason = (
        "WebApp/shop/batch violated shop.replicas 6 times in the last 1d and its remediation "
        f"was approved each time (3 approvals by alice): exempted until {expires}, then reviewed"
    )
    assert excepted.context.facts["change"]["reason"] == reason
    written = bindings_at(ws.repo, excepted.context.facts["branch"])
    assert written == BINDINGS.replace(
        "    runbook: scale-batch\n",
        "    runbook: scale-batch\n"
        "  exceptions:\n"
        f"  - name: accepted-webapp-shop-batch-until-{expires[:10]}\n"
        "    match:\n"
        "      kinds:\n      - WebApp\n"
        "      namespaces:\n      - shop\n"
        "      names:\n      - batch\n"
        f"    reason: '{reason}'\n"
        f"    expires: '{expires}'\n",
    )

    assert result.flagged == (
        "policies/bindings.yaml:2 web-floor (shop.replicas): never fired in 1d "
        "(6 decisions, no violation): check its scope or retire it",
        "policies/bindings.yaml:34 replica-cap (shop.never): never fired in 1d "
        "(18 decisions, no violation): check its scope or retire it",
    )
    assert "recommend/promote-api-floor: violation rate 16.7% over 1d (promoted below 1.0%)" in (
        result.skipped
    )
    assert result.run_id is not None
    assert ws.store.flagged(result.run_id) == list(result.flagged)  # kept with the run
    assert catalog.described(ws.store, promoted)["flagged"] == list(result.flagged)
    assert catalog.latest_flagged(ws.store) == {
        "runId": result.run_id,
        "bindings": list(result.flagged),
    }

    shown = catalog.text(promoted)  # `reconciler optimize show`
    assert (
        "PolicyBinding//web-floor policies/bindings.yaml spec.enforcement: monitor -> advisory"
        in (shown)
    )
    assert "state: proposed  level: human  outcome: pending" in shown
    shown = catalog.text(promoted, flagged=list(result.flagged))
    assert shown.endswith(f"flagged by its run:\n  {result.flagged[0]}\n  {result.flagged[1]}")
    html = render.Renderer().render(
        tuning.listing(ws.store),  # type: ignore[arg-type]
        csrf="c",
        user=None,
        signed_in=False,
        nav=(),
        active="/optimizations",
        live=False,
        can_operate=False,
    )
    assert "<code>spec.enforcement</code> monitor → advisory" in html
    assert "Flagged by the latest run" in html and f"<li>{result.flagged[1]}</li>" in html
    assert (
        f"<code>spec.exceptions</code> - → +accepted-webapp-shop-batch-until-{expires[:10]}" in html
    )
    page = render.Renderer().render(
        tuning.one(ws.store, excepted.id),  # type: ignore[arg-type]
        csrf="c",
        user=None,
        signed_in=False,
        nav=(),
        active="/optimizations",
        live=False,
        can_operate=False,
    )
    assert "no objective metric, so no regression test" in page and "<svg" not in page


def test_an_advisory_binding_is_promoted_to_gradual_with_a_deadline(tmp_path: Path) -> None:
    advisory = BINDINGS.replace("enforcement: monitor   #", "enforcement: advisory  #")
    repo = tmp_path / "repo"
    gitrepo.make_repo(repo, files(api=3, bindings=advisory))
    store = SqliteStore(tmp_path / "optimize.db", retention=RetentionSettings())
    now = datetime.now(UTC).replace(microsecond=0)
    ws = proposals.Workspace(repo=repo, ref="main", store=store, clock=ManualClock(now))
    record_history(store, now=now, bindings=advisory, hours_ago=range(71, 0, -4))  # 3 days

    [promoted] = runner.run(ws, prometheus=None).proposals

    change = promoted.context.facts["change"]
    deadline = (now + timedelta(days=7)).strftime("%Y-%m-%dT%H:%M:%SZ")  # `ramp` from now
    assert (change["old"], change["new"]) == ("advisory", "gradual")
    assert change["also"] == {"spec.gradual.deadline": deadline}
    assert promoted.context.facts["simulation"]["verdict"] == "passes"  # it loads: valid
    assert bindings_at(repo, promoted.context.facts["branch"]) == advisory.replace(
        "  enforcement: advisory  # watched for a while before it gates anything\n",
        "  enforcement: gradual   # watched for a while before it gates anything\n"
        f"  gradual:\n    deadline: '{deadline}'\n",
    )


def test_a_binding_that_changed_mode_inside_the_window_is_not_promoted_yet(
    ws: proposals.Workspace,
) -> None:
    now = ws.clock.now()
    advisory = BINDINGS.replace("enforcement: monitor   #", "enforcement: advisory  #")
    earlier, lately = range(47, 10, -4), range(7, 0, -4)  # monitor for the last 7 hours
    record_history(ws.store, now=now, bindings=advisory, hours_ago=earlier)  # type: ignore[arg-type]
    record_history(ws.store, now=now, hours_ago=lately)  # type: ignore[arg-type]

    result = runner.run(ws, prometheus=None)

    assert result.proposals == ()
    since = (now - timedelta(hours=7)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert (
        f"recommend/promote-web-floor: monitor since {since}; promoted after holding it for 1d"
        in result.skipped
    )


def test_an_expired_exception_stops_applying_and_a_new_one_is_proposed(tmp_path: Path) -> None:
    expired = BINDINGS.replace(
        "    runbook: scale-batch\n",
        "    runbook: scale-batch\n"
        "  exceptions:\n"
        "    - name: accepted-webapp-shop-batch\n"
        "      match: {kinds: [WebApp], names: [batch]}\n"
        "      reason: approved during the migration\n"
        "      expires: '2026-01-01T00:00:00Z'\n",
    )
    repo = tmp_path / "repo"
    gitrepo.make_repo(repo, files(api=3, bindings=expired))
    store = SqliteStore(tmp_path / "optimize.db", retention=RetentionSettings())
    now = datetime.now(UTC).replace(microsecond=0)
    ws = proposals.Workspace(repo=repo, ref="main", store=store, clock=ManualClock(now))
    record_history(store, now=now, bindings=expired)
    logged = store.decisions(policy="shop.replicas", key="WebApp/shop/batch", limit=1)
    assert [(d.binding, d.action_taken) for d in logged] == [("batch-floor", Action.WARNED)]
    assert 'exception "accepted-webapp-shop-batch" expired at 2026-01-01' in logged[0].explanation
    approve_remediations(store, now=now, count=3)

    made = runner.run(ws, prometheus=None).proposals

    [excepted] = [p for p in made if p.context.subject.startswith("recommend/except-")]
    assert excepted.context.facts["simulation"]["verdict"] == "passes"
    written = bindings_at(repo, excepted.context.facts["branch"])
    until = (now + timedelta(days=30)).strftime("%Y-%m-%d")
    assert written.startswith(expired.rstrip("\n").rsplit("\n---\n", 1)[0])  # the old one kept
    assert f"  - name: accepted-webapp-shop-batch-until-{until}\n" in written


def test_a_binding_with_a_recent_violation_is_not_promoted(ws: proposals.Workspace) -> None:
    now = ws.clock.now()
    record_history(ws.store, now=now)  # type: ignore[arg-type]

    result = runner.run(ws, prometheus=None)

    subjects = [p.context.subject for p in result.proposals]
    assert "recommend/promote-api-floor" not in subjects
    assert subjects == ["recommend/promote-web-floor"]  # no approvals: no exception either


def test_an_exception_is_not_proposed_when_a_remediation_was_refused(
    ws: proposals.Workspace,
) -> None:
    now = ws.clock.now()
    record_history(ws.store, now=now)  # type: ignore[arg-type]
    approve_remediations(ws.store, now=now, count=3)  # type: ignore[arg-type]
    [last] = ws.store.daemon_decisions(type="remediation", limit=1)
    refused = replace(ledger.from_entry(last), outcome=Outcome.REJECTED, approver=None)
    ws.store.put_daemon_decision(ledger.to_entry(refused))

    result = runner.run(ws, prometheus=None)

    assert [p.context.subject for p in result.proposals] == ["recommend/promote-web-floor"]


def test_the_proposed_exception_applies_until_it_expires(ws: proposals.Workspace) -> None:
    assert ws.repo is not None
    now = ws.clock.now()
    record_history(ws.store, now=now)  # type: ignore[arg-type]
    approve_remediations(ws.store, now=now, count=3)  # type: ignore[arg-type]
    [_, excepted] = runner.run(ws, prometheus=None).proposals
    proposed = files(api=3) | {
        "policies/bindings.yaml": bindings_at(ws.repo, excepted.context.facts["branch"])
    }
    snap = make_snapshot(proposed)
    compiled = bundle.compile(snap)
    batch = next(d for d in snap.resources if d.name == "batch")

    def gate(at: datetime) -> list[tuple[str, Action]]:
        evaluator = evaluate.Evaluator(compiled, clock=ManualClock(at), revision="r")
        return [(d.binding, d.action_taken) for d in evaluator.evaluate(batch) if d.binding]

    assert ("batch-floor", Action.EXEMPTED) in gate(now + timedelta(days=29))
    assert ("batch-floor", Action.WARNED) in gate(
        now + timedelta(days=31)
    )  # expired: advisory again
