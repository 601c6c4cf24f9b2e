"""The CLI verbs that read the daemon's store take `--store-url`: `audit verify` and
`audit export`, `workflow analyze` and `optimize list` read a real PostgreSQL database
the daemons share, and a URL that is not PostgreSQL's is refused naming the setting
(`workflow runs` on one: tests/e2e/test_e2e_ha_reads.py)."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.runstate import RunStatus
from reconciler.store.postgres import PostgresStore
from reconciler.store.retention import RetentionSettings
from tests import gitrepo
from tests.e2e import harness
from tests.postgres import Server
from tests.store import store_factories as f

ONE_STEP = json.dumps(
    {
        "apiVersion": "reconciler.dev/v1",
        "kind": "Workflow",
        "metadata": {"name": "one"},
        "spec": {"steps": [{"name": "a", "command": ["true"]}]},
    }
)


def test_audit_reads_the_shared_postgresql_store(tmp_path: Path, postgres: Server) -> None:
    url = postgres.url(postgres.database())
    store = PostgresStore(url, retention=RetentionSettings())
    try:
        for n in range(3):
            store.append_event(f.event("ResourceApplied", seconds=n))
        store.append_event(f.event("ReconcileSucceeded", seconds=4))  # not audited
        head = store.audit_entries()[-1].hash
    finally:
        store.close()
    verified = harness.cli(tmp_path, "audit", "verify", "--store-url", url, "--format", "json")
    assert verified.returncode == 0, verified.stderr
    report = json.loads(verified.stdout)
    assert (report["intact"], report["count"], report["head"]) == (True, 3, head)
    exported = harness.cli(tmp_path, "audit", "export", "--store-url", url)
    assert exported.returncode == 0, exported.stderr
    assert [json.loads(line)["seq"] for line in exported.stdout.splitlines()] == [1, 2, 3]


def test_analyze_and_optimize_list_read_the_shared_postgresql_store(
    tmp_path: Path, postgres: Server
) -> None:
    url = postgres.url(postgres.database())
    store = PostgresStore(url, retention=RetentionSettings())
    try:
        steps = (f.step("a", started_at=f.at(0), finished_at=f.at(30)),)
        store.create_run(f.run("r1", name="one", status=RunStatus.SUCCEEDED, steps=steps))
    finally:
        store.close()
    gitrepo.make_repo(tmp_path / "repo", {"workflows/one.yaml": ONE_STEP})
    analyzed = harness.cli(
        tmp_path, "workflow", "analyze", "one", str(tmp_path / "repo"), "--store-url", url,
        "--format", "json",
    )  # fmt: skip
    assert analyzed.returncode == 0, analyzed.stderr
    report = json.loads(analyzed.stdout)
    assert (report["estimates"], report["recorded"]) == ({"a": 30.0}, ["a"])
    listed = harness.cli(tmp_path, "optimize", "list", "--store-url", url, "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == {"optimizations": [], "flagged": None}


def test_analyze_names_the_shared_store_without_its_password(
    tmp_path: Path, postgres: Server
) -> None:
    url = postgres.url(postgres.database()).replace("postgres@", "postgres:hunter2@", 1)
    gitrepo.make_repo(tmp_path / "repo", {"workflows/one.yaml": ONE_STEP})
    analyzed = harness.cli(
        tmp_path, "workflow", "analyze", "one", str(tmp_path / "repo"), "--store-url", url
    )
    assert analyzed.returncode == 0, analyzed.stderr
    assert "no recorded durations of one in postgresql://postgres:***@/" in analyzed.stdout
    assert "hunter2" not in analyzed.stdout + analyzed.stderr


def test_a_store_url_that_is_not_postgresql_is_refused(tmp_path: Path) -> None:
    done = harness.cli(tmp_path, "audit", "verify", "--store-url", "mysql://db/reconciler")
    assert done.returncode == 1
    assert done.stderr == (
        "error: store.url: only postgresql:// URLs are supported (unset: SQLite in the data dir)\n"
    )
