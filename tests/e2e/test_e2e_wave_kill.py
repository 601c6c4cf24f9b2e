"""A daemon killed -9 between a wave's commit (its gate decisions and apply intents, one
transaction before the first provider call) and the applies that follow: the restarted
daemon applies each pending change once and logs no decision a second time, so every
apply of an (object, revision) has exactly one decision in the log."""

from __future__ import annotations

import json
import signal
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from reconciler.run import orphans
from tests import gitrepo
from tests.e2e import harness, repos
from tests.e2e.conftest import Launch

SERVICES = [f"svc-{n}" for n in range(1, 5)]

# Each apply logs its start and end (pid, service, version). The first apply after `hold`
# is created claims it (rename) and waits until `release` exists: the kill lands while it
# waits, after the wave's commit and before any other apply of the wave.
PROVIDER = """\
import json, os, pathlib, sys, time

STATE = pathlib.Path(__STATE__)
request = json.loads(sys.stdin.read())
name = request["resource"]["metadata"]["name"]
desired = request["resource"]["spec"]["desired"]
target = STATE / (name + ".json")
if request["action"] == "observe":
    print(json.dumps({"observed": json.loads(target.read_text()) if target.exists() else None}))
elif request["action"] == "apply":
    line = f"{os.getpid()} {name} {desired['version']}"
    with (STATE / "applies.log").open("a") as log:
        log.write(f"start {line}\\n")
    try:
        (STATE / "hold").rename(STATE / "held")
        while not (STATE / "release").exists():
            time.sleep(0.02)
    except FileNotFoundError:
        pass
    target.write_text(json.dumps(desired))
    with (STATE / "applies.log").open("a") as log:
        log.write(f"end {line}\\n")
    print(json.dumps({"ok": True}))
"""


def _services(version: int) -> dict[str, str]:
    return {
        f"resources/{name}.yaml": repos.exec_resource(
            name, program="providers/service.py", desired={"version": version}, timeout="120s"
        )
        for name in SERVICES
    }


def _start(tmp_path: Path, *, orphan_wait: str, launch: Launch, name: str) -> harness.RunningDaemon:
    config = tmp_path / f"{name}.json"
    config.write_text(
        json.dumps(
            {
                "dataDir": str(tmp_path / "data"),
                "http": {"port": 0},
                "sources": [{"name": "repo", "path": str(tmp_path / "repo"), "interval": "1s"}],
                "reconcile": {"orphanWait": orphan_wait},
            }
        )
    )
    return launch(["--config", str(config), "--file-root", str(tmp_path)], name=name)


def _journal(state: Path) -> list[tuple[str, int, str, int]]:
    path = state / "applies.log"
    lines = path.read_text().splitlines() if path.exists() else []
    return [(w, int(pid), name, int(v)) for w, pid, name, v in (line.split() for line in lines)]


def _all_applied(daemon: harness.RunningDaemon, sha: str) -> None:
    found = daemon.get("/api/v1/resources")["resources"]
    assert sorted(r["key"] for r in found) == [f"ExecResource//{n}" for n in SERVICES]
    assert all(harness.ready(r) == "True" and r["lastAppliedRevision"] == sha for r in found)


def _warnings(db_path: Path) -> Counter[tuple[str, str]]:
    """The gate decisions logged per (service, revision): the audit policy warns once for
    each gate (its `allow` part is logged beside it)."""
    with sqlite3.connect(db_path) as db:
        rows = db.execute(
            "SELECT name, revision FROM decisions WHERE policy = 'e2e.audit' AND outcome = 'warn'"
        ).fetchall()
    return Counter((name, revision) for name, revision in rows)


def _held(state: Path) -> None:
    assert (state / "held").exists()


def test_a_kill_between_the_waves_commit_and_its_applies_loses_and_repeats_nothing(
    tmp_path: Path, launch: Launch
) -> None:
    state, db = tmp_path / "state", tmp_path / "data" / "reconciler.db"
    state.mkdir()
    program = PROVIDER.replace("__STATE__", json.dumps(str(state)))
    files = {**repos.settings(), "providers/service.py": program, **repos.audit_policy()}
    v1 = gitrepo.make_repo(tmp_path / "repo", {**files, **_services(1)})
    first = _start(tmp_path, orphan_wait="60s", launch=launch, name="first")
    harness.eventually(lambda: _all_applied(first, v1), what="version 1 applied")

    (state / "hold").touch()
    v2 = gitrepo.commit(tmp_path / "repo", _services(2))
    harness.eventually(lambda: _held(state), what="the wave's first apply waits")
    [(_, orphan, held, _)] = [e for e in _journal(state) if e[3] == 2]
    first.signal(signal.SIGKILL)
    assert first.wait() == -signal.SIGKILL

    # The kill landed after the wave's commit: every change of version 2 is decided (one
    # decision, one intent each) and only the held one's provider was called.
    with sqlite3.connect(db) as conn:
        intents = dict(conn.execute("SELECT key, revision FROM apply_intents").fetchall())
    assert intents == {f"ExecResource//{n}": v2 for n in SERVICES}
    assert {n: c for (n, sha), c in _warnings(db).items() if sha == v2} == dict.fromkeys(
        SERVICES, 1
    )
    assert orphans.alive(orphan)

    second = _start(tmp_path, orphan_wait="0s", launch=launch, name="second")
    harness.eventually(lambda: _all_applied(second, v2), what="version 2 applied after restart")
    assert not orphans.alive(orphan)  # reaped before its object was applied again

    # Each pending apply done once, by the restarted daemon; the held one, cut off by the
    # kill, once more and finished once.
    journal = [e for e in _journal(state) if e[3] == 2]
    starts = Counter(name for word, _, name, _ in journal if word == "start")
    ends = Counter(name for word, _, name, _ in journal if word == "end")
    assert ends == Counter(SERVICES)
    assert starts == Counter({**dict.fromkeys(SERVICES, 1), held: 2})
    assert ("end", orphan, held, 2) not in journal

    # Each decision logged once: the restart applied the decided changes under the
    # decisions the killed pass logged, and logged none of them again.
    assert _warnings(db) == Counter({(n, sha): 1 for n in SERVICES for sha in (v1, v2)})
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM apply_intents").fetchone() == (0,)
    # Each applied revision recorded once in every object's history and the audit log.
    for item in second.get("/api/v1/resources")["resources"]:
        applied = [h["revision"] for h in item["history"] if h["outcome"] == "applied"]
        assert applied == [v1, v2], item["history"]
    entries = second.get("/api/v1/audit?limit=1000")["entries"]
    subjects = Counter(e["subject"] for e in entries if e["type"] == "ResourceApplied")
    assert subjects == Counter({f"ExecResource//{n}": 2 for n in SERVICES})
    second.signal(signal.SIGTERM)
    assert second.wait() == 0


@pytest.fixture(autouse=True)
def _no_leftovers(tmp_path: Path) -> object:
    """Whatever a test leaves waiting is released, so no program outlives it."""
    yield None
    state = tmp_path / "state"
    if state.exists():
        (state / "release").touch()
