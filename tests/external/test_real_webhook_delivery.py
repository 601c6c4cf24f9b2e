"""The real forge payloads (`../shared/fixtures/webhooks`) delivered over HTTP to a served
daemon whose sources follow the repositories they name (never fetched): a signed push or a
tokened GitLab push triggers exactly the source on that repository and branch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import forge_payloads as fp
from tests.api import live

SECRET_ENV, TOKEN_ENV = "RECONCILER_TEST_REAL_GITHUB_SECRET", "RECONCILER_TEST_REAL_GITLAB_TOKEN"


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[live.Live]:
    monkeypatch.setenv(SECRET_ENV, "gh-s3cret")
    monkeypatch.setenv(TOKEN_ENV, "gl-t0ken")
    cache = str(tmp_path / "cache")
    settings = live.settings_for(
        tmp_path / "data",
        {
            "name": "hello",
            "url": "https://github.com/Codertocat/Hello-World.git",
            "ref": "master",
            "cacheDir": cache,
        },
        {
            "name": "hello-dev",
            "url": "git@github.com:codertocat/hello-world",
            "ref": "dev",
            "cacheDir": cache,
        },
        {
            "name": "diaspora",
            "url": "http://example.com/mike/diaspora.git",
            "ref": "master",
            "cacheDir": cache,
        },
        webhooks={"githubSecretEnv": SECRET_ENV, "gitlabTokenEnv": TOKEN_ENV},
    )
    with live.serve(settings, run_daemon=False) as running:
        yield running


def payload(shared: Path, name: str) -> bytes:
    return (shared / "fixtures" / "webhooks" / name).read_bytes()


def test_a_signed_github_push_triggers_the_source_on_its_branch(
    served: live.Live, shared: Path
) -> None:
    body = payload(shared, "github/push.with-new-branch.payload.json")
    headers = fp.github_headers("push", body, secret="gh-s3cret")
    r = served.post("/webhooks/github", content=body, headers=headers)
    assert (r.status_code, r.json()) == (202, {"kind": "push", "triggered": ["hello"]})
    assert served.triggers == [("hello", "webhook:github")]


def test_a_closed_github_pull_request_is_accepted_and_starts_nothing(
    served: live.Live, shared: Path
) -> None:
    opened = json.loads(payload(shared, "github/pull_request.opened.payload.json"))
    body = json.dumps({**opened, "action": "closed"}).encode()
    headers = fp.github_headers("pull_request", body, secret="gh-s3cret")
    r = served.post("/webhooks/github", content=body, headers=headers)
    assert (r.status_code, r.json()) == (
        202,
        {"kind": "pull_request", "triggered": [], "simulations": []},
    )
    assert served.triggers == []
    assert served.daemon.store.list_simulations() == []


def test_a_gitlab_push_with_the_token_triggers_its_source(served: live.Live, shared: Path) -> None:
    body = payload(shared, "gitlab/push.json")
    headers = fp.gitlab_headers("Push Hook", token="gl-t0ken")
    r = served.post("/webhooks/gitlab", content=body, headers=headers)
    assert (r.status_code, r.json()) == (202, {"kind": "push", "triggered": ["diaspora"]})
    assert served.triggers == [("diaspora", "webhook:gitlab")]
