"""What a verified forge delivery means to the daemon, whichever forge sent it: a push,
a tag, a branch deletion or a pull request, with the repository URLs it names. `api.webhooks`
verifies and parses deliveries into these records; the daemon's services act on them
(triggering sources, starting workflows, queueing pull-request simulations), matching a
delivery's repository to a source's by `canonical_url`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

_SCP = re.compile(r"^(?:[\w.-]+@)?(?P<host>[\w.-]+):(?P<path>[^/].*)$")


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


def canonical_url(url: str) -> str:
    """`https://u@GitHub.com/Org/Repo.git/`, `git@github.com:org/repo` -> `github.com/org/repo`."""
    scp = _SCP.match(url) if "://" not in url else None
    if scp:
        host, path = scp.group("host"), scp.group("path")
    else:
        parts = urlsplit(url)
        host, path = parts.hostname or "", parts.path
    path = path.strip("/").removesuffix(".git")
    return f"{host}/{path}".lower()
