"""Stopping: SIGTERM during a pass lets the pass finish, exits 0 with a last log line, and the
data directory opens again with everything the pass wrote; a bad start fails clearly."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests import gitrepo
from tests.e2e import harness, repos
from tests.e2e.conftest import Launch

SERVICES = ("alpha", "beta", "gamma")


def _repo(tmp_path: Path) -> tuple[Path, Path, str]:
    repo, state = tmp_path / "repo", tmp_path / "services"
    state.mkdir()
    files = {**repos.settings(), **repos.service_provider(state)}
    for name in SERVICES:
        files[f"resources/{name}.yaml"] = repos.exec_resource(
            name, program="providers/service.py", desired={"name": name}
        )
    return repo, state, gitrepo.make_repo(repo, files)


def _applying(state: Path) -> None:
    assert (state / f"applying-{SERVICES[0]}").exists()


def _settled(daemon: harness.RunningDaemon, sha: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = daemon.get("/api/v1/resources")["resources"]
    assert [r["name"] for r in found] == sorted(SERVICES)
    assert all(r["lastAppliedRevision"] == sha for r in found), found
    return found


def test_sigterm_mid_pass_finishes_the_pass_and_exits_0(tmp_path: Path, launch: Launch) -> None:
    repo, state, sha = _repo(tmp_path)
    (state / "slow").touch()
    data = tmp_path / "state"
    first = launch(harness.serve_args(repo, data_dir=data), name="first")
    harness.eventually(lambda: _applying(state), what="the first apply started")

    first.signal(signal.SIGTERM)
    assert first.wait(timeout=harness.DEADLINE) == 0
    log = first.log()
    assert "SIGTERM received: finishing in-flight reconciles, then stopping" in log
    assert log.splitlines()[-1].endswith(" INFO reconciler: stopped")
    assert "Traceback" not in log and "Error" not in log, log
    assert sorted(p.stem for p in (state / "services").iterdir()) == sorted(SERVICES)

    (state / "slow").unlink()
    second = launch(harness.serve_args(repo, data_dir=data), name="second")
    assert second.request("/readyz")[1]["store"] is True
    found = harness.eventually(lambda: _settled(second, sha), what="reopened")
    runs = second.get("/api/v1/runs")["runs"]
    first_pass = runs[-1]
    assert (first_pass["trigger"], first_pass["status"]) == ("startup", "succeeded")
    assert sorted(s["name"] for s in first_pass["steps"]) == sorted(
        f"ExecResource//{n}" for n in SERVICES
    )
    for item in found:  # applied once, by the pass SIGTERM let finish
        assert [h["outcome"] for h in item["history"]] == ["applied"]

    second.signal(signal.SIGINT)
    assert second.wait(timeout=harness.DEADLINE) == 0
    assert second.log().splitlines()[-1].endswith(" INFO reconciler: stopped")


def _serve(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "serve", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
        cwd=tmp_path,
        env=harness.environment(tmp_path),
    )


def test_a_bad_settings_file_or_a_taken_port_fails_with_exit_1(
    tmp_path: Path, launch: Launch
) -> None:
    config = tmp_path / "daemon.yaml"
    config.write_text(
        "sources:\n  - name: Bad_Name\n    path: /x\n    intervall: 1m\n"
        "    interval: 5 minutes\nhttp: {port: 99999}\n"
    )
    done = _serve("--config", str(config), tmp_path=tmp_path)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.splitlines() == [
        f"error: {config}:2 sources[0].name: must match ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        f"{config}:4 sources[0].intervall: unknown key",
        f'{config}:5 sources[0].interval: must be a duration like "30s"',
        f"{config}:6 http.port: must be <= 65535",
    ]
    done = _serve(str(tmp_path), "--interval", "5 minutes", tmp_path=tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1] == (
        "reconciler serve: error: argument --interval: '5 minutes' must be a duration like \"30s\""
    )

    repo, _, _ = _repo(tmp_path)
    daemon = launch(harness.serve_args(repo, data_dir=tmp_path / "state"))
    port = daemon.url.rsplit(":", 1)[1]
    done = _serve(
        str(repo), "--port", port, "--data-dir", str(tmp_path / "other"), tmp_path=tmp_path
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"error: cannot listen on 127.0.0.1:{port}: address already in use; choose another "
        "port with --port (--port 0 picks a free one)"
    )
    assert not (tmp_path / "other").exists()
