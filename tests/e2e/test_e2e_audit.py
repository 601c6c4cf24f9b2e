"""The audit log of a real daemon: applied and blocked objects and a settings change are
chained; the API and `reconciler audit verify|export` show it; editing, deleting or swapping
entries in the data directory's database (with sqlite3) is found and named, exit 1."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests import gitrepo
from tests.e2e import harness, repos
from tests.e2e.test_e2e_workflows import example_repo

ANCHORS = "refs/reconciler/audit-anchors"
PRUNING = repos.SETTINGS.replace("spec:\n", "spec:\n  prune: true\n")


def audit_cli(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "audit", *args],
        capture_output=True,
        text=True,
        cwd=tmp,
        env=harness.environment(tmp),
        timeout=120,
    )


def _entries(daemon: harness.RunningDaemon) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = daemon.get("/api/v1/audit?limit=1000")["entries"]
    return found


def _types(entries: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["subject"]) for e in entries]


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    """A stopped daemon's data directory and the audit entries its API listed."""
    tmp = tmp_path_factory.mktemp("audit")
    repo, out, state = tmp / "repo", tmp / "out", tmp / "state"
    gitrepo.make_repo(repo, {**repos.settings(), **repos.owner_policy()})
    daemon = harness.start(harness.serve_args(repo, data_dir=state), tmp=tmp)
    try:
        gitrepo.commit(
            repo,
            {
                "resources/good.yaml": repos.file_resource(
                    "good", path=out / "good", content="g\n"
                ),
                "resources/bad.yaml": repos.file_resource(
                    "bad", path=out / "bad", content="b\n", labels={"team": "x"}
                ),
            },
            message="two files, one without an owner",
        )

        def applied_and_blocked() -> None:
            found = _types(_entries(daemon))
            assert ("ResourceApplied", "File//good") in found
            assert ("ResourceBlocked", "File//bad") in found

        harness.eventually(applied_and_blocked, what="applied and blocked audited")
        sha = gitrepo.commit(repo, {"reconciler.yaml": PRUNING}, message="prune")
        harness.eventually(
            lambda: _assert(("SettingsChanged", "settings/repo") in _types(_entries(daemon))),
            what="the settings change audited",
        )
        entries = _entries(daemon)
        verified = daemon.get("/api/v1/audit/verify")
    finally:
        daemon.stop()
    [changed] = [e for e in entries if e["type"] == "SettingsChanged"]
    assert changed["actor"] == "Test Author <author@example.com>"
    assert changed["data"]["revision"] == sha
    assert changed["data"]["changed"] == ["prune"]
    assert changed["data"]["old"] != changed["data"]["new"]
    assert verified["intact"] is True
    assert (verified["count"], verified["head"]) == (len(entries), entries[-1]["hash"])
    return state, entries


def _assert(holds: bool) -> None:
    assert holds


def test_verify_passes_on_the_daemons_history(history: tuple[Path, list[dict[str, Any]]]) -> None:
    state, entries = history
    done = audit_cli(state.parent, "verify", "--data-dir", str(state))
    assert done.returncode == 0, done.stderr
    count = len(entries)
    assert done.stdout == (
        f"audit log intact: {count} entries, head {count} {entries[-1]['hash']}\n"
    )


def test_export_writes_every_entry_as_a_json_line(
    history: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    state, entries = history
    target = tmp_path / "audit.jsonl"
    done = audit_cli(tmp_path, "export", "--data-dir", str(state), "-o", str(target))
    assert done.returncode == 0, done.stderr
    lines = target.read_text("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == entries
    for line in lines:  # the recipe docs/audit.md gives a SIEM, with nothing of ours
        entry = json.loads(line)
        body = {k: v for k, v in entry.items() if k != "hash"}
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert hashlib.sha256(text.encode()).hexdigest() == entry["hash"]
    later = audit_cli(tmp_path, "export", "--data-dir", str(state), "--since", "1")
    assert [json.loads(line) for line in later.stdout.splitlines()] == entries[1:]


def _tamper(state: Path, tmp: Path, sql: str) -> subprocess.CompletedProcess[str]:
    copy = tmp / "state"
    shutil.copytree(state, copy)
    with sqlite3.connect(copy / "reconciler.db") as conn:
        conn.executescript(sql)
    conn.close()
    return audit_cli(tmp, "verify", "--data-dir", str(copy))


def test_an_edited_entry_is_named(
    history: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    state, entries = history
    done = _tamper(
        state,
        tmp_path,
        "UPDATE audit_log SET data = json_set(data, '$.result', 'unchanged') WHERE seq = 2",
    )
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"audit log broken at entry 2 (id {entries[1]['id']}): entry 2 (id {entries[1]['id']})"
        " was edited: its fields do not match its hash",
        f"the 1 entries before it are intact (head {entries[0]['hash']})",
    ]


def test_a_deleted_entry_is_named(
    history: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    state, entries = history
    done = _tamper(state, tmp_path, "DELETE FROM audit_log WHERE seq = 1")
    assert done.returncode == 1
    after = entries[1]["id"]
    assert done.stdout.splitlines()[0] == (
        f"audit log broken at entry 1 (id {after}): entry 1 removed: entry 2 (id {after})"
        " follows entry 0"
    )


def test_swapped_entries_are_named(
    history: tuple[Path, list[dict[str, Any]]], tmp_path: Path
) -> None:
    state, entries = history
    last = len(entries)
    done = _tamper(
        state,
        tmp_path,
        "UPDATE audit_log SET seq = -1 WHERE seq = 1;"
        f"UPDATE audit_log SET seq = 1 WHERE seq = {last};"
        f"UPDATE audit_log SET seq = {last} WHERE seq = -1;",
    )
    assert done.returncode == 1
    moved = entries[-1]["id"]
    assert done.stdout.splitlines()[0] == (
        f"audit log broken at entry 1 (id {moved}): entry 1 (id {moved}) does not follow"
        " entry 0: it links to a different entry"
    )


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("--since", "-1"), "--since must be a position (0 or more), got -1"),
        (
            ("-o", "{tmp}/no/such/dir/out.jsonl"),
            "{tmp}/no/such/dir/out.jsonl: cannot write: no such file or directory",
        ),
    ],
)
def test_export_refuses_what_it_cannot_do(
    history: tuple[Path, list[dict[str, Any]]], tmp_path: Path, args: tuple[str, str], error: str
) -> None:
    state, _ = history
    given = [a.format(tmp=tmp_path) for a in args]
    done = audit_cli(tmp_path, "export", "--data-dir", str(state), *given)
    assert done.returncode == 1
    assert done.stderr == f"error: {error.format(tmp=tmp_path)}\n"
    assert done.stdout == ""


def test_verify_refuses_a_folder_without_a_store(tmp_path: Path) -> None:
    done = audit_cli(tmp_path, "verify", "--data-dir", str(tmp_path / "none"))
    assert done.returncode == 1
    assert done.stderr == (
        f"error: {tmp_path / 'none' / 'reconciler.db'}: no store here"
        " (give the daemon's --data-dir or --store-url)\n"
    )


def test_the_daemon_anchors_its_head_and_verify_holds_the_chain_to_it(tmp_path: Path) -> None:
    repo, out, vault = tmp_path / "repo", tmp_path / "out", tmp_path / "anchors.git"
    vault.mkdir()
    gitrepo.git(vault, "init", "--bare", "-q")
    gitrepo.make_repo(
        repo,
        {
            **repos.settings(),
            "resources/a.yaml": repos.file_resource("a", path=out / "a", content="a\n"),
        },
    )
    config = tmp_path / "daemon.yaml"
    config.write_text(
        json.dumps(
            {
                "dataDir": str(tmp_path / "state"),
                "http": {"port": 0},
                "sources": [{"name": "repo", "path": str(repo), "ref": "main", "interval": "1h"}],
                "audit": {"anchor": {"repository": str(vault), "interval": "1s"}},
            }
        )
    )
    daemon = harness.start(["--config", str(config), "--file-root", str(tmp_path)], tmp=tmp_path)
    try:
        harness.eventually(
            lambda: _assert(
                gitrepo.git(vault, "rev-list", "--count", "refs/reconciler/audit-anchors") == "1"
            ),
            what="the first anchor",
        )
        gitrepo.commit(
            repo, {"resources/b.yaml": repos.file_resource("b", path=out / "b", content="b\n")}
        )
        harness.eventually(
            lambda: _assert(len(_entries(daemon)) == 2), what="the second object audited"
        )
    finally:
        daemon.stop()
    state = tmp_path / "state"
    done = audit_cli(tmp_path, "verify", "--data-dir", str(state), "--anchors", str(vault))
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("audit log intact: 2 entries, head 2 ")
    assert lines[1].startswith("2 anchors hold, newest anchor ")  # the last one at stop
    assert lines[1].endswith(" of entry 2")

    cut = tmp_path / "cut"
    shutil.copytree(state, cut)
    with sqlite3.connect(cut / "reconciler.db") as conn:
        conn.execute("DELETE FROM audit_log WHERE seq = 2")
    conn.close()
    alone = audit_cli(tmp_path, "verify", "--data-dir", str(cut))
    assert alone.returncode == 0  # the chain alone cannot show a cut end
    held = audit_cli(tmp_path, "verify", "--data-dir", str(cut), "--anchors", str(vault))
    assert held.returncode == 1
    assert held.stdout.startswith("audit log does not hold its anchors: anchor ")
    assert held.stdout.endswith(
        " of entry 2: the chain ends at entry 1: entries were cut off its end\n"
    )


@pytest.mark.slow
def test_a_remediation_leaves_its_decision_approval_and_outcome_in_the_chain(
    tmp_path: Path,
) -> None:
    """The example's remediation tour (tests/e2e/test_e2e_remediation.py), audited."""
    repo, data = example_repo(tmp_path), tmp_path / "data"
    args = harness.serve_args(repo, data_dir=data, extra=["--audit-interval", "1s"])
    daemon = harness.start(args, tmp=tmp_path)
    try:
        state = data / "files" / "services" / "web-service.json"
        harness.eventually(lambda: _assert(state.exists()), what="the example service")
        state.write_text(json.dumps({**json.loads(state.read_text()), "replicas": 9}))

        def asked() -> str:
            questions = daemon.get("/api/v1/approvals")["approvals"]
            assert len(questions) == 1, questions
            return str(questions[0]["runId"])

        run_id = harness.eventually(asked, what="the approval question")
        status, _ = daemon.request(
            f"/api/v1/approvals/{run_id}/approve",
            method="POST",
            body=json.dumps({"approved": True, "approver": "oncall"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        assert status == 202
        harness.eventually(
            lambda: _assert("DecisionSettled" in [e["type"] for e in _entries(daemon)]),
            what="the decision settled",
            timeout=60,
        )
        entries = _entries(daemon)
    finally:
        daemon.stop()
    trail = [
        (e["type"], e["actor"], e["data"].get("run"))
        for e in entries
        if e["type"] in ("DecisionTaken", "ApprovalAnswered", "DecisionSettled")
    ]
    assert trail == [
        ("DecisionTaken", "reconciler", None),  # the run starts after the decision
        ("ApprovalAnswered", "oncall", run_id),
        ("DecisionSettled", "reconciler", run_id),
    ]
    done = audit_cli(tmp_path, "verify", "--data-dir", str(data))
    assert done.returncode == 0, done.stdout
