"""A remote source's proposal: committed in the daemon's mirror, its branch pushed to the
remote (a real bare repository over file://), and a pull request opened through the forge
client against `tests/api/forge_server.py` — a loopback stand-in for GitHub's REST API,
which cannot run here. The remote's watched branch is never moved by the daemon."""

from __future__ import annotations

from pathlib import Path

from reconciler.clock import SystemClock
from reconciler.optimize import proposals, runner
from reconciler.optimize.records import State, state_of
from reconciler.reconcile.simulations import forge
from reconciler.run import triggers
from reconciler.source.settings import SourceSettings
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests import gitrepo
from tests.api import forge_server
from tests.optimize.test_intervals import SETTINGS, runs

REMOTE_SETTINGS = SETTINGS.replace(
    "    approval: auto\n",
    "    approval: auto\n    pullRequests: {forge: github, repository: acme/shop}\n",
)


def test_a_remote_proposal_is_pushed_and_opened_as_a_pull_request(tmp_path: Path) -> None:
    work, bare = tmp_path / "work", tmp_path / "remote.git"
    gitrepo.make_repo(work, {"reconciler.yaml": REMOTE_SETTINGS})
    gitrepo.git(tmp_path, "clone", "--bare", str(work), str(bare))
    before = gitrepo.git(bare, "rev-parse", "main")
    store = SqliteStore(tmp_path / "optimize.db", retention=RetentionSettings())
    for run in runs([3.0] * 20):
        store.create_run(run)
    remote = SourceSettings(url=f"file://{bare}", ref="main", cache_dir=tmp_path / "cache")
    with forge_server.serve() as fake:
        client = forge.github_client(api_url=fake.url, token="t0ken")
        ws = proposals.Workspace(
            repo=None,
            ref="main",
            store=store,
            clock=SystemClock(),
            remote=remote,
            forges=lambda kind: client if kind == "github" else None,
        )
        [made] = runner.run(ws, prometheus=triggers.Prometheus("http://127.0.0.1:9")).proposals
        [opened] = fake.calls("POST", r"^/repos/acme/shop/pulls$")

    facts = made.context.facts
    assert state_of(made) is State.PROPOSED  # the level allowed it; a remote gets a review
    assert gitrepo.git(bare, "rev-parse", "main") == before
    pushed = gitrepo.git(bare, "show", f"{facts['branch']}:reconciler.yaml") + "\n"
    assert pushed == REMOTE_SETTINGS.replace("interval: 5m ", "interval: 2m ")
    assert opened.body["head"] == facts["branch"] and opened.body["base"] == "main"
    assert opened.body["title"] == "Optimize interval/reconcile: spec.interval 300 -> 120"
    assert "Simulation: **passes**" in opened.body["body"]
    assert "| busy | value | cost | reliability | score |" in opened.body["body"]
    assert opened.headers["authorization"] == "Bearer t0ken"
    assert facts["pullRequest"]["forge"] == "github"
    assert facts["note"] == f"pull request opened from {facts['branch']} for a human to merge"


def test_a_forge_that_refuses_leaves_the_pushed_branch_and_says_why(tmp_path: Path) -> None:
    work, bare = tmp_path / "work", tmp_path / "remote.git"
    gitrepo.make_repo(work, {"reconciler.yaml": REMOTE_SETTINGS})
    gitrepo.git(tmp_path, "clone", "--bare", str(work), str(bare))
    store = SqliteStore(tmp_path / "optimize.db", retention=RetentionSettings())
    for run in runs([3.0] * 20):
        store.create_run(run)
    remote = SourceSettings(url=f"file://{bare}", ref="main", cache_dir=tmp_path / "cache")
    with forge_server.serve() as fake:
        fake.fail_with = 401
        client = forge.github_client(api_url=fake.url, token="t0ken")
        ws = proposals.Workspace(
            repo=None,
            ref="main",
            store=store,
            clock=SystemClock(),
            remote=remote,
            forges=lambda kind: client,
        )
        [made] = runner.run(ws, prometheus=triggers.Prometheus("http://127.0.0.1:9")).proposals

    facts = made.context.facts
    assert state_of(made) is State.PROPOSED and "pullRequest" not in facts
    assert facts["note"] == (
        f"pushed {facts['branch']}; the pull request was not opened: POST "
        '/repos/acme/shop/pulls answered 401: {"message": "Bad credentials"}'
    )
    assert gitrepo.git(bare, "rev-parse", facts["branch"]) == facts["commit"]


def _remote_workspace(tmp_path: Path, client: forge.Client) -> proposals.Workspace:
    work, bare = tmp_path / "work", tmp_path / "remote.git"
    gitrepo.make_repo(work, {"reconciler.yaml": REMOTE_SETTINGS})
    gitrepo.git(tmp_path, "clone", "--quiet", "--bare", str(work), str(bare))
    store = SqliteStore(tmp_path / "optimize.db", retention=RetentionSettings())
    for run in runs([3.0] * 20):
        store.create_run(run)
    return proposals.Workspace(
        repo=None,
        ref="main",
        store=store,
        clock=SystemClock(),
        remote=SourceSettings(url=f"file://{bare}", ref="main", cache_dir=tmp_path / "cache"),
        forges=lambda kind: client,
    )


NO_PROMETHEUS = triggers.Prometheus("http://127.0.0.1:9")


def test_a_pull_request_merged_on_the_remote_lands_its_proposal(tmp_path: Path) -> None:
    with forge_server.serve() as fake:
        ws = _remote_workspace(tmp_path, forge.github_client(api_url=fake.url, token="t"))
        [made] = runner.run(ws, prometheus=NO_PROMETHEUS).proposals
        branch, bare = made.context.facts["branch"], tmp_path / "remote.git"
        person = tmp_path / "person"  # a person merges the pull request, as a forge would
        gitrepo.git(tmp_path, "clone", "--quiet", str(bare), str(person))
        gitrepo.git(person, "merge", "--no-ff", "-m", "Merge pull request", f"origin/{branch}")
        gitrepo.git(person, "push", "--quiet", "origin", "main", f":{branch}")
        second = runner.run(ws, prometheus=NO_PROMETHEUS)

    assert [r.id for r in second.watched.landed] == [made.id] and second.watched.closed == ()
    row = ws.store.get_proposal(made.id)
    assert row is not None and (row.state, row.landed_by) == ("landed", "merge")
    assert row.landed_commit == gitrepo.git(bare, "rev-parse", "main")


def test_a_pull_request_closed_with_its_branch_deleted_closes_its_proposal(
    tmp_path: Path,
) -> None:
    with forge_server.serve() as fake:
        ws = _remote_workspace(tmp_path, forge.github_client(api_url=fake.url, token="t"))
        [made] = runner.run(ws, prometheus=NO_PROMETHEUS).proposals
        branch = made.context.facts["branch"]
        gitrepo.git(tmp_path / "remote.git", "branch", "-D", branch)  # closed, branch removed
        second = runner.run(ws, prometheus=NO_PROMETHEUS)

    assert [r.id for r in second.watched.closed] == [made.id] and second.watched.landed == ()
    row = ws.store.get_proposal(made.id)
    assert row is not None and row.state == "closed"
    assert row.closed_reason == f"branch {branch} deleted"
