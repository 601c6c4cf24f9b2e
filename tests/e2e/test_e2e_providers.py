"""Provider programs that hang or get killed with the daemon: nothing else stops, nothing is
lost, and a restarted daemon converges from what is really there."""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path
from typing import Any

from tests import gitrepo
from tests.e2e import harness, repos
from tests.e2e.conftest import Launch

SERVICES = [f"svc-{n}" for n in range(1, 7)]
INTERRUPTED = "interrupted: the daemon stopped before this pass finished"


def test_a_hanging_provider_times_out_and_the_loop_goes_on(tmp_path: Path, launch: Launch) -> None:
    repo, out, state = tmp_path / "repo", tmp_path / "out", tmp_path / "services"
    state.mkdir()
    program = "providers/service.py"
    gitrepo.make_repo(
        repo,
        {
            **repos.settings(),
            **repos.service_provider(state),
            "resources/stuck.yaml": repos.exec_resource(
                "stuck", program=program, desired={"hang": True}, timeout="1s"
            ),
            "resources/web.yaml": repos.exec_resource("web", program=program, desired={"port": 1}),
            "resources/motd.yaml": repos.file_resource("motd", path=out / "motd", content="m\n"),
        },
    )
    daemon = launch(harness.serve_args(repo, data_dir=tmp_path / "state"))

    def timed_out() -> dict[str, Any]:
        stuck = daemon.resource("ExecResource//stuck")
        assert stuck is not None
        failed = harness.condition(stuck, "ApplyFailed")
        assert failed is not None
        return failed

    failed = harness.eventually(timed_out, what="the hanging apply timed out")
    assert (failed["status"], failed["reason"]) == ("True", "ProviderTimeout")
    assert failed["message"] == (
        "exec provider: ExecResource//stuck: providers/service.py timed out after 1s during "
        "apply; its process group was killed"
    )
    for key in ("ExecResource//web", "File//motd"):
        assert harness.ready(daemon.resource(key)) == "True", key
    assert json.loads((state / "services" / "web.json").read_text()) == {"port": 1}
    assert not (state / "services" / "stuck.json").exists()

    later = gitrepo.commit(
        repo, {"resources/next.yaml": repos.file_resource("next", path=out / "next", content="n\n")}
    )

    def applied() -> None:
        item = daemon.resource("File//next")
        assert item is not None and item["lastAppliedRevision"] == later
        assert harness.ready(item) == "True"

    harness.eventually(applied, what="a later commit applied")
    assert (out / "next").read_text() == "n\n"
    stuck = daemon.resource("ExecResource//stuck")
    assert stuck is not None and harness.ready(stuck) == "False"
    assert stuck["lastAppliedRevision"] is None
    runs = daemon.get("/api/v1/runs")["runs"]
    steps = [s for r in runs for s in r["steps"] if s["name"] == "ExecResource//stuck"]
    assert {(s["status"], s["output"]["result"]) for s in steps} <= {
        ("failed", "failed"),
        ("waiting", "backing-off"),
    }
    assert failed["message"] in {s["error"] for s in steps if s["status"] == "failed"}


def _services(files: dict[str, str], *, version: int) -> dict[str, str]:
    for name in SERVICES:
        files[f"resources/{name}.yaml"] = repos.exec_resource(
            name, program="providers/service.py", desired={"version": version}
        )
    return files


def _all_ready(daemon: harness.RunningDaemon, sha: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = daemon.get("/api/v1/resources")["resources"]
    assert [r["key"] for r in found] == [f"ExecResource//{name}" for name in SERVICES]
    assert all(harness.ready(r) == "True" and r["lastAppliedRevision"] == sha for r in found)
    assert daemon.source("repo")["reconciling"] is False
    return found


def _live(state: Path, *, version: int) -> list[str]:
    found = []
    for name in SERVICES:
        path = state / "services" / f"{name}.json"
        if path.exists() and json.loads(path.read_text()) == {"version": version}:
            found.append(name)
    return found


def _two_live(state: Path) -> None:
    assert len(_live(state, version=2)) >= 2


def _decisions(daemon: harness.RunningDaemon) -> dict[tuple[str, str], int]:
    """How many times the gate of each (object, revision) is in the decision log. The audit
    policy only warns, so each gate logs an `allow` and a `warn`: the warnings are counted."""
    found = daemon.get("/api/v1/decisions?policy=e2e.audit&limit=1000")["decisions"]
    counts: dict[tuple[str, str], int] = {}
    for d in found:
        if d["outcome"] != "warn":
            continue
        pair = (d["resource"]["name"], d["revision"])
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def test_kill_9_mid_pass_then_restart_converges_without_loss(
    tmp_path: Path, launch: Launch
) -> None:
    repo, state, data = tmp_path / "repo", tmp_path / "services", tmp_path / "state"
    state.mkdir()
    files = {**repos.settings(), **repos.service_provider(state), **repos.audit_policy()}
    v1 = gitrepo.make_repo(repo, _services(files, version=1))
    first = launch(harness.serve_args(repo, data_dir=data), name="first")
    harness.eventually(lambda: _all_ready(first, v1), what="version 1 applied")

    (state / "slow").touch()  # every apply now takes a while, so the kill lands mid-pass
    v2 = gitrepo.commit(repo, _services({}, version=2))
    harness.eventually(lambda: _two_live(state), what="two services at version 2")
    before_runs = first.get("/api/v1/runs?limit=1000")["runs"]
    before = {r["key"]: r for r in first.get("/api/v1/resources")["resources"]}
    first.signal(signal.SIGKILL)
    assert first.wait() == -signal.SIGKILL
    assert len(_live(state, version=2)) < len(SERVICES), "the kill must land mid-pass"
    running = [r for r in before_runs if r["status"] == "running"]
    assert [r["revision"] for r in running] == [v2]

    (state / "slow").unlink()
    second = launch(harness.serve_args(repo, data_dir=data), name="second")
    final = harness.eventually(lambda: _all_ready(second, v2), what="converged after restart")
    assert second.get("/readyz")["store"] is True
    assert _live(state, version=2) == SERVICES

    # Runs: every run from before the kill is still listed, once; the interrupted pass is
    # closed as cancelled; no run is left running.
    runs = second.get("/api/v1/runs?limit=1000")["runs"]
    ids = [r["id"] for r in runs]
    assert len(ids) == len(set(ids))
    by_id = {r["id"]: r for r in runs}
    for old in before_runs:
        now = by_id[old["id"]]
        assert (now["started_at"], now["trigger"], now["revision"]) == (
            old["started_at"],
            old["trigger"],
            old["revision"],
        )
        if old["status"] != "running":
            assert now == old
    [interrupted] = running
    assert (by_id[interrupted["id"]]["status"], by_id[interrupted["id"]]["error"]) == (
        "cancelled",
        INTERRUPTED,
    )
    assert not [r for r in runs if r["status"] == "running"]

    # Statuses: one per object; the history written before the kill is still there, and
    # no revision was recorded as applied twice for one object.
    for item in final:
        history = item["history"]
        assert history[: len(before[item["key"]]["history"])] == before[item["key"]]["history"]
        applied = [h["revision"] for h in history if h["outcome"] == "applied"]
        assert len(applied) == len(set(applied)), history

    # Decisions: the gate of one object's change at one revision is logged at most once
    # (a killed pass and the pass that finished its work never both log it); version 1,
    # gated by a pass that completed, exactly once per object.
    decisions = _decisions(second)
    assert all(count == 1 for count in decisions.values()), decisions
    assert {name for name, sha in decisions if sha == v1} == set(SERVICES)
    second.signal(signal.SIGTERM)
    assert second.wait() == 0

    with sqlite3.connect(data / "reconciler.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        statuses = db.execute("SELECT count(*) FROM object_status").fetchone()
    assert statuses == (len(SERVICES),)
    unlogged = sorted(set(SERVICES) - {name for name, sha in decisions if sha == v2})
    harness.holds_true(
        not unlogged,
        f"{unlogged} changed at version 2 with no decision logged: the killed pass applied "
        "them, and decisions are written only at the end of a pass",
    )
