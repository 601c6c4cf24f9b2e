"""A daemon killed in the middle of an apply leaves the provider program running (it leads
its own session). The restarted daemon must not apply the same object again beside it: it
waits for the orphan (`reconcile.orphanWait`), or kills its group when the wait is over,
and only then re-plans; the orphan is reported as an `OrphanReaped` event."""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path

import pytest

from reconciler.reconcile.recording import RECOVERED
from reconciler.run import orphans
from tests import gitrepo
from tests.e2e import harness, repos
from tests.e2e.conftest import Launch

# Each apply logs its start and end with its pid. The first apply after `hold` is created
# claims it (rename) and waits until `release` exists: the kill lands while it waits.
PROVIDER = """\
import json, os, pathlib, sys, time

STATE = pathlib.Path(__STATE__)
request = json.loads(sys.stdin.read())
target = STATE / "web.json"
log = STATE / "applies.log"
if request["action"] == "observe":
    print(json.dumps({"observed": json.loads(target.read_text()) if target.exists() else None}))
elif request["action"] == "apply":
    with log.open("a") as f:
        f.write(f"start {os.getpid()}\\n")
    try:
        (STATE / "hold").rename(STATE / "held")
        while not (STATE / "release").exists():
            time.sleep(0.02)
    except FileNotFoundError:
        pass
    target.write_text(json.dumps(request["resource"]["spec"]["desired"]))
    with log.open("a") as f:
        f.write(f"end {os.getpid()}\\n")
    print(json.dumps({"ok": True}))
"""


def _start(tmp_path: Path, *, orphan_wait: str, launch: Launch, name: str) -> harness.RunningDaemon:
    config = tmp_path / f"{name}.yaml"
    config.write_text(
        json.dumps(
            {
                "dataDir": str(tmp_path / "data"),
                "http": {"port": 0},
                "sources": [{"name": "repo", "path": str(tmp_path / "repo"), "interval": "1h"}],
                "reconcile": {"orphanWait": orphan_wait},
            }
        )
    )
    return launch(["--config", str(config), "--file-root", str(tmp_path)], name=name)


def _log(state: Path) -> list[tuple[str, int]]:
    lines = (
        (state / "applies.log").read_text().split("\n") if (state / "applies.log").exists() else []
    )
    return [(word, int(pid)) for word, pid in (line.split() for line in lines if line)]


def _killed_mid_apply(tmp_path: Path, launch: Launch) -> tuple[Path, int]:
    """A daemon applies `web` and is killed -9 while its provider program waits."""
    state = tmp_path / "state"
    state.mkdir()
    (state / "hold").touch()
    program = PROVIDER.replace("__STATE__", json.dumps(str(state)))
    gitrepo.make_repo(
        tmp_path / "repo",
        {
            **repos.settings(),
            "providers/web.py": program,
            "resources/web.yaml": repos.exec_resource(
                "web", program="providers/web.py", desired={"version": 1}, timeout="120s"
            ),
        },
    )
    first = _start(tmp_path, orphan_wait="60s", launch=launch, name="first")
    harness.eventually(lambda: _assert((state / "held").exists()), what="the apply waits")
    [(_, orphan)] = _log(state)
    first.signal(signal.SIGKILL)
    assert first.wait() == -signal.SIGKILL
    assert orphans.alive(orphan), "the provider program outlives the daemon (its own session)"
    return state, orphan


def _assert(holds: bool) -> None:
    assert holds


def _reaped(daemon: harness.RunningDaemon) -> dict[str, object]:
    [event] = harness.events(daemon, type_="OrphanReaped")
    return event


def test_a_restart_waits_for_the_killed_daemons_apply_and_does_not_apply_again(
    tmp_path: Path, launch: Launch
) -> None:
    state, orphan = _killed_mid_apply(tmp_path, launch)
    second = _start(tmp_path, orphan_wait="60s", launch=launch, name="second")
    (state / "release").touch()  # the orphan finishes its work within the wait
    harness.eventually(
        lambda: _assert(harness.ready(second.resource("ExecResource//web")) == "True"),
        what="web ready after the restart",
    )
    event = _reaped(second)
    assert (event["objectKey"], event["data"]["killed"]) == ("ExecResource//web", False)
    assert event["data"]["owner"] == "object:repo/ExecResource//web"
    # One apply, started by the killed daemon and finished on its own; the restart found
    # the object in sync and applied nothing beside or after it.
    assert _log(state) == [("start", orphan), ("end", orphan)]
    # That apply is not lost from the record: the killed pass left its intent, so the
    # restart records it as applied (history, event, audit entry), once.
    [applied] = harness.events(second, type_="ResourceApplied")
    assert (applied["objectKey"], applied["message"]) == ("ExecResource//web", RECOVERED)
    history = second.resource("ExecResource//web")["history"]
    assert [h["outcome"] for h in history] == ["applied"]
    with sqlite3.connect(tmp_path / "data" / "reconciler.db") as db:
        assert db.execute("SELECT count(*) FROM apply_intents").fetchone() == (0,)
    entries = second.get("/api/v1/audit?limit=100")["entries"]
    assert [e["subject"] for e in entries if e["type"] == "ResourceApplied"] == [
        "ExecResource//web"
    ]


def test_an_orphan_past_the_wait_is_killed_before_the_object_is_applied_again(
    tmp_path: Path, launch: Launch
) -> None:
    state, orphan = _killed_mid_apply(tmp_path, launch)
    second = _start(tmp_path, orphan_wait="0s", launch=launch, name="second")
    harness.eventually(
        lambda: _assert(harness.ready(second.resource("ExecResource//web")) == "True"),
        what="web ready after the restart",
    )
    event = _reaped(second)
    assert (event["objectKey"], event["data"]["killed"]) == ("ExecResource//web", True)
    [first, *rest] = _log(state)
    assert first == ("start", orphan)
    # The orphan never finished; it was gone before the restarted daemon's apply began.
    assert ("end", orphan) not in rest
    assert [word for word, _ in rest] == ["start", "end"]
    assert not orphans.alive(orphan)
    assert not (state / "release").exists()


@pytest.fixture(autouse=True)
def _no_leftovers(tmp_path: Path) -> object:
    """Whatever a test leaves waiting is released, so no program outlives it."""
    yield None
    state = tmp_path / "state"
    if state.exists():
        (state / "release").touch()
