"""Three replicas on one real PostgreSQL: the owner of a source is killed with -9 in the
middle of a pass; another replica takes the source over once the lease has expired (never
before), finishes the work, and the database shows nothing lost or duplicated — every gate
decision of each (object, revision) logged once, one `ResourceApplied` audit entry per
object and revision with the audit chain intact, every run listed once, the killed pass
closed as cancelled and none left running. The owner killed in the middle of a workflow
run: the source's next owner reaps the step's orphaned process group on its host, claims
the run once the dead replica's lease has expired, and resumes it — the finished step not
repeated, the interrupted one (not idempotent) not re-run until a human approves it, the
approval given on a replica that does not run it reaching the one that does — and the
database holds each step attempt, approval and audit entry once."""

from __future__ import annotations

import json
import signal
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from reconciler.reconcile import replicas
from reconciler.reconcile.ownership import INTERRUPTED
from reconciler.runstate import RunKind, RunStatus
from reconciler.store.postgres import PostgresStore
from reconciler.store.retention import RetentionSettings
from tests import gitrepo
from tests.e2e import harness, repos
from tests.e2e.conftest import Launch
from tests.postgres import Server

SERVICES = [f"svc-{n}" for n in range(1, 7)]
REPLICAS = ("r1", "r2", "r3")
TTL = timedelta(seconds=3)


def _services(files: dict[str, str], *, version: int) -> dict[str, str]:
    for name in SERVICES:
        files[f"resources/{name}.yaml"] = repos.exec_resource(
            name, program="providers/service.py", desired={"version": version}
        )
    return files


def _config(
    tmp_path: Path, replica: str, *, interval: str = "1s", extra: dict[str, Any] | None = None
) -> Path:
    config = tmp_path / f"{replica}.json"
    settings = {
        "dataDir": str(tmp_path / f"state-{replica}"),
        "http": {"port": 0},
        "store": {"urlEnv": "RECONCILER_STORE_URL"},
        "replica": {"name": replica, "leaseTtl": f"{TTL.seconds}s"},
        "sources": [{"name": "repo", "path": str(tmp_path / "repo"), "interval": interval}],
        **(extra or {}),
    }
    config.write_text(json.dumps(settings))
    return config


def _live(state: Path, *, version: int) -> list[str]:
    found = []
    for name in SERVICES:
        path = state / "services" / f"{name}.json"
        if path.exists() and json.loads(path.read_text()) == {"version": version}:
            found.append(name)
    return found


def _all_ready(daemon: harness.RunningDaemon, sha: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = daemon.get("/api/v1/resources")["resources"]
    assert [r["key"] for r in found] == [f"ExecResource//{name}" for name in SERVICES]
    assert all(harness.ready(r) == "True" and r["lastAppliedRevision"] == sha for r in found), [
        (r["key"], r["lastAppliedRevision"][:7], harness.ready(r), sha[:7]) for r in found
    ]
    return found


def _owned_by(daemon: harness.RunningDaemon, owner: str) -> None:
    assert daemon.get("/readyz")["owners"].get("repo") == owner


def _live_replicas(daemon: harness.RunningDaemon, names: list[str]) -> None:
    assert [r["name"] for r in daemon.get("/readyz")["replicas"] if r["live"]] == names


def test_the_owner_killed_mid_pass_is_taken_over_with_nothing_lost_or_duplicated(
    tmp_path: Path, launch: Launch, postgres: Server
) -> None:
    repo, state = tmp_path / "repo", tmp_path / "services"
    state.mkdir()
    files = {**repos.settings(), **repos.service_provider(state), **repos.audit_policy()}
    v1 = gitrepo.make_repo(repo, _services(files, version=1))
    database = postgres.database()
    env = {"RECONCILER_STORE_URL": postgres.url(database)}
    daemons = {
        name: launch(["--config", str(_config(tmp_path, name))], env=env, name=name)
        for name in REPLICAS
    }
    first = daemons["r1"]
    harness.eventually(lambda: _all_ready(first, v1), what="version 1 applied")
    harness.eventually(lambda: _live_replicas(first, list(REPLICAS)), what="three live replicas")
    owner = replicas.preferred("repo", REPLICAS)
    harness.eventually(lambda: _owned_by(first, owner), timeout=60, what=f"{owner} owns repo")
    store = PostgresStore(postgres.url(database), retention=RetentionSettings())
    try:
        (state / "slow").touch()  # every apply now takes a while, so the kill lands mid-pass
        v2 = gitrepo.commit(repo, _services({}, version=2))

        def mid_pass() -> None:
            assert len(_live(state, version=2)) >= 2
            [running] = store.list_runs(kind=RunKind.RECONCILE, status=RunStatus.RUNNING)
            assert running.revision == v2

        harness.eventually(mid_pass, what="the owner's pass at v2 half done")
        [killed_lease] = store.holders(prefix="source:repo")
        daemons[owner].signal(signal.SIGKILL)
        assert daemons[owner].wait() == -signal.SIGKILL
        assert len(_live(state, version=2)) < len(SERVICES), "the kill must land mid-pass"
        (state / "slow").unlink()

        survivor = daemons[next(n for n in REPLICAS if n != owner)]
        harness.eventually(lambda: _all_ready(survivor, v2), what="converged on another replica")
        assert _live(state, version=2) == SERVICES
        [taken] = store.holders(prefix="source:repo")
        assert taken.holder != owner and taken.token > killed_lease.token
        if killed_lease.holder == owner:  # (on a loaded machine it may have lapsed already)
            assert taken.acquired_at >= killed_lease.expires_at  # never taken before expiry
        ready = survivor.get("/readyz")
        assert ready["owners"] == {"repo": taken.holder}
        assert [r["live"] for r in ready["replicas"] if r["name"] == owner] == [False]
        for name in REPLICAS:  # a clean stop finishes the passes in flight
            if name != owner:
                daemons[name].signal(signal.SIGTERM)
                assert daemons[name].wait() == 0
        _nothing_lost_or_duplicated(store, v1=v1, v2=v2)
    finally:
        store.close()


def test_a_sync_asked_of_a_replica_that_does_not_own_the_source_reaches_its_owner(
    tmp_path: Path, launch: Launch, postgres: Server
) -> None:
    gitrepo.make_repo(tmp_path / "repo", {**repos.settings()})
    env = {"RECONCILER_STORE_URL": postgres.url(postgres.database())}
    daemons = {
        name: launch(["--config", str(_config(tmp_path, name, interval="1h"))], env=env, name=name)
        for name in REPLICAS[:2]
    }
    owner = replicas.preferred("repo", REPLICAS[:2])
    other = daemons[next(n for n in REPLICAS[:2] if n != owner)]
    harness.eventually(lambda: _owned_by(other, owner), what=f"{owner} owns repo")

    def passes(trigger: str) -> list[dict[str, Any]]:
        runs = other.get("/api/v1/runs?limit=1000")["runs"]
        return [r for r in runs if r["kind"] == "reconcile" and trigger in r["trigger"].split(",")]

    assert passes("api") == []
    assert other.post("/api/v1/sources/repo/sync") == {"action": "sync", "source": "repo"}

    def done() -> None:
        asked = passes("api")
        assert [r["status"] for r in asked] == ["succeeded"]

    harness.eventually(done, what="the owner's pass, asked through the other replica")


def _nothing_lost_or_duplicated(store: PostgresStore, *, v1: str, v2: str) -> None:
    gates = Counter(
        (d.resource.name, d.revision)
        for d in store.decisions(policy="e2e.audit", limit=10_000)
        if d.outcome.value == "warn"
    )
    assert set(gates) == {(name, sha) for name in SERVICES for sha in (v1, v2)}, gates
    assert set(gates.values()) == {1}, gates

    entries = store.audit_entries(limit=100_000)
    applied = Counter(
        (e.subject, e.data.get("revision")) for e in entries if e.type == "ResourceApplied"
    )
    expected = {(f"ExecResource//{name}", sha) for name in SERVICES for sha in (v1, v2)}
    assert set(applied) == expected and set(applied.values()) == {1}, applied
    assert store.verify_audit().intact

    runs = store.list_runs(limit=10_000)
    assert len({r.id for r in runs}) == len(runs)
    assert not [r for r in runs if r.status.value == "running"]
    cancelled = [r for r in runs if r.status.value == "cancelled"]
    assert [(r.revision, r.error) for r in cancelled] == [(v2, INTERRUPTED)]


ORPHAN_WAIT = timedelta(seconds=1)


def _rollout(log: Path, go: Path) -> str:
    """`prepare`, then `migrate` (not idempotent: it waits for `go`), then `finish`; each
    leaves a line in `log` when it starts."""

    def step(name: str, script: str, **extra: Any) -> dict[str, Any]:
        return {"name": name, "command": ["sh", "-c", f"echo {name} >> {log}; {script}"], **extra}

    wait = f'while [ ! -e "{go}" ]; do sleep 0.05; done'
    spec = {
        "triggers": [{"manual": {}}],
        "steps": [
            step("prepare", "true"),
            step("migrate", wait, dependsOn=["prepare"]),
            step("finish", "true", dependsOn=["migrate"]),
        ],
    }
    return json.dumps(
        {
            "apiVersion": "reconciler.dev/v1",
            "kind": "Workflow",
            "metadata": {"name": "rollout"},
            "spec": spec,
        }
    )


def _lines(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def test_the_owner_killed_mid_workflow_run_is_resumed_elsewhere_without_rerunning_a_step(
    tmp_path: Path, launch: Launch, postgres: Server
) -> None:
    log, go = tmp_path / "steps.log", tmp_path / "go"
    v1 = gitrepo.make_repo(
        tmp_path / "repo", {**repos.settings(), "workflows/rollout.yaml": _rollout(log, go)}
    )
    database = postgres.database()
    env = {"RECONCILER_STORE_URL": postgres.url(database)}
    wait = {"reconcile": {"orphanWait": f"{ORPHAN_WAIT.seconds}s"}}
    daemons = {
        name: launch(["--config", str(_config(tmp_path, name, extra=wait))], env=env, name=name)
        for name in REPLICAS
    }
    owner = replicas.preferred("repo", REPLICAS)
    harness.eventually(lambda: _owned_by(daemons[owner], owner), timeout=60, what="the owner")

    def rollout_known() -> None:
        assert [w["name"] for w in daemons[owner].get("/api/v1/workflows")["workflows"]] == [
            "rollout"
        ]

    harness.eventually(rollout_known, what="the owner's catalog")
    store = PostgresStore(postgres.url(database), retention=RetentionSettings())
    try:
        status, started = daemons[owner].request(
            "/api/v1/workflows/rollout/run", method="POST", body=b"{}"
        )
        assert status == 202, started
        run_id = started["run"]

        def migrating() -> None:
            assert _lines(log) == ["prepare", "migrate"]
            [child] = [c for c in store.children() if c.owner.startswith(f"run:{run_id}/")]
            assert (child.replica, child.owner) == (owner, f"run:{run_id}/migrate")

        harness.eventually(migrating, what="the migrate step running on the owner")
        [queued] = store.queued_runs()
        assert (queued.run_id, queued.target, queued.claimed_by) == (run_id, "repo", owner)
        [killed_lease] = store.holders(prefix=f"replica:{owner}")
        daemons[owner].signal(signal.SIGKILL)
        assert daemons[owner].wait() == -signal.SIGKILL
        [orphan] = store.children()  # the step's process group outlives its daemon

        heir_name = replicas.preferred("repo", [n for n in REPLICAS if n != owner])
        assert heir_name is not None
        heir = daemons[heir_name]

        def asked() -> dict[str, Any]:
            items = heir.get("/api/v1/approvals")["approvals"]
            assert len(items) == 1 and items[0]["resume"], items  # its gate record written
            return dict(items[0])

        question = harness.eventually(asked, what="the question about migrate")
        assert (question["runId"], question["step"], question["resume"]) == (
            run_id,
            "migrate",
            True,
        )
        assert store.children() == []  # reaped by the heir, on this host, before resuming
        reaped = [e for e in store.events(limit=1000) if e.type == "OrphanReaped"]
        assert [(e.data["pgid"], e.data["owner"], e.data["killed"]) for e in reaped] == [
            (orphan.pgid, f"run:{run_id}/migrate", True)
        ]
        [requeued] = store.queued_runs()
        assert (requeued.claimed_by, requeued.claimed_at is not None) == (heir_name, True)
        run = store.get_run(run_id)
        assert run is not None and run.status is RunStatus.WAITING
        [interrupted] = [s for s in run.steps if s.status.value == "interrupted"]
        assert (interrupted.name, interrupted.attempt) == ("migrate", 1)
        # Resumed within the lease time plus the orphan wait and one heartbeat and pass,
        # and never before the dead replica's lease expired.
        assert interrupted.finished_at is not None
        assert requeued.claimed_at is not None
        assert requeued.claimed_at >= killed_lease.expires_at
        bound = TTL + ORPHAN_WAIT + TTL / 3 + timedelta(seconds=1)
        assert interrupted.finished_at - killed_lease.expires_at <= bound
        harness.holds(lambda: _no_rerun(log), for_seconds=1.5)  # the gate holds the step

        go.touch()
        # Answered on the third replica, which does not run it: forwarded to the heir.
        third = daemons[next(n for n in REPLICAS if n not in (owner, heir_name))]
        body = {"approved": True, "approver": "oncall", "comment": "migration checked"}
        status, answer = third.request(
            f"/api/v1/approvals/{run_id}/migrate", method="POST", body=json.dumps(body).encode()
        )
        assert (status, answer) == (
            202,
            {
                "run": run_id,
                "step": "migrate",
                "approved": True,
                "approver": "oncall",
                "forwardedTo": heir_name,
            },
        )

        def finished() -> None:
            done = store.get_run(run_id)
            assert done is not None and done.status is RunStatus.SUCCEEDED, done

        harness.eventually(finished, what="the resumed run to finish")
        assert _lines(log) == ["prepare", "migrate", "migrate", "finish"]
        assert store.queued_runs() == []
        for name in REPLICAS:
            if name != owner:
                daemons[name].signal(signal.SIGTERM)
                assert daemons[name].wait() == 0
        _run_once(store, run_id=run_id, revision=v1)
    finally:
        store.close()


def _no_rerun(log: Path) -> None:
    assert _lines(log) == ["prepare", "migrate"]


def _run_once(store: PostgresStore, *, run_id: str, revision: str) -> None:
    """Every step attempt, approval event and audit entry of the run is there once."""
    runs = [r for r in store.list_runs(kind=RunKind.WORKFLOW, limit=1000)]
    assert [(r.id, r.revision) for r in runs] == [(run_id, revision)]
    [run] = runs
    attempts = Counter((s.name, s.attempt, s.status.value) for s in run.steps)
    assert set(attempts.values()) == {1}, attempts
    steps = sorted(k for k in attempts if not k[0].startswith("#"))
    assert steps == [
        ("finish", 1, "succeeded"),
        ("migrate", 1, "interrupted"),
        ("migrate", 2, "succeeded"),
        ("prepare", 1, "succeeded"),
    ], steps
    events = Counter(e.type for e in store.events(limit=10_000) if e.object_key == f"run/{run_id}")
    assert (events["ApprovalRequested"], events["ApprovalAnswered"]) == (1, 1), events
    answered = [e for e in store.audit_entries(limit=100_000) if e.type == "ApprovalAnswered"]
    assert [(e.subject, e.actor) for e in answered] == [(f"run/{run_id}", "oncall")]
    assert store.verify_audit().intact
