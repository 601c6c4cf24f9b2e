"""Pull requests for the simulation tests: a temp repository whose head commit (reachable
only as `refs/pull/2/head` and `refs/merge-requests/1/head`, as on the forges) adds a strict
policy that denies a File already there, and forge deliveries (`tests/forge_payloads.py`)
that point at it (repository URLs, base and head commits)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from reconciler.store.interfaces import SimulationRecord, SimulationStatus
from tests import forge_payloads as fp
from tests import gitrepo
from tests.api import live

GITHUB_SECRET_ENV, GITLAB_TOKEN_ENV = "RECONCILER_TEST_PR_SECRET", "RECONCILER_TEST_PR_GL"
GITHUB_API_ENV, GITLAB_API_ENV = "RECONCILER_TEST_GH_API_TOKEN", "RECONCILER_TEST_GL_API_TOKEN"
SECRET, GL_HOOK_TOKEN = "pr-s3cret", "gl-hook-t0ken"
GH_TOKEN, GL_TOKEN = "ghp_test_token_0123456789", "glpat-test-token-0123456789"
RECURSION = """package files.runaway

import rego.v1

f(x) := f(x)

deny contains msg if {
	msg := f(input.resource.metadata.name)
}
"""
RUNAWAY_BINDING = """apiVersion: reconciler.dev/v1
kind: PolicyBinding
metadata: {name: runaway}
spec: {policy: files.runaway, scope: {kinds: [File]}, enforcement: strict}
"""


@dataclass
class PrRepo:
    path: Path
    base: str
    head: str

    @property
    def url(self) -> str:
        return f"file://{self.path}"

    def head_commit(self, files: Mapping[str, str], *, number: int) -> str:
        """A new head for pull request `number` on top of base (its refs only)."""
        gitrepo.git(self.path, "checkout", "--quiet", "-b", f"pr-{number}", self.base)
        head = gitrepo.commit(self.path, dict(files), message=f"pull request {number}")
        gitrepo.git(self.path, "checkout", "--quiet", "main")
        gitrepo.git(self.path, "update-ref", f"refs/pull/{number}/head", head)
        gitrepo.git(self.path, "update-ref", f"refs/merge-requests/{number}/head", head)
        gitrepo.git(self.path, "branch", "--quiet", "-D", f"pr-{number}")
        return head


def make(path: Path, *, out: Path) -> PrRepo:
    """Base: two Files, no policy. Head of pull request 2 (and merge request 1): the strict
    owner policy, which denies `banner` (it has no owner label)."""
    files = "---\n".join(
        [
            live.file_doc("motd", path=out / "motd", owner="platform"),
            live.file_doc("banner", path=out / "banner", owner=None),
        ]
    )
    base = gitrepo.make_repo(
        path, {"reconciler.yaml": live.SETTINGS_YAML, "resources/files.yaml": files}
    )
    repo = PrRepo(path=path, base=base, head="")
    policy = {"policies/owner.rego": live.OWNER_REGO, "policies/bindings.yaml": live.BINDING_YAML}
    repo.head = repo.head_commit(policy, number=2)
    repo.head_commit(policy, number=1)
    return repo


def settings(tmp: Path, repo: PrRepo, *, forge_url: str, **extra: Any) -> Any:
    return live.settings_for(
        tmp / "data",
        {
            "name": "policies",
            "url": repo.url,
            "ref": "main",
            "interval": "1h",
            "cacheDir": str(tmp / "cache"),
        },
        webhooks={"githubSecretEnv": GITHUB_SECRET_ENV, "gitlabTokenEnv": GITLAB_TOKEN_ENV},
        forges={
            "github": {"apiUrl": forge_url, "tokenEnv": GITHUB_API_ENV},
            "gitlab": {"apiUrl": forge_url, "tokenEnv": GITLAB_API_ENV},
        },
        **extra,
    )


def github_payload(repo: PrRepo, *, head: str, action: str = "opened", number: int = 2) -> bytes:
    payload = fp.github_pull_request(
        action=action,
        number=number,
        head=("gone-branch", head),
        base=("main", repo.base),
        full_name="acme/policies",
        url=repo.url,
    )
    return fp.encode(payload)


def gitlab_payload(repo: PrRepo, *, head: str, action: str = "open") -> bytes:
    payload = fp.gitlab_merge_request(
        action=action, iid=1, source=("gone-branch", head), project_id=14, url=repo.url
    )
    return fp.encode(payload)


def deliver_github(served: live.Live, body: bytes, *, signed: bool = True) -> httpx.Response:
    headers = fp.github_headers("pull_request", body, secret=SECRET if signed else None)
    return served.post("/webhooks/github", content=body, headers=headers)


def deliver_gitlab(served: live.Live, body: bytes) -> httpx.Response:
    headers = fp.gitlab_headers("Merge Request Hook", token=GL_HOOK_TOKEN)
    return served.post("/webhooks/gitlab", content=body, headers=headers)


def finished(served: live.Live, sim_id: str, *, timeout: float = 90) -> SimulationRecord:
    """The simulation once it ended (and its forge report was made)."""
    done = {SimulationStatus.SUCCEEDED, SimulationStatus.FAILED, SimulationStatus.CANCELLED}

    def ended() -> bool:
        found = served.daemon.store.get_simulation(sim_id)
        return found is not None and found.status in done

    served.wait_for(ended, f"simulation {sim_id} to finish", timeout=timeout)
    found = served.daemon.store.get_simulation(sim_id)
    assert found is not None
    return found
