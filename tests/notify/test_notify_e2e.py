"""The whole daemon (`reconciler serve` in a subprocess): a change a strict policy blocks
reaches a Slack-compatible receiver on loopback, its URL read from the environment."""

from __future__ import annotations

import json
from pathlib import Path

from tests import gitrepo
from tests.e2e import harness, repos
from tests.notify.conftest import Receiver


def test_a_blocked_change_is_posted_to_slack(tmp_path: Path, receiver: Receiver) -> None:
    repo, out = tmp_path / "repo", tmp_path / "out"
    gitrepo.make_repo(repo, {**repos.settings(), **repos.owner_policy()})
    slack_url = f"{receiver.url}/services/T0/B0/hidden"
    config = tmp_path / "daemon.yaml"
    config.write_text(
        json.dumps(
            {
                "dataDir": str(tmp_path / "state"),
                "http": {"port": 0},
                "sources": [{"name": "main", "path": str(repo), "ref": "main"}],
                "notifications": {
                    "channels": [{"name": "ops", "type": "slack", "secretEnv": "OPS_SLACK_URL"}],
                    "routes": [{"events": ["ResourceBlocked"], "channels": ["ops"]}],
                },
            }
        )
    )
    daemon = harness.start(
        ["--config", str(config), "--interval", "1s", "--file-root", str(tmp_path)],
        tmp=tmp_path,
        env={"OPS_SLACK_URL": slack_url},
    )
    try:
        gitrepo.commit(
            repo,
            {
                "resources/bad.yaml": repos.file_resource(
                    "bad", path=out / "bad", content="b\n", labels={"team": "x"}
                )
            },
            message="a file without an owner",
        )
        harness.eventually(lambda: _posted(receiver), what="the Slack message")
        # Later passes block it again with the same message: the dedupe window holds it.
        finished = len(harness.events(daemon, type_="ReconcileFinished"))
        harness.eventually(
            lambda: _more(len(harness.events(daemon, type_="ReconcileFinished")), finished + 2),
            what="two more passes",
        )
    finally:
        daemon.stop()
    [post] = receiver.posts
    assert post.path == "/services/T0/B0/hidden"
    assert json.loads(post.body)["text"] == (
        "[warning] Change to File//bad blocked by policy in main: "
        "e2e.owner: File bad has no owner label"
    )
    assert "/services/T0/B0/hidden" not in daemon.log()


def _posted(receiver: Receiver) -> None:
    assert receiver.posts


def _more(count: int, wanted: int) -> None:
    assert count >= wanted
