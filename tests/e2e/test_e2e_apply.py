"""A commit reaches the disk: status, metrics, the `sync`/`status` verbs, suspend and resume."""

from __future__ import annotations

import json
from pathlib import Path

from tests import gitrepo
from tests.e2e import harness, repos
from tests.e2e.conftest import Launch


def _repo(tmp_path: Path) -> tuple[Path, Path, str]:
    repo, out = tmp_path / "repo", tmp_path / "out"
    sha = gitrepo.make_repo(
        repo,
        {
            **repos.settings(),
            "resources/motd.yaml": repos.file_resource("motd", path=out / "motd", content="hi\n"),
        },
    )
    return repo, out, sha


def _applied(daemon: harness.RunningDaemon, key: str, sha: str) -> dict[str, object]:
    item = daemon.resource(key)
    assert item is not None
    assert harness.ready(item) == "True", item["conditions"]
    assert item["lastAppliedRevision"] == sha
    return item


def test_a_new_commit_is_applied_with_status_and_metrics(tmp_path: Path, launch: Launch) -> None:
    repo, out, first = _repo(tmp_path)
    daemon = launch(harness.serve_args(repo, data_dir=tmp_path / "state"))
    harness.eventually(lambda: _applied(daemon, "File//motd", first), what="first revision")

    second = gitrepo.commit(
        repo,
        {
            "resources/banner.yaml": repos.file_resource(
                "banner", path=out / "banner", content="b\n"
            )
        },
        message="add banner",
    )
    item = harness.eventually(lambda: _applied(daemon, "File//banner", second), what="banner")
    assert (out / "banner").read_text() == "b\n"
    assert item["lastAttemptedRevision"] == second
    assert harness.condition(item, "Ready") == {
        "type": "Ready",
        "status": "True",
        "reason": "Succeeded",
        "message": f"applied revision {second}",
        "observedRevision": second,
        "lastTransitionTime": item["conditions"][0]["lastTransitionTime"],
    }
    source = daemon.source("repo")
    assert (source["revision"], source["rejectedRevision"]) == (second, None)

    def metric() -> None:
        text = daemon.text("/metrics")
        assert f'revision="{second}"' in text
        line = next(
            x for x in text.splitlines() if x.startswith("reconciler_last_applied_revision_info")
        )
        assert 'source="repo"' in line and f'revision="{second}"' in line and line.endswith(" 1.0")

    harness.eventually(metric, what="revision info metric")


def test_sync_and_status_verbs_against_the_running_daemon(tmp_path: Path, launch: Launch) -> None:
    repo, _, sha = _repo(tmp_path)
    daemon = launch(harness.serve_args(repo, data_dir=tmp_path / "state"))
    harness.eventually(lambda: _applied(daemon, "File//motd", sha), what="applied")

    done = harness.cli(tmp_path, "sync", "--url", daemon.url)
    assert (done.returncode, done.stdout, done.stderr) == (0, "sync requested: repo\n", "")
    done = harness.cli(tmp_path, "sync", "--url", daemon.url, "--source", "nope")
    assert done.returncode == 1
    assert done.stderr == (
        'error: POST /api/v1/sources/nope/sync: HTTP 404: no source named "nope" (known: repo)\n'
    )
    harness.eventually(lambda: _assert_trigger(daemon, "cli"), what="the sync verb's reconcile")

    done = harness.cli(tmp_path, "status", "--url", daemon.url)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["SOURCE", "READY", "REVISION", "LAST", "SYNC", "MESSAGE"]
    assert lines[1].split()[:3] == ["repo", "True", sha[:12]]
    resource_rows = [line.split() for line in lines if line.startswith("File//")]
    assert [row[:3] for row in resource_rows] == [["File//motd", "True", sha[:12]]]

    done = harness.cli(tmp_path, "status", "--url", daemon.url, "--format", "json")
    answer = json.loads(done.stdout)
    assert [s["name"] for s in answer["sources"]] == ["repo"]
    assert [r["key"] for r in answer["resources"]] == ["File//motd"]

    done = harness.cli(tmp_path, "status", "--url", "http://127.0.0.1:9")
    assert done.returncode == 1
    assert done.stderr.startswith("error: cannot reach the daemon at http://127.0.0.1:9: ")


def _assert_trigger(daemon: harness.RunningDaemon, trigger: str) -> None:
    runs = daemon.get("/api/v1/runs")["runs"]
    assert any(r["trigger"] == trigger and r["status"] == "succeeded" for r in runs), runs


def test_suspend_holds_back_new_commits_until_resumed(tmp_path: Path, launch: Launch) -> None:
    repo, out, first = _repo(tmp_path)
    daemon = launch(harness.serve_args(repo, data_dir=tmp_path / "state"))
    harness.eventually(lambda: _applied(daemon, "File//motd", first), what="applied")

    assert daemon.post("/api/v1/sources/repo/suspend") == {"source": "repo", "action": "suspend"}
    suspended = harness.eventually(
        lambda: _suspended(daemon), what="the source shows it is suspended"
    )
    second = gitrepo.commit(
        repo,
        {
            "resources/banner.yaml": repos.file_resource(
                "banner", path=out / "banner", content="b\n"
            )
        },
    )
    daemon.post("/api/v1/sources/repo/sync")

    def unchanged() -> None:
        source = daemon.source("repo")
        assert (source["revision"], source["lastSyncAt"]) == (first, suspended["lastSyncAt"])
        assert not (out / "banner").exists()

    harness.holds(unchanged, for_seconds=2.5)  # two intervals, a git watch and a sync

    assert daemon.post("/api/v1/sources/repo/resume")["action"] == "resume"
    harness.eventually(lambda: _applied(daemon, "File//banner", second), what="resumed")
    source = daemon.source("repo")
    assert source["suspended"] is False
    assert harness.ready(source) == "True"


def _suspended(daemon: harness.RunningDaemon) -> dict[str, object]:
    source = daemon.source("repo")
    assert source["suspended"] is True and source["reconciling"] is False
    ready = harness.condition(source, "Ready")
    assert ready is not None
    assert (ready["status"], ready["reason"]) == ("False", "Suspended")
    return source
