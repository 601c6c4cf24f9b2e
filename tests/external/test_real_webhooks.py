"""Webhook verification and parsing against real forge payloads (`../shared/fixtures/webhooks`:
octokit/webhooks' GitHub examples, go-gitlab's GitLab test data), as the forges sent them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.api import webhooks as wh
from tests import forge_payloads as fp

GITHUB_PUSH = "github/push.with-new-branch.payload.json"
GITHUB_PR = "github/pull_request.opened.payload.json"
Read = Callable[[str], bytes]


@pytest.fixture
def body(shared: Path) -> Read:
    def read(name: str) -> bytes:
        return (shared / "fixtures" / "webhooks" / name).read_bytes()

    return read


def test_github_signature_over_the_exact_bytes_is_accepted(body: Read) -> None:
    data = body(GITHUB_PUSH)
    signature = fp.github_headers("push", data, secret="s3cret")["X-Hub-Signature-256"]
    wh.verify_github(data, signature, secret="s3cret")
    with pytest.raises(wh.WebhookRejected) as info:
        wh.verify_github(data + b" ", signature, secret="s3cret")
    assert (info.value.status, str(info.value)) == (401, "signature does not match")


def test_github_push_creating_a_branch(body: Read) -> None:
    payload = json.loads(body(GITHUB_PUSH))
    assert (payload["before"], payload["created"]) == (wh.ZERO_SHA, True)
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


def test_github_branch_deletion_and_tag_push_are_told_apart(body: Read) -> None:
    payload = json.loads(body(GITHUB_PUSH))
    deleted = {**payload, "after": wh.ZERO_SHA, "deleted": True, "head_commit": None}
    assert wh.parse_github("push", deleted).kind is wh.Kind.BRANCH_DELETED
    tag = {**payload, "ref": "refs/tags/v1.0"}
    got = wh.parse_github("push", tag)
    assert (got.kind, got.branch, got.sha) == (wh.Kind.TAG, None, payload["after"])


def test_github_pull_request_opened(body: Read) -> None:
    got = wh.parse_github("pull_request", json.loads(body(GITHUB_PR)))
    assert (got.kind, got.action, got.number) == (wh.Kind.PULL_REQUEST, "opened", 2)
    assert (got.ref, got.sha) == ("refs/heads/changes", "ec26c3e57ca3a959ca5aad62de7213c562f8c821")
    assert (got.base_ref, got.base_sha) == (
        "refs/heads/master",
        "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
    )
    assert got.forge_repo == "Codertocat/Hello-World"


def test_gitlab_push(body: Read) -> None:
    payload = json.loads(body("gitlab/push.json"))
    assert payload["total_commits_count"] > len(payload["commits"])  # GitLab truncates
    got = wh.parse_gitlab("Push Hook", payload)
    assert (got.kind, got.branch, got.sha) == (
        wh.Kind.PUSH,
        "master",
        "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
    )
    assert "http://example.com/mike/diaspora.git" in got.repo_urls
    # The head must come from `after`, never from the list.
    truncated = {**payload, "commits": payload["commits"][:1]}
    assert wh.parse_gitlab("Push Hook", truncated).sha == got.sha


def test_gitlab_merge_request_maps_actions_to_github_words(body: Read) -> None:
    got = wh.parse_gitlab("Merge Request Hook", json.loads(body("gitlab/merge_request.json")))
    assert (got.kind, got.action, got.number) == (wh.Kind.PULL_REQUEST, "opened", 1)
    assert (got.ref, got.base_ref) == ("refs/heads/ms-viewport", "refs/heads/master")
    assert got.sha == "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
    assert got.forge_repo == "14"


READ_KEYS = {
    GITHUB_PUSH: [
        ("ref",),
        ("before",),
        ("after",),
        ("created",),
        ("deleted",),
        ("head_commit", "id"),
        ("repository", "clone_url"),
        ("repository", "ssh_url"),
        ("repository", "html_url"),
        ("repository", "git_url"),
        ("repository", "full_name"),
    ],
    GITHUB_PR: [
        ("action",),
        ("number",),
        ("pull_request", "head", "ref"),
        ("pull_request", "head", "sha"),
        ("pull_request", "base", "ref"),
        ("pull_request", "base", "sha"),
        ("repository", "clone_url"),
        ("repository", "full_name"),
    ],
    "gitlab/push.json": [
        ("object_kind",),
        ("ref",),
        ("before",),
        ("after",),
        ("checkout_sha",),
        ("total_commits_count",),
        ("commits",),
        ("project", "git_http_url"),
        ("project", "git_ssh_url"),
        ("project", "web_url"),
        ("project", "id"),
    ],
    "gitlab/merge_request.json": [
        ("object_kind",),
        ("object_attributes", "iid"),
        ("object_attributes", "action"),
        ("object_attributes", "source_branch"),
        ("object_attributes", "target_branch"),
        ("object_attributes", "target_project_id"),
        ("object_attributes", "last_commit", "id"),
        ("project", "git_http_url"),
        ("project", "web_url"),
    ],
}


def dig(payload: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        payload = payload[key]
    return payload


@pytest.mark.parametrize(
    ("name", "builder"),
    [
        (GITHUB_PUSH, fp.github_push),
        (GITHUB_PR, fp.github_pull_request),
        ("gitlab/push.json", fp.gitlab_push),
        ("gitlab/merge_request.json", fp.gitlab_merge_request),
    ],
)
def test_the_built_payloads_carry_every_key_the_daemon_reads(
    body: Read, name: str, builder: Callable[[], dict[str, Any]]
) -> None:
    """The core tests' payloads (tests/forge_payloads.py) have the real ones' shape where
    the daemon reads them."""
    real, built = json.loads(body(name)), builder()
    for path in READ_KEYS[name]:
        assert type(dig(built, path)) is type(dig(real, path)), path
