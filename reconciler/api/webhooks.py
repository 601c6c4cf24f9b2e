"""Forge webhooks: verify the sender, then reduce a payload to what the daemon acts on.

GitHub signs the exact body bytes with HMAC-SHA256 (`X-Hub-Signature-256: sha256=<hex>`);
GitLab and the generic endpoint send a shared token (`X-Gitlab-Token`, or
`Authorization: Bearer` / `X-Reconciler-Token`). Comparisons are constant-time. Anything
unverified is refused before the payload is even parsed, so it can cause no fetch.

Payloads are validated by the models of `api.payloads` (400 naming the key path for a
field of the wrong type, a number past the store's range, nesting past 64 levels); keys
the daemon does not read are ignored. A push names the ref and the new commit; a branch deletion
(`after` all zeros) and a tag push are told apart so the daemon can ignore refs it does not
track; pull/merge requests carry base and head for a simulation.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from reconciler.api import payloads

# The records the parsers return, named here for callers that read a delivery.
from reconciler.reconcile.deliveries import Delivery as Delivery
from reconciler.reconcile.deliveries import Forge as Forge
from reconciler.reconcile.deliveries import Kind as Kind

ZERO_SHA = "0" * 40


class WebhookRejected(Exception):
    """The delivery is not verified (401) or not understood (400)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


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
    """The body as a JSON object nested at most `payloads.MAX_DEPTH` deep, else 400."""
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise WebhookRejected(f"body is not JSON: {exc}", status=400) from None
    except RecursionError:
        payload = None  # nested past the parser's own limit
    if payload is None or payloads.depth(payload) > payloads.MAX_DEPTH:
        raise WebhookRejected(f"body is nested deeper than {payloads.MAX_DEPTH} levels", status=400)
    if not isinstance(payload, dict):
        raise WebhookRejected("body is not a JSON object", status=400)
    return payload


def _read(model: type[payloads.M], payload: Any) -> payloads.M:
    try:
        return payloads.read(model, payload)
    except payloads.Invalid as exc:
        raise WebhookRejected(f"payload is invalid: {exc}", status=400) from None


def _repository(payload: Mapping[str, Any], *keys: str) -> payloads.Repository:
    try:
        return payloads.repository(payload, *keys)
    except payloads.Invalid as exc:
        raise WebhookRejected(f"payload is invalid: {exc}", status=400) from None


def _urls(repo: payloads.Repository, *keys: str) -> tuple[str, ...]:
    found = (getattr(repo, k) for k in keys)
    return tuple(url for url in found if url)


def _push(forge: Forge, payload: Mapping[str, Any], urls: tuple[str, ...]) -> Delivery:
    push = _read(payloads.Push, payload)
    ref, after = push.ref, push.after or push.checkout_sha or ""
    if after == ZERO_SHA or push.deleted:
        kind = Kind.BRANCH_DELETED if ref.startswith("refs/heads/") else Kind.OTHER
        return Delivery(forge=forge, kind=kind, repo_urls=urls, ref=ref)
    kind = Kind.TAG if ref.startswith("refs/tags/") else Kind.PUSH
    return Delivery(forge=forge, kind=kind, repo_urls=urls, ref=ref, sha=after or None)


def _name(value: int | str | None) -> str | None:
    return str(value) if value not in (None, "") else None


def parse_github(event: str | None, payload: Mapping[str, Any]) -> Delivery:
    repo = _repository(payload, "repository")
    urls = _urls(repo, "clone_url", "ssh_url", "html_url", "git_url")
    if event == "ping":
        return Delivery(forge=Forge.GITHUB, kind=Kind.PING, repo_urls=urls)
    if event == "push":
        return _push(Forge.GITHUB, payload, urls)
    if event == "pull_request":
        pr = _read(payloads.GithubPullRequest, payload)
        head, base = pr.pull_request.head, pr.pull_request.base
        return Delivery(
            forge=Forge.GITHUB,
            kind=Kind.PULL_REQUEST,
            repo_urls=urls,
            ref=f"refs/heads/{head.ref}",
            sha=head.sha,
            action=pr.action,
            number=pr.number,
            base_ref=f"refs/heads/{base.ref}",
            base_sha=base.sha,
            forge_repo=_name(repo.full_name),
        )
    return Delivery(forge=Forge.GITHUB, kind=Kind.OTHER, repo_urls=urls)


_GITLAB_MR_ACTIONS = {"open": "opened", "reopen": "reopened", "update": "synchronize"}


def parse_gitlab(event: str | None, payload: Mapping[str, Any]) -> Delivery:
    project = _repository(payload, "project", "repository")
    urls = _urls(project, "git_http_url", "git_ssh_url", "http_url", "url", "web_url")
    kind = payload.get("object_kind")
    if kind in ("push", "tag_push") or event in ("Push Hook", "Tag Push Hook"):
        return _push(Forge.GITLAB, payload, urls)
    if kind == "merge_request" or event == "Merge Request Hook":
        attrs = _read(payloads.GitlabMergeRequest, payload).object_attributes
        return Delivery(
            forge=Forge.GITLAB,
            kind=Kind.PULL_REQUEST,
            repo_urls=urls,
            ref=f"refs/heads/{attrs.source_branch}",
            sha=attrs.last_commit.id,
            action=_GITLAB_MR_ACTIONS.get(attrs.action, attrs.action),
            number=attrs.iid,
            base_ref=f"refs/heads/{attrs.target_branch}",
            base_sha=attrs.diff_refs.base_sha or None,
            forge_repo=_name(attrs.target_project_id or project.id),
        )
    return Delivery(forge=Forge.GITLAB, kind=Kind.OTHER, repo_urls=urls)


def parse_generic(payload: Mapping[str, Any]) -> Delivery:
    """`{"ref": "refs/heads/main", "sha": "...", "repo": "url"}`, every key optional; or
    `{"workflow": "name", "variables": {...}}` to start a workflow with a webhook trigger."""
    generic = _read(payloads.Generic, payload)
    if "workflow" in payload:
        if generic.workflow is None:
            raise WebhookRejected("workflow must be a workflow name", status=400)
        return Delivery(
            forge=Forge.GENERIC,
            kind=Kind.OTHER,
            workflow=generic.workflow,
            variables=generic.variables,
        )
    return Delivery(
        forge=Forge.GENERIC,
        kind=Kind.PUSH,
        repo_urls=(generic.repo,) if generic.repo else (),
        ref=generic.ref or None,
        sha=generic.sha or None,
    )
