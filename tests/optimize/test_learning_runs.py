"""The learner wired into optimization runs, against a real Prometheus server, a real git
repository and a real SQLite store: it chooses the sizing candidate, its posterior is in
the proposal, the regression verdict is fed back, and its state survives closing and
reopening the store (a restarted daemon) to choose exactly as it would have."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.api.dashboard import render, tuning
from reconciler.clock import SystemClock
from reconciler.optimize import learning, proposals, runner
from reconciler.optimize.learner import Learner
from reconciler.optimize.records import State, state_of
from reconciler.run import triggers
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests import gitrepo, prometheus
from tests.optimize.test_optimization_runs import SETTINGS, WEBAPP, steady
from tests.prometheus import Served

pytestmark = pytest.mark.slow

LEARNING = SETTINGS.replace(
    "    approval: auto\n", "    approval: auto\n    learning: {enabled: true, seed: 7}\n"
)
NAME = "optimization/sizing/web-cpu"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    yield from prometheus.serve(tmp_path, ["app_cpu", "app_latency_seconds"])


def open_ws(path: Path, repo: Path) -> proposals.Workspace:
    store = SqliteStore(path, retention=RetentionSettings())
    return proposals.Workspace(repo=repo, ref="main", store=store, clock=SystemClock())


def test_the_learner_chooses_learns_from_the_verdict_and_survives_a_restart(
    tmp_path: Path, served: Served
) -> None:
    repo = tmp_path / "repo"
    gitrepo.make_repo(repo, {"reconciler.yaml": LEARNING, "resources/web.yaml": WEBAPP})
    db = tmp_path / "optimize.db"
    ws = open_ws(db, repo)
    client = triggers.Prometheus(served.url)
    steady(served, cpu=0.3, latency=0.1, seconds=4.5)

    [proposal] = runner.run(ws, prometheus=client).proposals

    change = proposal.context.facts["change"]
    chosen = change["learner"]
    assert chosen["name"] == NAME and chosen["observations"] == 0
    assert [o["features"] for o in chosen["options"]] == [
        learning.features(row) for row in change["tradeoff"]
    ]
    assert all({"learnt", "sd"} <= set(row) for row in change["tradeoff"])
    assert change["new"] == change["tradeoff"][chosen["chosen"]]["value"]
    assert state_of(proposal) is State.LANDED
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
    assert "the learner chose; learnt: its posterior mean reward" in html
    assert '<th scope="col">learnt</th>' in html

    steady(served, cpu=0.3, latency=0.3, seconds=4.5)  # the planted regression
    [revert] = runner.run(ws, prometheus=client).reverts
    assert state_of(revert) is State.LANDED
    settled = ws.store.get_daemon_decision(proposal.id).record["context"]["facts"]
    reward = settled["regression"]["reward"]
    assert reward == pytest.approx(-settled["regression"]["effect"] - 1.0)
    saved = ws.store.load_learner(NAME)
    assert saved is not None
    assert json.loads(saved)["n"] == 1 and json.loads(saved)["yy"] == pytest.approx(reward**2)
    ws.store.close()

    ws = open_ws(db, repo)  # the daemon restarts: a new store on the same file
    restored = Learner.restore(ws.store, NAME, learning.FEATURES)
    assert restored.to_json() == saved
    steady(served, cpu=1.0, latency=0.1, seconds=4.5)
    [again] = runner.run(ws, prometheus=client).proposals

    picked = again.context.facts["change"]["learner"]
    options = {str(i): o["features"] for i, o in enumerate(picked["options"])}
    assert picked["observations"] == 1
    assert picked["chosen"] == int(Learner.from_json(saved).choose(options))
    ws.store.close()
