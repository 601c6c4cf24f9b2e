"""Forge webhook deliveries built from the forges' documented formats, for the core tests.

GitHub: `push` and `pull_request` events, the event name in `X-GitHub-Event` and the
HMAC-SHA256 of the exact body bytes in `X-Hub-Signature-256`. GitLab: `Push Hook`,
`Tag Push Hook` and `Merge Request Hook`, the event name in `X-Gitlab-Event` and the shared
secret in `X-Gitlab-Token`. Every builder returns a whole payload as the forge sends it
(keys the daemon ignores included), so parsers meet what they meet in production: a
created branch has `before` all zeros, a deleted one `after` all zeros and no head commit,
and GitLab truncates `commits` while `total_commits_count` keeps the real number.
The real deliveries these mirror are checked in `tests/external/test_real_webhooks.py`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

ZERO_SHA = "0" * 40
WHEN = "2026-01-02T03:04:05Z"
GITHUB_REPO = "acme/web"  # clone URL https://github.com/acme/web.git
GITLAB_PROJECT = "platform/deploy"  # clone URL https://gitlab.example.com/platform/deploy.git
GITLAB_HOST = "https://gitlab.example.com"


def sha(label: str) -> str:
    """A fixed commit id for `label` (the same label always names the same commit)."""
    return hashlib.sha1(label.encode()).hexdigest()


def encode(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload).encode()


def github_headers(event: str, body: bytes, *, secret: str | None) -> dict[str, str]:
    """The headers GitHub sends; without a secret the delivery is unsigned."""
    headers = {"X-GitHub-Event": event, "Content-Type": "application/json"}
    if secret is not None:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers["X-Hub-Signature-256"] = f"sha256={digest}"
    return headers


def gitlab_headers(event: str, *, token: str) -> dict[str, str]:
    return {"X-Gitlab-Event": event, "X-Gitlab-Token": token, "Content-Type": "application/json"}


def _user(login: str) -> dict[str, Any]:
    return {"login": login, "id": 1001, "type": "User", "site_admin": False}


def github_repository(full_name: str = GITHUB_REPO, *, url: str | None = None) -> dict[str, Any]:
    """A `repository` object; `url` replaces every clone URL (a local test repository)."""
    owner, name = full_name.split("/")
    urls = {
        "clone_url": f"https://github.com/{full_name}.git",
        "ssh_url": f"git@github.com:{full_name}.git",
        "html_url": f"https://github.com/{full_name}",
        "git_url": f"git://github.com/{full_name}.git",
    }
    return {
        "id": 4242,
        "node_id": "R_kgDOAAAAAA",
        "name": name,
        "full_name": full_name,
        "private": False,
        "owner": _user(owner),
        "description": None,
        "fork": False,
        "url": f"https://api.github.com/repos/{full_name}",
        **({key: url for key in urls} if url else urls),
        "default_branch": "main",
        "pushed_at": 1767323045,
    }


def _github_commit(commit: str, *, full_name: str) -> dict[str, Any]:
    person = {"name": "Dev One", "email": "dev@example.com", "username": "dev1"}
    return {
        "id": commit,
        "tree_id": sha(f"tree of {commit}"),
        "distinct": True,
        "message": f"Change {commit[:7]}",
        "timestamp": WHEN,
        "url": f"https://github.com/{full_name}/commit/{commit}",
        "author": person,
        "committer": person,
        "added": [],
        "removed": [],
        "modified": ["resources/app.yaml"],
    }


def github_push(
    *,
    ref: str = "refs/heads/main",
    before: str = sha("main~1"),
    after: str = sha("main"),
    full_name: str = GITHUB_REPO,
    url: str | None = None,
) -> dict[str, Any]:
    """A `push` event; `before` all zeros creates the ref, `after` all zeros deletes it."""
    deleted = after == ZERO_SHA
    commits = [] if deleted else [_github_commit(after, full_name=full_name)]
    return {
        "ref": ref,
        "before": before,
        "after": after,
        "created": before == ZERO_SHA,
        "deleted": deleted,
        "forced": False,
        "base_ref": None,
        "compare": f"https://github.com/{full_name}/compare/{before[:12]}...{after[:12]}",
        "commits": commits,
        "head_commit": commits[0] if commits else None,
        "repository": github_repository(full_name, url=url),
        "pusher": {"name": "dev1", "email": "dev@example.com"},
        "sender": _user("dev1"),
    }


def github_pull_request(
    *,
    action: str = "opened",
    number: int = 7,
    head: tuple[str, str] = ("feature", sha("feature")),
    base: tuple[str, str] = ("main", sha("main")),
    full_name: str = GITHUB_REPO,
    url: str | None = None,
) -> dict[str, Any]:
    """A `pull_request` event; `head` and `base` are (branch, commit)."""
    repository = github_repository(full_name, url=url)
    owner = full_name.split("/")[0]

    def side(branch: str, commit: str) -> dict[str, Any]:
        label = f"{owner}:{branch}"
        return {
            "label": label,
            "ref": branch,
            "sha": commit,
            "user": _user(owner),
            "repo": repository,
        }

    payload: dict[str, Any] = {
        "action": action,
        "number": number,
        "pull_request": {
            "url": f"https://api.github.com/repos/{full_name}/pulls/{number}",
            "id": 900 + number,
            "number": number,
            "state": "open",
            "locked": False,
            "title": "Tighten the policies",
            "user": _user("dev1"),
            "body": None,
            "created_at": WHEN,
            "updated_at": WHEN,
            "draft": False,
            "merged": False,
            "head": side(*head),
            "base": side(*base),
            "commits": 1,
        },
        "repository": repository,
        "sender": _user("dev1"),
    }
    if action == "synchronize":
        payload.update(before=sha(f"{head[0]}~1"), after=head[1])
    return payload


def gitlab_project(path: str = GITLAB_PROJECT, *, project_id: int = 31) -> dict[str, Any]:
    web = f"{GITLAB_HOST}/{path}"
    ssh = f"git@{GITLAB_HOST.removeprefix('https://')}:{path}.git"
    return {
        "id": project_id,
        "name": path.split("/")[-1],
        "description": "",
        "web_url": web,
        "avatar_url": None,
        "git_ssh_url": ssh,
        "git_http_url": f"{web}.git",
        "namespace": path.split("/")[0],
        "visibility_level": 0,
        "path_with_namespace": path,
        "default_branch": "main",
        "homepage": web,
        "url": ssh,
        "ssh_url": ssh,
        "http_url": f"{web}.git",
    }


def _gitlab_commit(commit: str, *, web_url: str) -> dict[str, Any]:
    return {
        "id": commit,
        "message": f"Change {commit[:7]}\n",
        "title": f"Change {commit[:7]}",
        "timestamp": "2026-01-02T03:04:05+00:00",
        "url": f"{web_url}/-/commit/{commit}",
        "author": {"name": "Dev One", "email": "dev@example.com"},
        "added": [],
        "modified": ["resources/app.yaml"],
        "removed": [],
    }


def gitlab_push(
    *,
    ref: str = "refs/heads/main",
    before: str = sha("main~1"),
    after: str = sha("main"),
    commits: int = 1,
    sent: int = 20,
    path: str = GITLAB_PROJECT,
    project_id: int = 31,
) -> dict[str, Any]:
    """A `Push Hook` (or, for a `refs/tags/` ref, a `Tag Push Hook`) body with `commits`
    commits pushed, of which GitLab lists at most `sent` (the newest last)."""
    project = gitlab_project(path, project_id=project_id)
    deleted = after == ZERO_SHA
    ids = [] if deleted else [sha(f"{after} - {n}") for n in range(commits - 1, 0, -1)] + [after]
    kind = "tag_push" if ref.startswith("refs/tags/") else "push"
    return {
        "object_kind": kind,
        "event_name": kind,
        "before": before,
        "after": after,
        "ref": ref,
        "ref_protected": True,
        "checkout_sha": None if deleted else after,
        "message": None,
        "user_id": 4,
        "user_name": "Dev One",
        "user_username": "dev1",
        "user_email": "",
        "user_avatar": None,
        "project_id": project_id,
        "project": project,
        "commits": [_gitlab_commit(c, web_url=project["web_url"]) for c in ids[-sent:]],
        "total_commits_count": len(ids),
        "repository": {
            "name": project["name"],
            "url": project["url"],
            "description": "",
            "homepage": project["homepage"],
            "git_http_url": project["git_http_url"],
            "git_ssh_url": project["git_ssh_url"],
            "visibility_level": 0,
        },
    }


def gitlab_merge_request(
    *,
    action: str = "open",
    iid: int = 3,
    source: tuple[str, str] = ("feature", sha("feature")),
    target: str = "main",
    path: str = GITLAB_PROJECT,
    project_id: int = 31,
    url: str | None = None,
) -> dict[str, Any]:
    """A `Merge Request Hook` body; `source` is (branch, last commit). GitLab's actions
    are `open`, `reopen`, `update`, `close`, `merge`, `approved`, ...; `url` replaces every
    project URL (a local test repository)."""
    project = gitlab_project(path, project_id=project_id)
    if url:
        for key in ("git_http_url", "git_ssh_url", "http_url", "url", "web_url", "ssh_url"):
            project[key] = url
    branch, commit = source
    attributes: dict[str, Any] = {
        "id": 500 + iid,
        "iid": iid,
        "title": "Tighten the policies",
        "state": "opened",
        "action": action,
        "source_branch": branch,
        "target_branch": target,
        "source_project_id": project_id,
        "target_project_id": project_id,
        "merge_status": "unchecked",
        "url": f"{GITLAB_HOST}/{path}/-/merge_requests/{iid}",
        "last_commit": _gitlab_commit(commit, web_url=f"{GITLAB_HOST}/{path}"),
        "source": project,
        "target": project,
    }
    if action == "update":
        attributes["oldrev"] = sha(f"{branch}~1")
    return {
        "object_kind": "merge_request",
        "event_type": "merge_request",
        "user": {"id": 4, "name": "Dev One", "username": "dev1", "avatar_url": None},
        "project": project,
        "object_attributes": attributes,
        "labels": [],
        "changes": {},
        "repository": {
            "name": project["name"],
            "url": project["url"],
            "homepage": project["homepage"],
        },
    }
