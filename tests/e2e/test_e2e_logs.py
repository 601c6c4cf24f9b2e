"""The daemon's log names every block, rejection, drift correction and denial with the
object, the policy and the revision (text by default, JSON lines with `--log-format json`),
and `reconciler status` exits 1 while something is not Ready."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests import gitrepo
from tests.e2e import harness, repos
from tests.e2e.conftest import Launch

WARN_POLICY = """\
package e2e.review

import rego.v1

warn contains msg if {
	msg := sprintf("%s changes", [input.resource.metadata.name])
}
"""

WARN_BINDING = """\
apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata:
  name: review-files
spec:
  policy: e2e.review
  input: reconciler
  scope:
    kinds: [File]
  enforcement: advisory
"""


def _repo(tmp: Path) -> tuple[Path, Path, str]:
    repo, out = tmp / "repo", tmp / "out"
    sha = gitrepo.make_repo(
        repo,
        {
            **repos.settings(),
            **repos.owner_policy(),
            "policies/review.rego": WARN_POLICY,
            "policies/review.yaml": WARN_BINDING,
            "resources/good.yaml": repos.file_resource("good", path=out / "good", content="g\n"),
            "resources/bad.yaml": repos.file_resource(
                "bad", path=out / "bad", content="b\n", labels={"team": "x"}
            ),
        },
    )
    return repo, out, sha


def _json_lines(daemon: harness.RunningDaemon) -> list[dict[str, Any]]:
    return [json.loads(line) for line in daemon.log().splitlines() if line.startswith("{")]


def _one(daemon: harness.RunningDaemon, **wanted: Any) -> dict[str, Any]:
    found = [
        line for line in _json_lines(daemon) if all(line.get(k) == v for k, v in wanted.items())
    ]
    assert found, f"no log line with {wanted}"
    return found[0]


def test_json_lines_name_the_object_policy_and_revision(tmp_path: Path, launch: Launch) -> None:
    repo, out, sha = _repo(tmp_path)
    daemon = launch(
        harness.serve_args(repo, data_dir=tmp_path / "state", extra=["--log-format", "json"])
    )
    blocked = harness.eventually(
        lambda: _one(daemon, event="ResourceBlocked"), what="the block logged"
    )
    assert {k: v for k, v in blocked.items() if k != "time"} == {
        "level": "warning",
        "logger": "reconciler.eventlog",
        "message": f"blocked by e2e.owner: File//bad (repo@{sha[:12]}): "
        "e2e.owner: File bad has no owner label",
        "event": "ResourceBlocked",
        "source": "repo",
        "object": "File//bad",
        "revision": sha,
        "policy": "e2e.owner",
    }
    denial = _one(daemon, event="PolicyDenial", object="File//good")
    assert {k: v for k, v in denial.items() if k != "time"} == {
        "level": "info",
        "logger": "reconciler.eventlog",
        "message": f"policy denial: e2e.review warn File//good (repo@{sha[:12]}), warned: "
        "e2e.review warned about File//good (1 finding); advisory enforcement lets it through "
        "with a warning.",
        "event": "PolicyDenial",
        "source": "repo",
        "object": "File//good",
        "revision": sha,
        "policy": "e2e.review",
        "binding": "review-files",
        "outcome": "warn",
        "action": "warned",
    }

    (out / "good").write_text("edited by hand\n")
    drift = harness.eventually(
        lambda: _one(daemon, event="DriftCorrected"), what="the drift correction logged"
    )
    assert (drift["level"], drift["object"], drift["revision"], drift["corrected"]) == (
        "info",
        "File//good",
        sha,
        True,
    )
    assert drift["message"] == (
        f"drift corrected: File//good (repo@{sha[:12]}): restored from Git: spec.content"
    )
    found = _one(daemon, event="DriftDetected")
    assert (found["corrected"], found["message"]) == (
        False,
        f"drift detected: File//good (repo@{sha[:12]}): changed outside Git: spec.content",
    )

    broken = gitrepo.commit(repo, {"resources/broken.yaml": "a: [\n"}, message="broken")
    rejected = harness.eventually(
        lambda: _one(daemon, event="RevisionRejected"), what="the rejection logged"
    )
    assert (rejected["level"], rejected["revision"], rejected["object"]) == (
        "warning",
        broken,
        None,
    )
    assert rejected["message"].startswith(f"revision rejected: repo@{broken[:12]}: ")
    assert "resources/broken.yaml:2" in rejected["message"]
    every = _json_lines(daemon)
    assert len(every) == len(daemon.log().splitlines())  # nothing else in the log


def test_text_is_the_default_log_format(tmp_path: Path, launch: Launch) -> None:
    repo, _, sha = _repo(tmp_path)
    daemon = launch(harness.serve_args(repo, data_dir=tmp_path / "state"))
    line = (
        f" WARNING reconciler.eventlog: blocked by e2e.owner: File//bad (repo@{sha[:12]}): "
        "e2e.owner: File bad has no owner label"
    )
    harness.eventually(lambda: _assert_in(line, daemon.log()), what="the block logged")


def test_status_exits_1_while_a_resource_is_blocked(tmp_path: Path, launch: Launch) -> None:
    repo, out, _ = _repo(tmp_path)
    daemon = launch(harness.serve_args(repo, data_dir=tmp_path / "state"))
    harness.eventually(
        lambda: _assert_in("File//bad", str(daemon.get("/api/v1/resources"))), what="blocked"
    )
    for extra in ([], ["--format", "json"]):
        done = harness.cli(tmp_path, "status", "--url", daemon.url, *extra)
        assert (done.returncode, done.stderr) == (1, "")
    table = harness.cli(tmp_path, "status", "--url", daemon.url).stdout.splitlines()
    cells = [[c.strip() for c in line.split("  ") if c.strip()] for line in table[3:5]]
    assert cells == [
        ["SOURCE", "INTERVAL", "AUDIT INTERVAL", "SELF-HEAL"],
        ["repo", "1s (flag)", "10m (default)", "true (default)"],
    ]

    fixed = repos.file_resource("bad", path=out / "bad", content="b\n")  # owner: platform
    gitrepo.commit(repo, {"resources/bad.yaml": fixed}, message="give it an owner")
    harness.eventually(
        lambda: _assert_equal(harness.cli(tmp_path, "status", "--url", daemon.url).returncode, 0),
        what="everything Ready",
    )
    daemon.post("/api/v1/sources/repo/suspend")
    harness.eventually(
        lambda: _assert_equal(daemon.source("repo")["suspended"], True), what="suspended"
    )
    done = harness.cli(tmp_path, "status", "--url", daemon.url)
    assert done.returncode == 0, "a suspended source is deliberately idle, not a failure"
    assert done.stdout.splitlines()[1].split()[:2] == ["repo", "False"]


def _assert_in(needle: str, haystack: str) -> None:
    assert needle in haystack


def _assert_equal(found: Any, expected: Any) -> None:
    assert found == expected
