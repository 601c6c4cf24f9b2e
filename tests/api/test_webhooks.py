"""Webhook verification and parsing, on deliveries built from the forges' documented formats
(`tests/forge_payloads.py`); the real payloads are checked in `tests/external/`."""

from __future__ import annotations

import json

import pytest

from reconciler.api import webhooks as wh
from tests import forge_payloads as fp

GITHUB_URLS = (
    "https://github.com/acme/web.git",
    "git@github.com:acme/web.git",
    "https://github.com/acme/web",
    "git://github.com/acme/web.git",
)


def signature(data: bytes, secret: str) -> str:
    return fp.github_headers("push", data, secret=secret)["X-Hub-Signature-256"]


def test_github_signature_over_the_exact_bytes_is_accepted() -> None:
    data = fp.encode(fp.github_push())
    wh.verify_github(data, signature(data, "s3cret"), secret="s3cret")


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (None, "missing X-Hub-Signature-256 header"),
        ("sha256=" + "0" * 64, "signature does not match"),
        ("sha1=abc", "signature does not match"),
    ],
)
def test_github_unsigned_or_mis_signed_is_401(given: str | None, message: str) -> None:
    data = fp.encode(fp.github_push())
    with pytest.raises(wh.WebhookRejected) as info:
        wh.verify_github(data, given, secret="s3cret")
    assert (info.value.status, str(info.value)) == (401, message)


def test_github_signature_of_a_modified_body_is_refused() -> None:
    data = fp.encode(fp.github_push())
    with pytest.raises(wh.WebhookRejected) as info:
        wh.verify_github(data + b" ", signature(data, "s3cret"), secret="s3cret")
    assert (info.value.status, str(info.value)) == (401, "signature does not match")


def test_github_push_creating_a_branch() -> None:
    payload = fp.github_push(ref="refs/heads/feature", before=fp.ZERO_SHA, after=fp.sha("f1"))
    assert payload["created"] is True
    got = wh.parse_github("push", json.loads(fp.encode(payload)))
    assert got == wh.Delivery(
        forge=wh.Forge.GITHUB,
        kind=wh.Kind.PUSH,
        repo_urls=GITHUB_URLS,
        ref="refs/heads/feature",
        sha=fp.sha("f1"),
    )
    assert got.branch == "feature"


def test_github_branch_deletion_has_no_commit() -> None:
    payload = fp.github_push(ref="refs/heads/feature", after=fp.ZERO_SHA)
    assert (payload["deleted"], payload["head_commit"], payload["commits"]) == (True, None, [])
    got = wh.parse_github("push", payload)
    assert got == wh.Delivery(
        forge=wh.Forge.GITHUB,
        kind=wh.Kind.BRANCH_DELETED,
        repo_urls=GITHUB_URLS,
        ref="refs/heads/feature",
    )
    assert got.branch == "feature"


def test_github_tag_push_and_tag_deletion() -> None:
    created = fp.github_push(ref="refs/tags/v1.0", before=fp.ZERO_SHA, after=fp.sha("v1.0"))
    got = wh.parse_github("push", created)
    assert (got.kind, got.ref, got.branch, got.sha) == (
        wh.Kind.TAG,
        "refs/tags/v1.0",
        None,
        fp.sha("v1.0"),
    )
    deleted = wh.parse_github("push", fp.github_push(ref="refs/tags/v1.0", after=fp.ZERO_SHA))
    assert (deleted.kind, deleted.sha) == (wh.Kind.OTHER, None)


@pytest.mark.parametrize("action", ["opened", "synchronize", "reopened", "labeled"])
def test_github_pull_request(action: str) -> None:
    payload = fp.github_pull_request(
        action=action, number=12, head=("fix", fp.sha("fix")), base=("main", fp.sha("main"))
    )
    got = wh.parse_github("pull_request", payload)
    assert got == wh.Delivery(
        forge=wh.Forge.GITHUB,
        kind=wh.Kind.PULL_REQUEST,
        repo_urls=GITHUB_URLS,
        ref="refs/heads/fix",
        sha=fp.sha("fix"),
        action=action,
        number=12,
        base_ref="refs/heads/main",
        base_sha=fp.sha("main"),
        forge_repo="acme/web",
    )


def test_github_ping_and_other_events() -> None:
    assert wh.parse_github("ping", {"zen": "Keep it simple."}).kind is wh.Kind.PING
    assert wh.parse_github("issues", fp.github_push()).kind is wh.Kind.OTHER


def test_gitlab_token() -> None:
    wh.verify_token("tok", token="tok", header="X-Gitlab-Token")
    with pytest.raises(wh.WebhookRejected) as info:
        wh.verify_token("nope", token="tok", header="X-Gitlab-Token")
    assert (info.value.status, str(info.value)) == (401, "X-Gitlab-Token does not match")
    with pytest.raises(wh.WebhookRejected) as info:
        wh.verify_token(None, token="tok", header="X-Gitlab-Token")
    assert (info.value.status, str(info.value)) == (401, "missing X-Gitlab-Token header")


def test_gitlab_push_takes_the_head_from_after_not_from_the_truncated_commits() -> None:
    payload = fp.gitlab_push(after=fp.sha("main"), commits=25)
    assert (len(payload["commits"]), payload["total_commits_count"]) == (20, 25)
    got = wh.parse_gitlab("Push Hook", payload)
    assert got == wh.Delivery(
        forge=wh.Forge.GITLAB,
        kind=wh.Kind.PUSH,
        repo_urls=(
            "https://gitlab.example.com/platform/deploy.git",
            "git@gitlab.example.com:platform/deploy.git",
            "https://gitlab.example.com/platform/deploy.git",
            "git@gitlab.example.com:platform/deploy.git",
            "https://gitlab.example.com/platform/deploy",
        ),
        ref="refs/heads/main",
        sha=fp.sha("main"),
    )
    older = {**payload, "commits": payload["commits"][:1]}
    assert wh.parse_gitlab("Push Hook", older).sha == fp.sha("main")


def test_gitlab_branch_creation_deletion_and_tags() -> None:
    created = fp.gitlab_push(ref="refs/heads/feature", before=fp.ZERO_SHA, after=fp.sha("f1"))
    assert wh.parse_gitlab("Push Hook", created).kind is wh.Kind.PUSH
    deleted = wh.parse_gitlab("Push Hook", fp.gitlab_push(after=fp.ZERO_SHA))
    assert (deleted.kind, deleted.ref, deleted.sha) == (
        wh.Kind.BRANCH_DELETED,
        "refs/heads/main",
        None,
    )
    tag = fp.gitlab_push(ref="refs/tags/v2", before=fp.ZERO_SHA, after=fp.sha("v2"))
    assert tag["object_kind"] == "tag_push"
    got = wh.parse_gitlab("Tag Push Hook", tag)
    assert (got.kind, got.branch, got.sha) == (wh.Kind.TAG, None, fp.sha("v2"))


@pytest.mark.parametrize(
    ("action", "expected"),
    [("open", "opened"), ("reopen", "reopened"), ("update", "synchronize"), ("close", "close")],
)
def test_gitlab_merge_request_maps_actions_to_github_words(action: str, expected: str) -> None:
    payload = fp.gitlab_merge_request(action=action, iid=4, source=("fix", fp.sha("fix")))
    got = wh.parse_gitlab("Merge Request Hook", payload)
    assert (got.kind, got.action, got.number, got.forge_repo) == (
        wh.Kind.PULL_REQUEST,
        expected,
        4,
        "31",
    )
    assert (got.ref, got.sha, got.base_ref, got.base_sha) == (
        "refs/heads/fix",
        fp.sha("fix"),
        "refs/heads/main",
        None,
    )


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b"\xff\xfe"])
def test_bad_bodies_are_400(raw: bytes) -> None:
    with pytest.raises(wh.WebhookRejected) as info:
        wh.load_json(raw)
    assert info.value.status == 400
