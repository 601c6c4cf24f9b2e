"""Webhook verification and parsing against real forge payloads from ../shared/fixtures."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from reconciler.api import webhooks as wh

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "webhooks"


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def sign(data: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), data, hashlib.sha256).hexdigest()


def test_github_signature_over_the_exact_bytes_is_accepted() -> None:
    data = body("github/push.with-new-branch.payload.json")
    wh.verify_github(data, sign(data, "s3cret"), secret="s3cret")


@pytest.mark.parametrize(
    ("signature", "message"),
    [
        (None, "missing X-Hub-Signature-256 header"),
        ("sha256=" + "0" * 64, "signature does not match"),
        ("sha1=abc", "signature does not match"),
    ],
)
def test_github_unsigned_or_mis_signed_is_401(signature: str | None, message: str) -> None:
    data = body("github/push.with-new-branch.payload.json")
    with pytest.raises(wh.WebhookRejected) as info:
        wh.verify_github(data, signature, secret="s3cret")
    assert (info.value.status, str(info.value)) == (401, message)


def test_github_signature_of_a_modified_body_is_refused() -> None:
    data = body("github/push.with-new-branch.payload.json")
    with pytest.raises(wh.WebhookRejected):
        wh.verify_github(data + b" ", sign(data, "s3cret"), secret="s3cret")


def test_github_push_creating_a_branch() -> None:
    payload = json.loads(body("github/push.with-new-branch.payload.json"))
    got = wh.parse_github("push", payload)
    assert got == wh.Delivery(
        forge=wh.Forge.GITHUB,
        kind=wh.Kind.PUSH,
        repo_urls=(
            "https://github.com/Codertocat/Hello-World.git",
            "git@github.com:Codertocat/Hello-World.git",
            "https://github.com/Codertocat/Hello-World",
            "git://github.com/Codertocat/Hello-World.git",
        ),
        ref="refs/heads/master",
        sha="6113728f27ae82c7b1a177c8d03f9e96e0adf246",
    )
    assert got.branch == "master"


def test_github_branch_deletion_and_tag_push_are_told_apart() -> None:
    payload = json.loads(body("github/push.with-new-branch.payload.json"))
    deleted = {**payload, "after": wh.ZERO_SHA, "deleted": True, "head_commit": None}
    assert wh.parse_github("push", deleted).kind is wh.Kind.BRANCH_DELETED
    tag = {**payload, "ref": "refs/tags/v1.0"}
    got = wh.parse_github("push", tag)
    assert (got.kind, got.branch, got.sha) == (wh.Kind.TAG, None, payload["after"])


def test_github_pull_request_opened() -> None:
    payload = json.loads(body("github/pull_request.opened.payload.json"))
    got = wh.parse_github("pull_request", payload)
    assert (got.kind, got.action, got.number) == (wh.Kind.PULL_REQUEST, "opened", 2)
    assert (got.ref, got.sha) == ("refs/heads/changes", "ec26c3e57ca3a959ca5aad62de7213c562f8c821")
    assert (got.base_ref, got.base_sha) == (
        "refs/heads/master",
        "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
    )


def test_gitlab_push_and_token() -> None:
    wh.verify_token("tok", token="tok", header="X-Gitlab-Token")
    with pytest.raises(wh.WebhookRejected) as info:
        wh.verify_token("nope", token="tok", header="X-Gitlab-Token")
    assert (info.value.status, str(info.value)) == (401, "X-Gitlab-Token does not match")
    payload = json.loads(body("gitlab/push.json"))
    got = wh.parse_gitlab("Push Hook", payload)
    assert (got.kind, got.branch, got.sha) == (
        wh.Kind.PUSH,
        "master",
        "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
    )
    assert "http://example.com/mike/diaspora.git" in got.repo_urls
    # GitLab truncates `commits`; the head must come from `after`, never from the list.
    truncated = {**payload, "commits": payload["commits"][:1]}
    assert wh.parse_gitlab("Push Hook", truncated).sha == got.sha


def test_gitlab_merge_request_maps_actions_to_github_words() -> None:
    payload = json.loads(body("gitlab/merge_request.json"))
    got = wh.parse_gitlab("Merge Request Hook", payload)
    assert (got.kind, got.action, got.number) == (wh.Kind.PULL_REQUEST, "opened", 1)
    assert (got.ref, got.base_ref) == ("refs/heads/ms-viewport", "refs/heads/master")


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b"\xff\xfe"])
def test_bad_bodies_are_400(raw: bytes) -> None:
    with pytest.raises(wh.WebhookRejected) as info:
        wh.load_json(raw)
    assert info.value.status == 400
