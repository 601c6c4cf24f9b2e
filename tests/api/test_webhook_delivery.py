"""Webhooks over HTTP with the real forge payloads in ../shared/fixtures/webhooks.

The sources follow the payloads' repositories; `triggers` records every source a request
triggered, so "nothing was triggered" is asserted outright rather than by waiting.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from reconciler.api import app as web
from reconciler.api import webhooks as wh
from tests.api import conftest, live

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "webhooks"
GITHUB_PUSH = "github/push.with-new-branch.payload.json"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def github(
    served: live.Live, body: bytes, *, event: str = "push", secret: str | None = "gh-s3cret"
) -> httpx.Response:
    headers = {"X-GitHub-Event": event, "Content-Type": "application/json"}
    if secret is not None:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers["X-Hub-Signature-256"] = f"sha256={digest}"
    return served.post("/webhooks/github", content=body, headers=headers)


def edited(name: str, **changes: Any) -> bytes:
    return json.dumps({**json.loads(fixture(name)), **changes}).encode()


def test_signed_github_push_triggers_the_source_following_that_branch(
    forge_served: live.Live,
) -> None:
    r = github(forge_served, fixture(GITHUB_PUSH))
    assert (r.status_code, r.json()) == (202, {"kind": "push", "triggered": ["hello"]})
    # `hello-dev` follows the same repository (written scp-style) but another branch.
    assert forge_served.triggers == [("hello", "webhook:github")]


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (None, "missing X-Hub-Signature-256 header"),
        ("not-the-secret", "signature does not match"),
    ],
)
def test_unsigned_or_mis_signed_github_push_is_401_and_triggers_nothing(
    forge_served: live.Live, secret: str | None, message: str
) -> None:
    r = github(forge_served, fixture(GITHUB_PUSH), secret=secret)
    assert (r.status_code, r.json()) == (401, {"error": message})
    assert forge_served.triggers == []


def test_github_secret_not_configured_is_401(
    forge_served: live.Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(conftest.GITHUB_SECRET_ENV)
    r = github(forge_served, fixture(GITHUB_PUSH))
    assert (r.status_code, r.json()) == (401, {"error": "GitHub webhook secret is not configured"})
    assert forge_served.triggers == []


def test_a_signed_body_that_is_not_json_is_400(forge_served: live.Live) -> None:
    r = github(forge_served, b'{"ref": "refs/heads/master",')
    assert (r.status_code, r.json()) == (
        400,
        {
            "error": "body is not JSON: Expecting property name enclosed in double quotes: "
            "line 1 column 29 (char 28)"
        },
    )
    assert forge_served.triggers == []


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (edited(GITHUB_PUSH, after=wh.ZERO_SHA, deleted=True, head_commit=None), "branch_deleted"),
        (edited(GITHUB_PUSH, ref="refs/tags/v1.0"), "tag"),
    ],
    ids=["branch-deleted", "tag"],
)
def test_branch_deletion_and_untracked_tag_trigger_nothing(
    forge_served: live.Live, body: bytes, kind: str
) -> None:
    r = github(forge_served, body)
    assert (r.status_code, r.json()) == (202, {"kind": kind, "triggered": []})
    assert forge_served.triggers == []


def test_a_labeled_pull_request_is_accepted_and_starts_nothing(forge_served: live.Live) -> None:
    body = edited("github/pull_request.opened.payload.json", action="labeled")
    r = github(forge_served, body, event="pull_request")
    assert (r.status_code, r.json()) == (
        202,
        {"kind": "pull_request", "triggered": [], "simulations": []},
    )
    assert forge_served.triggers == []
    assert forge_served.daemon.store.list_simulations() == []


def gitlab(served: live.Live, token: str) -> httpx.Response:
    headers = {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Token": token}
    return served.post("/webhooks/gitlab", content=fixture("gitlab/push.json"), headers=headers)


def test_gitlab_push_with_the_right_token(forge_served: live.Live) -> None:
    r = gitlab(forge_served, "gl-t0ken")
    assert (r.status_code, r.json()) == (202, {"kind": "push", "triggered": ["diaspora"]})
    assert forge_served.triggers == [("diaspora", "webhook:gitlab")]


def test_gitlab_push_with_a_wrong_token_is_401(forge_served: live.Live) -> None:
    r = gitlab(forge_served, "gl-wrong")
    assert (r.status_code, r.json()) == (401, {"error": "X-Gitlab-Token does not match"})
    assert forge_served.triggers == []


@pytest.mark.parametrize(
    "headers",
    [{"X-Reconciler-Token": "gen-t0ken"}, {"Authorization": "Bearer gen-t0ken"}],
    ids=["header", "bearer"],
)
def test_generic_with_token_triggers_the_named_repository(
    forge_served: live.Live, headers: dict[str, str]
) -> None:
    body = {"repo": "https://github.com/octo/other", "ref": "refs/heads/master"}
    r = forge_served.post("/webhooks/generic", json=body, headers=headers)
    assert (r.status_code, r.json()) == (202, {"kind": "push", "triggered": ["other"]})
    assert forge_served.triggers == [("other", "webhook:generic")]


def test_generic_without_a_body_triggers_every_source(forge_served: live.Live) -> None:
    r = forge_served.post("/webhooks/generic", headers={"X-Reconciler-Token": "gen-t0ken"})
    names = ["hello", "hello-dev", "diaspora", "other"]
    assert (r.status_code, r.json()) == (202, {"kind": "push", "triggered": names})
    assert forge_served.triggers == [(n, "webhook:generic") for n in names]


def test_generic_with_a_wrong_token_is_401(forge_served: live.Live) -> None:
    r = forge_served.post("/webhooks/generic", headers={"Authorization": "Bearer nope"})
    assert (r.status_code, r.json()) == (401, {"error": "X-Reconciler-Token does not match"})
    assert forge_served.triggers == []


def test_an_oversized_body_is_413_and_triggers_nothing(
    forge_served: live.Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web, "MAX_WEBHOOK_BYTES", 1024)
    r = github(forge_served, fixture(GITHUB_PUSH))
    assert (r.status_code, r.json()) == (413, {"error": "body is too large"})
    assert forge_served.triggers == []


def test_unknown_forge_and_wrong_method(forge_served: live.Live) -> None:
    r = forge_served.post("/webhooks/bitbucket", content=b"{}")
    assert (r.status_code, r.json()) == (
        404,
        {"error": "no such endpoint: POST /webhooks/bitbucket"},
    )
    r = forge_served.get("/webhooks/github")
    assert (r.status_code, r.json()) == (405, {"error": "method GET not allowed"})


def deliveries(served: live.Live) -> dict[tuple[str, str], float]:
    text = served.get("/metrics").text
    return {
        (s.labels["forge"], s.labels["result"]): s.value
        for family in text_string_to_metric_families(text)
        if family.name == "reconciler_webhook_deliveries"
        for s in family.samples
        if s.name.endswith("_total")
    }


def test_deliveries_are_counted_in_metrics_and_the_event_feed(forge_served: live.Live) -> None:
    github(forge_served, fixture(GITHUB_PUSH))
    github(forge_served, fixture(GITHUB_PUSH), secret=None)
    github(forge_served, fixture(GITHUB_PUSH), secret="wrong")
    gitlab(forge_served, "gl-t0ken")
    forge_served.post("/webhooks/bitbucket", content=b"{}")
    assert deliveries(forge_served) == {
        ("github", "accepted"): 1,
        ("github", "rejected"): 2,
        ("gitlab", "accepted"): 1,
    }
    events = forge_served.get("/api/v1/events").json()["events"]
    assert [(e["type"], e["message"]) for e in events] == [
        ("WebhookReceived", "github webhook accepted"),
        ("WebhookReceived", "github webhook rejected"),
        ("WebhookReceived", "github webhook rejected"),
        ("WebhookReceived", "gitlab webhook accepted"),
    ]
