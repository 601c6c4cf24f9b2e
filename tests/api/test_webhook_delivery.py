"""Webhooks over HTTP, with deliveries built from the forges' documented formats
(`tests/forge_payloads.py`; the real payloads go over HTTP in `tests/external/`).

The sources follow the payloads' repositories; `triggers` records every source a request
triggered, so "nothing was triggered" is asserted outright rather than by waiting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from reconciler.api import webhooks as wh
from tests import forge_payloads as fp
from tests.api import conftest, live

PUSH = fp.encode(fp.github_push())


def github(
    served: live.Live, body: bytes, *, event: str = "push", secret: str | None = "gh-s3cret"
) -> httpx.Response:
    headers = fp.github_headers(event, body, secret=secret)
    return served.post("/webhooks/github", content=body, headers=headers)


def push(**changes: Any) -> bytes:
    return fp.encode(fp.github_push(**changes))


def test_signed_github_push_triggers_the_source_following_that_branch(
    forge_served: live.Live,
) -> None:
    r = github(forge_served, PUSH)
    assert (r.status_code, r.json()) == (202, {"kind": "push", "triggered": ["web"]})
    # `web-dev` follows the same repository (written scp-style) but another branch.
    assert forge_served.triggers == [("web", "webhook:github")]


def test_a_push_creating_the_followed_branch_triggers_its_source(forge_served: live.Live) -> None:
    r = github(forge_served, push(ref="refs/heads/dev", before=fp.ZERO_SHA))
    assert (r.status_code, r.json()) == (202, {"kind": "push", "triggered": ["web-dev"]})
    assert forge_served.triggers == [("web-dev", "webhook:github")]


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
    r = github(forge_served, PUSH, secret=secret)
    assert (r.status_code, r.json()) == (401, {"error": message})
    assert forge_served.triggers == []


def test_github_secret_not_configured_is_401(
    forge_served: live.Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(conftest.GITHUB_SECRET_ENV)
    r = github(forge_served, PUSH)
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
        (push(after=wh.ZERO_SHA), "branch_deleted"),
        (push(ref="refs/tags/v1.0", before=wh.ZERO_SHA), "tag"),
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
    body = fp.encode(fp.github_pull_request(action="labeled"))
    r = github(forge_served, body, event="pull_request")
    assert (r.status_code, r.json()) == (
        202,
        {"kind": "pull_request", "triggered": [], "simulations": []},
    )
    assert forge_served.triggers == []
    assert forge_served.daemon.store.list_simulations() == []


def gitlab(
    served: live.Live, token: str, *, event: str = "Push Hook", **changes: Any
) -> httpx.Response:
    body = fp.encode(fp.gitlab_push(**changes))
    return served.post(
        "/webhooks/gitlab", content=body, headers=fp.gitlab_headers(event, token=token)
    )


def test_gitlab_push_with_the_right_token(forge_served: live.Live) -> None:
    r = gitlab(forge_served, "gl-t0ken", commits=30)
    assert (r.status_code, r.json()) == (202, {"kind": "push", "triggered": ["deploy"]})
    assert forge_served.triggers == [("deploy", "webhook:gitlab")]


@pytest.mark.parametrize(
    ("event", "changes", "kind"),
    [
        ("Push Hook", {"after": wh.ZERO_SHA}, "branch_deleted"),
        ("Tag Push Hook", {"ref": "refs/tags/v2", "before": wh.ZERO_SHA}, "tag"),
    ],
    ids=["branch-deleted", "tag"],
)
def test_gitlab_branch_deletion_and_tag_push_trigger_nothing(
    forge_served: live.Live, event: str, changes: dict[str, str], kind: str
) -> None:
    r = gitlab(forge_served, "gl-t0ken", event=event, **changes)
    assert (r.status_code, r.json()) == (202, {"kind": kind, "triggered": []})
    assert forge_served.triggers == []


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
    body = {"repo": "https://github.com/octo/other", "ref": "refs/heads/main"}
    r = forge_served.post("/webhooks/generic", json=body, headers=headers)
    assert (r.status_code, r.json()) == (202, {"kind": "push", "triggered": ["other"]})
    assert forge_served.triggers == [("other", "webhook:generic")]


def test_generic_without_a_body_triggers_every_source(forge_served: live.Live) -> None:
    r = forge_served.post("/webhooks/generic", headers={"X-Reconciler-Token": "gen-t0ken"})
    names = ["web", "web-dev", "deploy", "other"]
    assert (r.status_code, r.json()) == (202, {"kind": "push", "triggered": names})
    assert forge_served.triggers == [(n, "webhook:generic") for n in names]


def test_generic_with_a_wrong_token_is_401(forge_served: live.Live) -> None:
    r = forge_served.post("/webhooks/generic", headers={"Authorization": "Bearer nope"})
    assert (r.status_code, r.json()) == (401, {"error": "X-Reconciler-Token does not match"})
    assert forge_served.triggers == []


def test_an_oversized_body_is_413_and_triggers_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with conftest.forge_serve(tmp_path, monkeypatch, http={"maxWebhookBytes": 1024}) as served:
        r = github(served, PUSH)
        assert (r.status_code, r.json()) == (
            413,
            {"error": "request body is larger than the limit of 1024 bytes"},
        )
        assert served.triggers == []


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
    github(forge_served, PUSH)
    github(forge_served, PUSH, secret=None)
    github(forge_served, PUSH, secret="wrong")
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


def _pull_request(**changes: Any) -> bytes:
    return fp.encode({**fp.github_pull_request(), **changes})


def _push(**changes: Any) -> bytes:
    return fp.encode({**fp.github_push(), **changes})


@pytest.mark.parametrize(
    ("event", "body", "message"),
    [
        (
            "pull_request",
            _pull_request(number="seven"),
            "payload is invalid: number: Input should be a valid integer",
        ),
        (
            "pull_request",
            _pull_request(number=10**30),
            "payload is invalid: number: Input should be less than or equal to 2147483647",
        ),
        (
            "push",
            _push(ref=["refs/heads/main"]),
            "payload is invalid: ref: Input should be a valid string",
        ),
        (
            "push",
            _push(repository="acme/web"),
            "payload is invalid: repository: Input should be a valid dictionary or "
            "instance of Repository",
        ),
        ("push", b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", None),
        ("push", b'{"a": ' + b"[" * 65 + b"]" * 65 + b"}", None),
    ],
    ids=["text-number", "huge-number", "list-ref", "text-repository", "deep", "65-levels"],
)
def test_a_signed_malformed_payload_is_400_with_its_reason(
    forge_served: live.Live, event: str, body: bytes, message: str | None
) -> None:
    r = github(forge_served, body, event=event)
    expected = message or "body is nested deeper than 64 levels"
    assert (r.status_code, r.json()) == (400, {"error": expected})
    assert forge_served.triggers == []


def test_a_replayed_delivery_is_acknowledged_once_even_after_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = {**fp.github_headers("push", PUSH, secret="gh-s3cret"), "X-GitHub-Delivery": "d-1"}
    with conftest.forge_serve(tmp_path, monkeypatch) as served:
        first = served.post("/webhooks/github", content=PUSH, headers=headers)
        assert (first.status_code, first.json()) == (202, {"kind": "push", "triggered": ["web"]})
        again = served.post("/webhooks/github", content=PUSH, headers=headers)
        assert (again.status_code, again.json()) == (200, {"kind": "push", "duplicate": True})
        other = {**headers, "X-GitHub-Delivery": "d-2"}
        assert served.post("/webhooks/github", content=PUSH, headers=other).status_code == 202
        assert served.triggers == [("web", "webhook:github")] * 2
    with conftest.forge_serve(tmp_path, monkeypatch) as restarted:
        replay = restarted.post("/webhooks/github", content=PUSH, headers=headers)
        assert (replay.status_code, replay.json()) == (200, {"kind": "push", "duplicate": True})
        assert restarted.triggers == []
