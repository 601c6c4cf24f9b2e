"""Opening a proposal of a remote source for review: its branch is pushed to the source's
remote, and a pull request (GitHub) or merge request (GitLab) from it to the watched branch
is opened through the forge client the simulation reports use."""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.reconcile.settings import ForgeSettings
from reconciler.reconcile.simulations import forge
from reconciler.specs.optimization import PullRequests

Clients = Callable[[str], forge.Client | None]
"""The forge client for `github` or `gitlab` (None: no token configured)."""


def clients(settings: ForgeSettings, *, environ: Mapping[str, str] | None = None) -> Clients:
    """Forge clients from the daemon's `forges` settings (a forge without a token: None)."""
    env = os.environ if environ is None else environ

    def client(kind: str) -> forge.Client | None:
        api = settings.github if kind == "github" else settings.gitlab
        token = env.get(api.token_env) if api.token_env else None
        if not token:
            return None
        make = forge.github_client if kind == "github" else forge.gitlab_client
        return make(api_url=api.api_url, token=token)

    return client


def open_request(
    client: forge.Client, *, target: PullRequests, branch: str, base: str, title: str, body: str
) -> dict[str, Any]:
    """Open the request; what the forge answered that identifies it (url, number)."""
    if target.forge == "github":
        answer = client.call(
            "POST",
            f"/repos/{target.repository}/pulls",
            {"title": title, "head": branch, "base": base, "body": body},
        )
    else:
        project = urllib.parse.quote(target.repository, safe="")
        answer = client.call(
            "POST",
            f"/projects/{project}/merge_requests",
            {"title": title, "source_branch": branch, "target_branch": base, "description": body},
        )
    found = answer if isinstance(answer, dict) else {}
    return {
        "forge": target.forge,
        "repository": target.repository,
        "url": found.get("html_url") or found.get("web_url"),
        "number": found.get("number") or found.get("iid"),
    }
