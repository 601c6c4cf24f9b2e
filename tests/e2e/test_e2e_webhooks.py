"""GitHub webhooks on a remote source configured with `--config`: only a correctly signed
push of the followed branch makes the daemon fetch; anything unverified causes nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests import forge_payloads as fp
from tests import gitrepo
from tests.e2e import harness, repos
from tests.e2e.conftest import Launch

SECRET = "e2e-webhook-secret"


def _config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "daemon.yaml"
    path.write_text(
        f"""\
dataDir: {tmp_path / "state"}
http:
  host: 127.0.0.1
  port: 0
webhooks:
  githubSecretEnv: E2E_GITHUB_SECRET
sources:
  - name: origin
    url: {url}
    ref: main
    interval: 1h
    cacheDir: {tmp_path / "git-cache"}
"""
    )
    return path


def _payload(url: str, **changes: Any) -> bytes:
    return fp.encode(fp.github_push(url=url, **changes))


def _deliver(daemon: harness.RunningDaemon, body: bytes, *, secret: str | None) -> tuple[int, Any]:
    headers = fp.github_headers("push", body, secret=secret)
    return daemon.request("/webhooks/github", method="POST", body=body, headers=headers)


def _serving(daemon: harness.RunningDaemon, sha: str) -> dict[str, Any]:
    source = daemon.source("origin")
    assert source["revision"] == sha and source["reconciling"] is False, source
    return source


def test_only_a_signed_push_makes_the_daemon_fetch(tmp_path: Path, launch: Launch) -> None:
    origin, out = tmp_path / "origin", tmp_path / "out"
    v1 = gitrepo.make_repo(
        origin,
        {
            **repos.settings(),
            "resources/motd.yaml": repos.file_resource("motd", path=out / "motd", content="1\n"),
        },
    )
    url = f"file://{origin}"
    daemon = launch(
        ["--config", str(_config(tmp_path, url)), "--file-root", str(tmp_path)],
        env={"E2E_GITHUB_SECRET": SECRET},
    )
    harness.eventually(lambda: _serving(daemon, v1), what="first fetch")
    v2 = gitrepo.commit(
        origin,
        {
            "resources/banner.yaml": repos.file_resource(
                "banner", path=out / "banner", content="b\n"
            )
        },
    )
    push = _payload(url, after=v2)

    assert _deliver(daemon, push, secret=None) == (
        401,
        {"error": "missing X-Hub-Signature-256 header"},
    )
    assert _deliver(daemon, push, secret="not-the-secret") == (
        401,
        {"error": "signature does not match"},
    )
    signed_elsewhere = _payload(url, after=v2, ref="refs/heads/other")
    status, _ = daemon.request(
        "/webhooks/github",
        method="POST",
        body=push,  # a body other than the one signed
        headers=fp.github_headers("push", signed_elsewhere, secret=SECRET),
    )
    assert status == 401

    deletion = _payload(url, after=fp.ZERO_SHA)
    assert _deliver(daemon, deletion, secret=SECRET) == (
        202,
        {"kind": "branch_deleted", "triggered": []},
    )
    tag = _payload(url, before=fp.ZERO_SHA, after=v2, ref="refs/tags/v9")
    assert _deliver(daemon, tag, secret=SECRET) == (202, {"kind": "tag", "triggered": []})

    source = _serving(daemon, v1)
    assert source["lastTrigger"] == "startup"
    received = harness.events(daemon, type_="WebhookReceived")
    assert [e["data"]["result"] for e in received] == ["rejected"] * 3 + ["accepted"] * 2
    assert not (out / "banner").exists()

    assert _deliver(daemon, push, secret=SECRET) == (202, {"kind": "push", "triggered": ["origin"]})
    source = harness.eventually(lambda: _serving(daemon, v2), what="the pushed commit fetched")
    assert source["lastTrigger"] == "webhook:github"
    item = daemon.resource("File//banner")
    assert item is not None and item["lastAppliedRevision"] == v2
    assert (out / "banner").read_text() == "b\n"
    # One reconcile at start-up and one for the signed push: nothing else ever ran.
    runs = daemon.get("/api/v1/runs")["runs"]
    assert [r["trigger"] for r in runs] == ["webhook:github", "startup"]
