"""Forge webhooks: verify the sender, then reduce a payload to what the daemon acts on.

GitHub signs the exact body bytes with HMAC-SHA256 (`X-Hub-Signature-256: sha256=<hex>`);
GitLab and the generic endpoint send a shared token (`X-Gitlab-Token`, or
`Authorization: Bearer` / `X-Reconciler-Token`). Comparisons are constant-time. Anything
unverified is refused before the payload is even parsed, so it can cause no fetch.

Parsing tolerates unknown keys. A push names the ref and the new commit; a branch deletion
(`after` all zeros) and a tag push are told apart so the daemon can ignore refs it does not
track; pull/merge requests carry base and head for a simulation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

ZERO_SHA = "0" * 40


class Forge(StrEnum):
    GITHUB = "github"
    GITLAB = "gitlab"
    GENERIC = "generic"


class Kind(StrEnum):
    PUSH = "push"  # new commits on a branch (including a newly created branch)
    TAG = "tag"  # a tag was pushed
    BRANCH_DELETED = "branch_deleted"
    PULL_REQUEST = "pull_request"  # opened / synchronize / reopened / ... (see `action`)
    PING = "ping"
    OTHER = "other"  # verified but nothing to act on


class WebhookRejected(Exception):
    """The delivery is not verified (401) or not understood (400)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, kw_only=True)
class Delivery:
    forge: Forge
    kind: Kind
    repo_urls: tuple[str, ...] = ()
    ref: str | None = None  # full ref, e.g. refs/heads/main
    sha: str | None = None  # the new head commit
    action: str | None = None  # pull request action
    number: int | None = None
    base_ref: str | None = None
    base_sha: str | None = None
    forge_repo: str | None = None  # GitHub `owner/repo`, GitLab project id (for its API)
    workflow: str | None = None  # generic deliveries may start a workflow by name
    variables: Mapping[str, Any] | None = None

    @property
    def branch(self) -> str | None:
        if self.ref and self.ref.startswith("refs/heads/"):
            return self.ref.removeprefix("refs/heads/")
        return None


def verify_github(body: bytes, signature: str | None, *, secret: str) -> None:
    """Check `X-Hub-Signature-256` against the HMAC-SHA256 of the exact body bytes."""
    if not signature:
        raise WebhookRejected("missing X-Hub-Signature-256 header", status=401)
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise WebhookRejected("signature does not match", status=401)


def verify_token(given: str | None, *, token: str, header: str) -> None:
    if not given:
        raise WebhookRejected(f"missing {header} header", status=401)
    if not hmac.compare_digest(given.strip().encode(), token.encode()):
        raise WebhookRejected(f"{header} does not match", status=401)


def load_json(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookRejected(f"body is not JSON: {exc}", status=400) from None
    if not isinstance(payload, dict):
        raise WebhookRejected("body is not a JSON object", status=400)
    return payload


def _urls(repo: Mapping[str, Any], *keys: str) -> tuple[str, ...]:
    return tuple(str(repo[k]) for k in keys if isinstance(repo.get(k), str))


def _text(value: Any) -> str | None:
    return str(value) if isinstance(value, (str, int)) and value != "" else None


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _object(value: Any) -> Mapping[str, Any]:
    """`value` when it is a JSON object; anything else reads as an empty one."""
    return value if isinstance(value, dict) else {}


def _push(forge: Forge, payload: Mapping[str, Any], urls: tuple[str, ...]) -> Delivery:
    ref = str(payload.get("ref") or "")
    after = str(payload.get("after") or payload.get("checkout_sha") or "")
    if after == ZERO_SHA or payload.get("deleted") is True:
        kind = Kind.BRANCH_DELETED if ref.startswith("refs/heads/") else Kind.OTHER
        return Delivery(forge=forge, kind=kind, repo_urls=urls, ref=ref)
    kind = Kind.TAG if ref.startswith("refs/tags/") else Kind.PUSH
    return Delivery(forge=forge, kind=kind, repo_urls=urls, ref=ref, sha=after or None)


def parse_github(event: str | None, payload: Mapping[str, Any]) -> Delivery:
    repo = _object(payload.get("repository"))
    urls = _urls(repo, "clone_url", "ssh_url", "html_url", "git_url")
    if event == "ping":
        return Delivery(forge=Forge.GITHUB, kind=Kind.PING, repo_urls=urls)
    if event == "push":
        return _push(Forge.GITHUB, payload, urls)
    if event == "pull_request":
        pr = _object(payload.get("pull_request"))
        head, base = _object(pr.get("head")), _object(pr.get("base"))
        return Delivery(
            forge=Forge.GITHUB,
            kind=Kind.PULL_REQUEST,
            repo_urls=urls,
            ref=f"refs/heads/{head.get('ref')}",
            sha=_string(head.get("sha")),
            action=_string(payload.get("action")),
            number=_number(payload.get("number")),
            base_ref=f"refs/heads/{base.get('ref')}",
            base_sha=_string(base.get("sha")),
            forge_repo=_text(repo.get("full_name")),
        )
    return Delivery(forge=Forge.GITHUB, kind=Kind.OTHER, repo_urls=urls)


_GITLAB_MR_ACTIONS = {"open": "opened", "reopen": "reopened", "update": "synchronize"}


def parse_gitlab(event: str | None, payload: Mapping[str, Any]) -> Delivery:
    project = _object(payload.get("project")) or _object(payload.get("repository"))
    urls = _urls(project, "git_http_url", "git_ssh_url", "http_url", "url", "web_url")
    kind = _string(payload.get("object_kind")) or ""
    if kind in ("push", "tag_push") or event in ("Push Hook", "Tag Push Hook"):
        return _push(Forge.GITLAB, payload, urls)
    if kind == "merge_request" or event == "Merge Request Hook":
        attrs = _object(payload.get("object_attributes"))
        action = _string(attrs.get("action")) or ""
        return Delivery(
            forge=Forge.GITLAB,
            kind=Kind.PULL_REQUEST,
            repo_urls=urls,
            ref=f"refs/heads/{attrs.get('source_branch')}",
            sha=_string(_object(attrs.get("last_commit")).get("id")),
            action=_GITLAB_MR_ACTIONS.get(action, action),
            number=_number(attrs.get("iid")),
            base_ref=f"refs/heads/{attrs.get('target_branch')}",
            base_sha=_text(_object(attrs.get("diff_refs")).get("base_sha")),
            forge_repo=_text(attrs.get("target_project_id") or project.get("id")),
        )
    return Delivery(forge=Forge.GITLAB, kind=Kind.OTHER, repo_urls=urls)


def parse_generic(payload: Mapping[str, Any]) -> Delivery:
    """`{"ref": "refs/heads/main", "sha": "...", "repo": "url"}`, every key optional; or
    `{"workflow": "name", "variables": {...}}` to start a workflow with a webhook trigger."""
    ref = payload.get("ref")
    repo = payload.get("repo")
    if "workflow" in payload:
        return _workflow(payload)
    return Delivery(
        forge=Forge.GENERIC,
        kind=Kind.PUSH,
        repo_urls=(str(repo),) if repo else (),
        ref=str(ref) if ref else None,
        sha=str(payload["sha"]) if payload.get("sha") else None,
    )


def _workflow(payload: Mapping[str, Any]) -> Delivery:
    name, variables = payload.get("workflow"), payload.get("variables") or {}
    if not isinstance(name, str) or not name:
        raise WebhookRejected("workflow must be a workflow name", status=400)
    if not isinstance(variables, dict):
        raise WebhookRejected("variables must be a JSON object", status=400)
    return Delivery(forge=Forge.GENERIC, kind=Kind.OTHER, workflow=name, variables=variables)
