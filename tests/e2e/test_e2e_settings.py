"""Settings: the repository's `reconciler.yaml` is honoured per revision, and a flag or the
daemon's settings file wins over it; the API shows each effective value with its origin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests import gitrepo
from tests.e2e import harness, repos
from tests.e2e.conftest import Launch


def settings_yaml(spec: dict[str, Any]) -> str:
    full = {"providers": {"File": "file", "ExecResource": "exec"}, **spec}
    return (
        "apiVersion: reconciler.dev/v1\nkind: Settings\nmetadata: {name: e2e}\n"
        f"spec: {json.dumps(full)}\n"
    )


def _args(repo: Path, tmp: Path, *extra: str) -> list[str]:
    return [
        str(repo),
        "--port",
        "0",
        "--data-dir",
        str(tmp / "state"),
        "--file-root",
        str(tmp),
        *extra,
    ]


def _interval_passes(daemon: harness.RunningDaemon) -> int:
    runs = daemon.get("/api/v1/runs?kind=reconcile&limit=1000")["runs"]
    return sum(1 for r in runs if "interval" in (r["trigger"] or "").split(","))


def _settings(daemon: harness.RunningDaemon) -> dict[str, Any]:
    found: dict[str, Any] = daemon.source("repo")["settings"]
    return found


def test_the_repositorys_interval_is_followed_and_changes_with_a_new_revision(
    tmp_path: Path, launch: Launch
) -> None:
    repo = tmp_path / "repo"
    gitrepo.make_repo(repo, {"reconciler.yaml": settings_yaml({"interval": "1s"})})
    daemon = launch(_args(repo, tmp_path))
    harness.eventually(
        lambda: _assert_equal(
            _settings(daemon),
            {
                "interval": {"value": "1s", "origin": "repository"},
                "auditInterval": {"value": "10m", "origin": "default"},
                "selfHeal": {"value": True, "origin": "default"},
            },
        ),
        what="the repository's interval in force",
    )
    harness.eventually(
        lambda: _assert_equal(_interval_passes(daemon) >= 2, True), what="interval passes"
    )

    gitrepo.commit(repo, {"reconciler.yaml": settings_yaml({"interval": "1h"})}, message="slower")
    harness.eventually(
        lambda: _assert_equal(
            _settings(daemon)["interval"], {"value": "1h", "origin": "repository"}
        ),
        what="the new revision's interval",
    )
    harness.eventually(lambda: _settled(daemon), what="passes settle after the change")
    before = _interval_passes(daemon)
    harness.holds(lambda: _assert_equal(_interval_passes(daemon), before), for_seconds=3)
    assert "source repo: interval 1h (repository)" in daemon.log()


def _settled(daemon: harness.RunningDaemon) -> None:
    """No reconcile is running and none has started for a second (a tick queued before the
    reschedule has run)."""
    first = _interval_passes(daemon)
    harness.holds(lambda: _assert_equal(_interval_passes(daemon), first), for_seconds=1.5)


def test_a_flag_and_the_settings_file_win_over_the_repository(
    tmp_path: Path, launch: Launch
) -> None:
    repo = tmp_path / "repo"
    gitrepo.make_repo(
        repo,
        {
            "reconciler.yaml": settings_yaml(
                {"interval": "1s", "auditInterval": "1s", "selfHeal": True}
            )
        },
    )
    config = tmp_path / "daemon.yaml"
    config.write_text(
        json.dumps(
            {
                "dataDir": str(tmp_path / "state"),
                "http": {"port": 0},
                "sources": [{"name": "repo", "path": str(repo), "ref": "main", "interval": "2h"}],
                "reconcile": {"auditInterval": "3h", "selfHeal": False},
            }
        )
    )
    daemon = launch(
        ["--config", str(config), "--audit-interval", "1h", "--file-root", str(tmp_path)]
    )
    harness.eventually(
        lambda: _assert_equal(daemon.source("repo")["revision"] is not None, True),
        what="the first revision",
    )
    assert _settings(daemon) == {
        "interval": {"value": "2h", "origin": "config"},
        "auditInterval": {"value": "1h", "origin": "flag"},
        "selfHeal": {"value": False, "origin": "config"},
    }


def test_the_repositorys_self_heal_false_only_reports_drift(tmp_path: Path, launch: Launch) -> None:
    repo, target = tmp_path / "repo", tmp_path / "out" / "motd"
    gitrepo.make_repo(
        repo,
        {
            "reconciler.yaml": settings_yaml({"selfHeal": False}),
            "resources/motd.yaml": repos.file_resource("motd", path=target, content="hi\n"),
        },
    )
    daemon = launch(_args(repo, tmp_path, "--interval", "1s"))
    harness.eventually(
        lambda: _assert_equal(harness.ready(daemon.resource("File//motd")), "True"),
        what="first apply",
    )
    assert _settings(daemon)["selfHeal"] == {"value": False, "origin": "repository"}
    assert _settings(daemon)["interval"] == {"value": "1s", "origin": "flag"}
    target.write_text("edited by hand\n")

    def reported() -> None:
        item = daemon.resource("File//motd")
        assert item is not None
        drifted = harness.condition(item, "Drifted")
        assert drifted is not None and drifted["status"] == "True"

    harness.eventually(reported, what="drift reported")
    assert target.read_text() == "edited by hand\n"


def test_the_repositorys_audit_interval_runs_audits(tmp_path: Path, launch: Launch) -> None:
    repo, out = tmp_path / "repo", tmp_path / "out"
    advisory = repos.OWNER_BINDING.replace("enforcement: strict", "enforcement: advisory")
    sha = gitrepo.make_repo(
        repo,
        {
            "reconciler.yaml": settings_yaml({"interval": "1h", "auditInterval": "1s"}),
            "policies/owner.rego": repos.OWNER_POLICY,
            "policies/bindings.yaml": advisory,
            "resources/bad.yaml": repos.file_resource(
                "bad", path=out / "bad", content="b\n", labels={"team": "x"}
            ),
        },
    )
    daemon = launch(_args(repo, tmp_path))

    audits: set[str] = set()

    def audited() -> None:
        [source] = daemon.get("/api/v1/sources")["sources"]
        if source["lastAuditAt"]:
            audits.add(source["lastAuditAt"])
        assert len(audits) >= 3, audits  # passes run hourly: these are the audits

    harness.eventually(audited, what="audits every second")
    decisions = daemon.get("/api/v1/decisions?key=File//bad")["decisions"]
    assert [d["action"] for d in decisions] == ["warned"]  # audits log changes, not repeats
    assert _settings(daemon)["auditInterval"] == {"value": "1s", "origin": "repository"}
    line = (
        f"policy denial: e2e.owner deny File//bad (repo@{sha[:12]}), warned: "
        "e2e.owner denied File//bad (1 finding); advisory enforcement lets it through "
        "with a warning."
    )
    assert daemon.log().count(line) == 1  # logged when applied, not again by each audit


def _assert_equal(found: Any, expected: Any) -> None:
    assert found == expected
