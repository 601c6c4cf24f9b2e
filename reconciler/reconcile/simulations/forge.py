"""Posting a simulation's verdict to the forge the pull request lives on, over its REST API.

GitHub gets a check run (the `simulate.github` payload) and the Markdown report as pull
request comments; GitLab gets a commit status and the report as merge-request notes. Each
comment part carries a hidden marker (`<!-- reconciler-simulation part 1/2 -->`), so a
later simulation of the same pull request edits the comments it wrote before instead of
adding new ones, and deletes parts it no longer needs. Posting needs the network (through
`reconciler.httpclient`); the tests run it against a local HTTP server standing in for the
forge. Tokens go into request headers only and are masked out of every error message.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler import httpclient
from reconciler.source.settings import redact_text

MARKER = "<!-- reconciler-simulation part {index}/{total} -->"
_MARKED = re.compile(r"<!-- reconciler-simulation part (\d+)/(\d+) -->")
_PAGES = 20  # comments listed: at most 20 pages of 100
STATUS_NAME = "reconciler simulate"
_GITLAB_STATE = {"success": "success", "neutral": "success", "failure": "failed"}


class ForgeError(Exception):
    """The forge refused a request, or could not be reached."""


@dataclass(frozen=True, kw_only=True)
class Edit:
    """One change to the pull request's comments: create (no id), update or delete."""

    action: str  # create | update | delete
    comment_id: int | None = None
    body: str = ""


class Client:
    """JSON over HTTP(S) to one forge API with one token."""

    def __init__(
        self, *, api_url: str, headers: Mapping[str, str], token: str, timeout: float = 10.0
    ) -> None:
        self._base, self._headers = api_url.rstrip("/"), dict(headers)
        self._token, self._timeout = token, timeout

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """The decoded JSON answer (None when empty); `ForgeError` on any failure."""
        headers = {**self._headers, "User-Agent": "reconciler"}
        try:
            answer = httpclient.request(
                method,
                self._base + path,
                headers=headers,
                json=body,
                timeout=self._timeout,
                secrets=(self._token,),
            )
        except httpclient.HttpFailed as exc:
            raise ForgeError(self._clean(f"{method} {path} {exc.reason}")) from None
        if not answer.ok:
            detail = answer.body[:500].decode(errors="replace").strip()
            message = f"{method} {path} answered {answer.status}: {detail}"
            raise ForgeError(self._clean(message))
        try:
            return answer.json() if answer.body.strip() else None
        except ValueError:
            raise ForgeError(f"{method} {path} answered with something that is not JSON") from None

    def _clean(self, text: str) -> str:
        return redact_text(text, secrets=(self._token,))


def github_client(*, api_url: str, token: str) -> Client:
    return Client(
        api_url=api_url,
        token=token,
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        },
    )


def gitlab_client(*, api_url: str, token: str) -> Client:
    return Client(api_url=api_url, token=token, headers={"PRIVATE-TOKEN": token})


def marked(parts: Sequence[str]) -> list[str]:
    """Each part headed by its hidden marker."""
    total = len(parts)
    return [
        f"{MARKER.format(index=i, total=total)}\n{part}" for i, part in enumerate(parts, start=1)
    ]


def edits(existing: Sequence[tuple[int, str]], parts: Sequence[str]) -> list[Edit]:
    """Turn the comments there are (id, body) into `parts`: our part i is updated with the
    new part i, missing parts are created, our parts beyond the new count are deleted."""
    ours: dict[int, int] = {}
    for comment_id, body in existing:
        found = _MARKED.search(body or "")
        if found and int(found.group(1)) not in ours:
            ours[int(found.group(1))] = comment_id
    out = [
        Edit(action="update", comment_id=ours[i], body=b)
        if i in ours
        else Edit(action="create", body=b)
        for i, b in enumerate(marked(parts), start=1)
    ]
    out += [Edit(action="delete", comment_id=c) for i, c in sorted(ours.items()) if i > len(parts)]
    return out


def _listed(client: Client, path: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for page in range(1, _PAGES + 1):
        batch = client.call("GET", f"{path}?per_page=100&page={page}") or []
        found += [(int(c["id"]), str(c.get("body") or "")) for c in batch]
        if len(batch) < 100:
            break
    return found


def post_github(
    client: Client,
    *,
    repo: str,
    number: int | None,
    check_run: Mapping[str, Any],
    parts: Sequence[str],
) -> None:
    """The check run, then the comments (when there is a pull request)."""
    client.call("POST", f"/repos/{repo}/check-runs", dict(check_run))
    if number is None:
        return
    issue = f"/repos/{repo}/issues"
    for edit in edits(_listed(client, f"{issue}/{number}/comments"), parts):
        if edit.action == "create":
            client.call("POST", f"{issue}/{number}/comments", {"body": edit.body})
        elif edit.action == "update":
            client.call("PATCH", f"{issue}/comments/{edit.comment_id}", {"body": edit.body})
        else:
            client.call("DELETE", f"{issue}/comments/{edit.comment_id}")


def post_gitlab(
    client: Client,
    *,
    project: str,
    number: int | None,
    sha: str,
    conclusion: str,
    summary: str,
    parts: Sequence[str],
) -> None:
    """The commit status, then the notes (when there is a merge request)."""
    base = f"/projects/{urllib.parse.quote(project, safe='')}"
    client.call(
        "POST",
        f"{base}/statuses/{sha}",
        {
            "state": _GITLAB_STATE.get(conclusion, "failed"),
            "name": STATUS_NAME,
            "description": summary[:255],
        },
    )
    if number is None:
        return
    notes = f"{base}/merge_requests/{number}/notes"
    for edit in edits(_listed(client, notes), parts):
        if edit.action == "create":
            client.call("POST", notes, {"body": edit.body})
        elif edit.action == "update":
            client.call("PUT", f"{notes}/{edit.comment_id}", {"body": edit.body})
        else:
            client.call("DELETE", f"{notes}/{edit.comment_id}")
