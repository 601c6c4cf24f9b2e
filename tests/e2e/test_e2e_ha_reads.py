"""Two replicas on one real PostgreSQL, each running a workflow run of the source it owns,
both runs waiting for an approval: `GET /api/v1/approvals` on either replica lists both,
and a run's `waiting` is the same on the replica that does not run it; `reconciler
workflow runs --store-url` lists both runs with their waiting steps from the shared store;
a pause, an answer and a resume asked of the replica that does not run the run are
forwarded to the one that does (202 naming it; `reconciler workflow resume` says so) and
the run is held by the pause until resumed, then finishes; a cancel asked there with
`reconciler workflow cancel` cancels a run on the other replica; an answer given on the
owner is taken there; a finished run is not steered (409); then neither replica lists an
approval."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconciler.reconcile import replicas
from tests import gitrepo
from tests.e2e import harness, repos
from tests.e2e.conftest import Launch
from tests.postgres import Server

REPLICAS = ("r1", "r2")
CANDIDATES = ("alpha", "beta", "gamma", "delta", "epsilon", "zeta")


def _sources() -> tuple[str, str]:
    """Two source names the two replicas own one each (rendezvous hashing decides)."""
    first = CANDIDATES[0]
    owner = replicas.preferred(first, REPLICAS)
    second = next(c for c in CANDIDATES[1:] if replicas.preferred(c, REPLICAS) != owner)
    return first, second


def _workflow(name: str) -> str:
    spec = {
        "triggers": [{"manual": {}}],
        "steps": [
            {"name": "ok", "kind": "approval", "approval": {"message": f"ship {name}?"}},
            {"name": "done", "command": ["true"], "dependsOn": ["ok"]},
        ],
    }
    return json.dumps(
        {
            "apiVersion": "reconciler.dev/v1",
            "kind": "Workflow",
            "metadata": {"name": name},
            "spec": spec,
        }
    )


def _config(tmp_path: Path, replica: str, sources: tuple[str, str]) -> Path:
    config = tmp_path / f"{replica}.json"
    settings = {
        "dataDir": str(tmp_path / f"state-{replica}"),
        "http": {"port": 0},
        "store": {"urlEnv": "RECONCILER_STORE_URL"},
        "replica": {"name": replica, "leaseTtl": "3s"},
        "sources": [{"name": s, "path": str(tmp_path / s), "interval": "1h"} for s in sources],
    }
    config.write_text(json.dumps(settings))
    return config


def _answer(daemon: harness.RunningDaemon, run_id: str) -> tuple[int, Any]:
    body = json.dumps({"approved": True, "approver": "oncall"}).encode()
    return daemon.request(f"/api/v1/approvals/{run_id}/ok", method="POST", body=body)


def test_every_replica_lists_and_answers_the_approvals_of_every_replicas_runs(
    tmp_path: Path, launch: Launch, postgres: Server
) -> None:
    sources = _sources()
    for source in sources:
        gitrepo.make_repo(
            tmp_path / source, {**repos.settings(), f"workflows/{source}.yaml": _workflow(source)}
        )
    url = postgres.url(postgres.database())
    daemons = {
        name: launch(
            ["--config", str(_config(tmp_path, name, sources))],
            env={"RECONCILER_STORE_URL": url},
            name=name,
        )
        for name in REPLICAS
    }
    owners = {s: replicas.preferred(s, REPLICAS) for s in sources}
    assert sorted(owners.values()) == sorted(REPLICAS)

    def owned() -> None:
        for name, daemon in daemons.items():
            assert daemon.get("/readyz")["owners"] == owners, name
            names = [w["name"] for w in daemon.get("/api/v1/workflows")["workflows"]]
            assert {s for s in sources if owners[s] == name} <= set(names), name

    harness.eventually(owned, timeout=60, what="each replica owning one source")
    runs = {}
    for source in sources:
        status, started = daemons[str(owners[source])].request(
            f"/api/v1/workflows/{source}/run", method="POST", body=b"{}"
        )
        assert status == 202, started
        runs[source] = started["run"]

    def both_listed(daemon: harness.RunningDaemon) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = daemon.get("/api/v1/approvals")["approvals"]
        assert sorted((i["runId"], i["step"]) for i in items) == sorted(
            (run_id, "ok") for run_id in runs.values()
        ), items
        return items

    for name, daemon in daemons.items():
        items = harness.eventually(lambda d=daemon: both_listed(d), what=f"both on {name}")
        assert {i["workflow"]: i["prompt"] for i in items} == {s: f"ship {s}?" for s in sources}
        assert all(i["resume"] is False and i["since"] for i in items)
        for source, run_id in runs.items():  # the same on the replica not running it
            run = daemon.get(f"/api/v1/runs/{run_id}")
            assert (run["status"], run["waiting"]) == ("waiting", ["ok"]), (name, source)

    listed = harness.cli(tmp_path, "workflow", "runs", "--store-url", url, "--format", "json")
    assert listed.returncode == 0, listed.stderr
    found = {r["id"]: r for r in json.loads(listed.stdout)["runs"]}
    assert {i: (r["name"], r["status"], r["waiting"]) for i, r in found.items()} == {
        run_id: (source, "waiting", ["ok"]) for source, run_id in runs.items()
    }
    table = harness.cli(tmp_path, "workflow", "runs", "--store-url", url)
    assert table.returncode == 0, table.stderr
    assert table.stdout.splitlines()[0].split() == [
        "RUN", "KIND", "NAME", "STATUS", "TRIGGER", "STARTED", "WAITING",
    ]  # fmt: skip

    first, second = sources
    elsewhere = daemons[next(n for n in REPLICAS if n != owners[first])]
    pause = elsewhere.request(f"/api/v1/runs/{runs[first]}/pause", method="POST")
    assert pause == (202, {"run": runs[first], "action": "pause", "forwardedTo": owners[first]})
    assert _answer(elsewhere, runs[first]) == (
        202,
        {
            "run": runs[first],
            "step": "ok",
            "approved": True,
            "approver": "oncall",
            "forwardedTo": owners[first],
        },
    )

    def held() -> None:  # answered on its holder, and held there by the pause
        run = elsewhere.get(f"/api/v1/runs/{runs[first]}")
        steps = {s["name"]: s["status"] for s in run["steps"]}
        assert (run["status"], run["error"], steps) == ("waiting", "paused", {"ok": "succeeded"})

    harness.eventually(held, what="the answered run held by its forwarded pause")
    url_elsewhere = ["--url", elsewhere.url]
    resumed = harness.cli(tmp_path, "workflow", "resume", runs[first], *url_elsewhere)
    assert (resumed.returncode, resumed.stderr) == (0, "")
    assert resumed.stdout == (
        f"resume of run {runs[first]} forwarded to replica {owners[first]}, which runs it:"
        " done on its next heartbeat\n"
    )
    assert _answer(daemons[str(owners[second])], runs[second]) == (
        202,
        {"run": runs[second], "step": "ok", "approved": True, "approver": "oncall"},
    )
    status, started = daemons[str(owners[second])].request(
        f"/api/v1/workflows/{second}/run", method="POST", body=b"{}"
    )
    assert status == 202, started
    doomed, other = started["run"], daemons[str(owners[first])]  # `other`: not its runner
    harness.eventually(
        lambda: other.get(f"/api/v1/runs/{doomed}")["waiting"] == ["ok"], what="a third run"
    )
    cancelled = harness.cli(tmp_path, "workflow", "cancel", doomed, "--url", other.url)
    assert (cancelled.returncode, cancelled.stderr) == (0, "")
    assert cancelled.stdout == (
        f"cancel of run {doomed} forwarded to replica {owners[second]}, which runs it:"
        " done on its next heartbeat\n"
    )
    expected = {runs[first]: "succeeded", runs[second]: "succeeded", doomed: "cancelled"}

    def all_done() -> None:
        for daemon in daemons.values():
            assert daemon.get("/api/v1/approvals")["approvals"] == []
            for run_id, outcome in expected.items():
                run = daemon.get(f"/api/v1/runs/{run_id}")
                assert (run["status"], run["waiting"]) == (outcome, []), run

    harness.eventually(all_done, what="two runs answered and finished, one cancelled")
    assert elsewhere.request(f"/api/v1/runs/{runs[first]}/cancel", method="POST") == (
        409,
        {"error": f"run {runs[first]} has finished (succeeded): it cannot cancel now"},
    )
    done = harness.cli(tmp_path, "workflow", "runs", "--store-url", url, "--format", "json")
    listed_done = {r["id"]: (r["status"], r["waiting"]) for r in json.loads(done.stdout)["runs"]}
    assert listed_done == {run_id: (outcome, []) for run_id, outcome in expected.items()}
