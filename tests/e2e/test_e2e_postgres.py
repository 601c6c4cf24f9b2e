"""The daemon on PostgreSQL: `store.url` (or `store.urlEnv`) points it at a database of a
real server (`tests/postgres.py`); it converges, its state lands in that database and not in
a SQLite file, and a restarted daemon carries on from what the database holds."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from tests import gitrepo
from tests.e2e import harness, repos
from tests.e2e.conftest import Launch
from tests.postgres import Server


def _config(tmp_path: Path, store: dict[str, str]) -> Path:
    config = tmp_path / "daemon.json"
    config.write_text(
        json.dumps(
            {
                "dataDir": str(tmp_path / "state"),
                "http": {"port": 0},
                "sources": [{"name": "repo", "path": str(tmp_path / "repo"), "interval": "1s"}],
                "store": store,
            }
        )
    )
    return config


def test_the_daemon_keeps_its_state_in_postgresql_across_a_restart(
    tmp_path: Path, launch: Launch, postgres: Server
) -> None:
    out = tmp_path / "out"
    files = {
        **repos.settings(),
        "resources/motd.yaml": repos.file_resource("motd", path=out / "motd", content="hi\n"),
    }
    gitrepo.make_repo(tmp_path / "repo", files)
    database = postgres.database()
    config = _config(tmp_path, {"urlEnv": "RECONCILER_STORE_URL"})
    env = {"RECONCILER_STORE_URL": postgres.url(database)}
    args = ["--config", str(config), "--file-root", str(tmp_path)]
    first = launch(args, env=env, name="first")

    def applied(daemon: harness.RunningDaemon) -> dict[str, object]:
        item = daemon.resource("File//motd")
        assert harness.ready(item) == "True"
        assert item is not None
        return item

    before = harness.eventually(lambda: applied(first), what="motd applied")
    assert (out / "motd").read_text() == "hi\n"
    first.signal(signal.SIGTERM)
    assert first.wait() == 0
    assert not (tmp_path / "state" / "reconciler.db").exists()
    with postgres.connect(database) as conn:
        (statuses,) = conn.execute("SELECT count(*) FROM object_status").fetchone() or (0,)
        runs = conn.execute("SELECT count(*) FROM runs WHERE kind = 'reconcile'").fetchone()
    assert statuses == 1 and runs is not None and runs[0] >= 1

    second = launch(args, env=env, name="second")
    after = harness.eventually(lambda: applied(second), what="motd ready after the restart")
    assert after["history"][: len(before["history"])] == before["history"]  # type: ignore[index]
    listed = second.get("/api/v1/runs?limit=1000")["runs"]
    assert len(listed) >= runs[0]


def test_a_store_url_that_is_not_postgresql_is_refused(tmp_path: Path) -> None:
    gitrepo.make_repo(tmp_path / "repo", repos.settings())
    config = _config(tmp_path, {"url": "mysql://db/reconciler"})
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "serve", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env=harness.environment(tmp_path),
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert "store.url: only postgresql:// URLs are supported" in done.stderr
