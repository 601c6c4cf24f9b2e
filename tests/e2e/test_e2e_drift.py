"""Drift: a managed file edited by hand is put back, or only reported with --no-self-heal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests import gitrepo
from tests.e2e import harness, repos
from tests.e2e.conftest import Launch


def _start(tmp_path: Path, launch: Launch, *extra: str) -> tuple[harness.RunningDaemon, Path, str]:
    repo, target = tmp_path / "repo", tmp_path / "out" / "motd"
    sha = gitrepo.make_repo(
        repo,
        {
            **repos.settings(),
            "resources/motd.yaml": repos.file_resource("motd", path=target, content="hi\n"),
        },
    )
    daemon = launch(harness.serve_args(repo, data_dir=tmp_path / "state", extra=extra))

    def applied() -> None:
        assert harness.ready(daemon.resource("File//motd")) == "True"

    harness.eventually(applied, what="first apply")
    assert target.read_text() == "hi\n"
    return daemon, target, sha


def _drift_events(daemon: harness.RunningDaemon) -> list[dict[str, Any]]:
    found = harness.events(daemon, type_="DriftDetected")
    assert found, "no DriftDetected event yet"
    return found


def test_a_hand_edit_is_detected_and_corrected(tmp_path: Path, launch: Launch) -> None:
    daemon, target, sha = _start(tmp_path, launch)
    target.write_text("edited by hand\n")

    def corrected() -> None:
        assert target.read_text() == "hi\n"

    harness.eventually(corrected, what="the file put back")
    [event] = harness.eventually(lambda: _drift_events(daemon), what="drift event")
    assert event["objectKey"] == "File//motd"
    assert (event["data"]["revision"], event["data"]["result"]) == (sha, "applied")
    item = daemon.resource("File//motd")
    assert item is not None
    assert [c["type"] for c in item["conditions"]] == ["Ready"]
    assert harness.ready(item) == "True"
    assert [h["outcome"] for h in item["history"]] == ["applied", "applied"]
    assert item["history"][0]["message"] == "created"
    harness.holds_true(
        event["message"] == "changed outside Git: spec.content",
        "a corrected drift's DriftDetected event says only 'updated', not what had changed",
    )


def test_without_self_heal_drift_is_only_reported(tmp_path: Path, launch: Launch) -> None:
    daemon, target, sha = _start(tmp_path, launch, "--no-self-heal")
    target.write_text("edited by hand\n")

    def reported() -> dict[str, Any]:
        item = daemon.resource("File//motd")
        assert item is not None
        drifted = harness.condition(item, "Drifted")
        assert drifted is not None
        return item

    item = harness.eventually(reported, what="Drifted condition")
    drifted = harness.condition(item, "Drifted")
    assert drifted is not None
    assert (drifted["status"], drifted["reason"], drifted["message"]) == (
        "True",
        "DriftDetected",
        "changed outside Git: spec.content",
    )
    ready = harness.condition(item, "Ready")
    assert ready is not None
    assert (ready["status"], ready["reason"]) == ("False", "DriftDetected")
    assert item["lastAppliedRevision"] == sha
    [event] = harness.eventually(lambda: _drift_events(daemon), what="drift event")
    assert (event["objectKey"], event["data"]["result"]) == ("File//motd", "drift-reported")
    assert target.read_text() == "edited by hand\n"

    # Later passes keep the condition and still leave the file alone.
    passes = _finished(daemon)
    harness.eventually(lambda: _more_passes(daemon, passes + 2), what="two more passes")
    assert target.read_text() == "edited by hand\n"
    later = daemon.resource("File//motd")
    assert later is not None and harness.condition(later, "Drifted") == drifted
    repeated = len(harness.events(daemon, type_="DriftDetected"))
    harness.holds_true(
        repeated == 1,
        f"drift that is only reported publishes DriftDetected on every pass ({repeated} so far)",
    )


def _finished(daemon: harness.RunningDaemon) -> int:
    return len(harness.events(daemon, type_="ReconcileFinished"))


def _more_passes(daemon: harness.RunningDaemon, count: int) -> None:
    assert _finished(daemon) >= count


def test_a_commit_is_an_applied_change_and_a_hand_edit_is_drift(
    tmp_path: Path, launch: Launch
) -> None:
    daemon, target, _ = _start(tmp_path, launch)
    repo = tmp_path / "repo"
    sha = gitrepo.commit(
        repo, {"resources/motd.yaml": repos.file_resource("motd", path=target, content="v2\n")}
    )

    def applied() -> dict[str, Any]:
        item = daemon.resource("File//motd")
        assert item is not None and item["lastAppliedRevision"] == sha, item
        return item

    item = harness.eventually(applied, what="the commit applied")
    change = {"op": "replace", "path": "spec.content", "old": "hi\n", "new": "v2\n"}
    assert (item["appliedChanges"], item["drift"]) == ([change], None)
    assert _drift_cell(daemon.text("/resources")) == "0"
    page = daemon.text("/resources/File//motd")
    assert "Fields where the live object differs from Git" not in page
    assert "No drift: the live object matches Git." in page
    assert "Fields the last change from Git changed" in page

    target.write_text("edited by hand\n")
    harness.eventually(lambda: _drift_events(daemon), what="drift event")
    item = harness.eventually(lambda: _corrected(daemon), what="the drift corrected")
    assert item["appliedChanges"] == [change]
    assert item["drift"]["fields"] == [
        {"op": "replace", "path": "spec.content", "old": "edited by hand\n", "new": "v2\n"}
    ]
    assert item["drift"]["detectedAt"] == item["drift"]["correctedAt"]
    [corrected] = harness.events(daemon, type_="DriftCorrected")
    assert (corrected["objectKey"], corrected["message"], corrected["data"]["revision"]) == (
        "File//motd",
        "restored from Git: spec.content",
        sha,
    )
    assert _drift_cell(daemon.text("/resources")) == "0"
    page = daemon.text("/resources/File//motd")
    assert "Last drift, found" in page and "edited by hand" in page


def _corrected(daemon: harness.RunningDaemon) -> dict[str, Any]:
    item = daemon.resource("File//motd")
    assert item is not None and item["drift"] and item["drift"]["correctedAt"], item
    return item


def _drift_cell(html: str) -> str:
    """The Drift column of the `File//motd` row on /resources."""
    row = html[html.index('href="/resources/File//motd"') :]
    cells = row[: row.index("</tr>")].split('<td class="num">')
    return cells[1].split("</td>")[0].strip()
