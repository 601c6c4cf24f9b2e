"""Two `reconciler serve` replicas on one real PostgreSQL: a simulation asked of the replica
that does not own the source runs once, on the owner, through the store's run queue; an
optimization run asked of that replica is queued for the owner (202 with its id) and run
there; the scheduled optimization of the source fires once across both."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconciler.reconcile import replicas
from reconciler.runstate import RunKind, RunStatus
from reconciler.store.postgres import PostgresStore
from reconciler.store.retention import RetentionSettings
from tests import gitrepo
from tests.e2e import harness, repos
from tests.e2e.conftest import Launch
from tests.e2e.test_e2e_failover import REPLICAS, _config, _owned_by
from tests.postgres import Server

SETTINGS = """\
apiVersion: reconciler.dev/v1
kind: Settings
metadata:
  name: repo
spec:
  optimization:
    interval: 1h
"""


def test_simulations_and_optimization_runs_asked_of_another_replica_run_once_on_the_owner(
    tmp_path: Path, launch: Launch, postgres: Server
) -> None:
    repo = tmp_path / "repo"
    base = gitrepo.make_repo(repo, {**repos.settings(), "reconciler.yaml": SETTINGS})
    head = gitrepo.commit(repo, {"README.md": "changed\n"})
    database = postgres.database()
    env = {"RECONCILER_STORE_URL": postgres.url(database)}
    names = list(REPLICAS[:2])
    daemons = {
        name: launch(["--config", str(_config(tmp_path, name, interval="1h"))], env=env, name=name)
        for name in names
    }
    owner = replicas.preferred("repo", names)
    other = daemons[next(n for n in names if n != owner)]
    harness.eventually(lambda: _owned_by(other, owner), what=f"{owner} owns repo")
    store = PostgresStore(postgres.url(database), retention=RetentionSettings())
    try:
        body = json.dumps({"source": "repo", "base": base, "head": head}).encode()
        status, asked = other.request("/api/v1/simulations", method="POST", body=body)
        assert status == 202, asked
        sim_id = asked["simulation"]

        def simulated() -> dict[str, Any]:
            found: dict[str, Any] = other.get(f"/api/v1/simulations/{sim_id}")
            assert found["status"] == "succeeded", found
            return found

        harness.eventually(simulated, what="the simulation, run by the owner")
        [sim_run] = store.list_runs(kind=RunKind.SIMULATION)
        assert (sim_run.id, sim_run.status) == (sim_id, RunStatus.SUCCEEDED)

        def scheduled() -> None:  # the start-up schedule: due once, on the owner
            [run] = store.list_runs(kind=RunKind.OPTIMIZATION)
            assert (run.trigger, run.status) == ("schedule", RunStatus.SUCCEEDED), run

        harness.eventually(scheduled, what="one scheduled optimization run")
        body = json.dumps({"source": "repo"}).encode()
        status, queued = other.request("/api/v1/optimizations/run", method="POST", body=body)
        assert status == 202 and queued["queued"] is True, queued

        def ran() -> None:
            found = {r.id: r for r in store.list_runs(kind=RunKind.OPTIMIZATION)}
            assert found[queued["runId"]].status is RunStatus.SUCCEEDED, found
            assert sorted(r.trigger for r in found.values()) == ["api", "schedule"]

        harness.eventually(ran, what="the optimization run asked of the other replica")
        assert store.queued_runs() == []
    finally:
        store.close()
