"""Fixtures for the HTTP tests: a served daemon on a real repository, and one whose
sources point at the repositories named in `tests/forge_payloads.py` (never fetched)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api import live

GITHUB_SECRET_ENV = "RECONCILER_TEST_GITHUB_SECRET"
GITLAB_TOKEN_ENV = "RECONCILER_TEST_GITLAB_TOKEN"
GENERIC_TOKEN_ENV = "RECONCILER_TEST_GENERIC_TOKEN"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "repo"
    live.demo_repo(path, out=tmp_path / "out")
    return path


@pytest.fixture
def served(tmp_path: Path, repo: Path) -> Iterator[live.Live]:
    """The daemon following `repo`, after its first reconcile (whose trigger is cleared)."""
    settings = live.settings_for(
        tmp_path / "data", {"name": "demo", "path": str(repo), "ref": "main", "interval": "1h"}
    )
    with live.serve(settings) as running:
        running.wait_for(lambda: running.passes("demo") >= 1, "the first reconcile")
        assert running.triggers == [("demo", "startup")]
        running.triggers.clear()
        yield running


@pytest.fixture
def forge_served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[live.Live]:
    """Sources following the built payloads' repositories; the daemon itself is not started,
    so nothing is fetched and every trigger stays in `triggers`."""
    with forge_serve(tmp_path, monkeypatch) as running:
        yield running


@contextlib.contextmanager
def forge_serve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **extra: Any
) -> Iterator[live.Live]:
    """`forge_served` with extra daemon settings (e.g. `http`)."""
    monkeypatch.setenv(GITHUB_SECRET_ENV, "gh-s3cret")
    monkeypatch.setenv(GITLAB_TOKEN_ENV, "gl-t0ken")
    monkeypatch.setenv(GENERIC_TOKEN_ENV, "gen-t0ken")
    cache = str(tmp_path / "cache")
    settings = live.settings_for(
        tmp_path / "data",
        {"name": "web", "url": "https://github.com/acme/web.git", "ref": "main", "cacheDir": cache},
        {"name": "web-dev", "url": "git@github.com:ACME/Web", "ref": "dev", "cacheDir": cache},
        {
            "name": "deploy",
            "url": "https://gitlab.example.com/platform/deploy.git",
            "ref": "main",
            "cacheDir": cache,
        },
        {
            "name": "other",
            "url": "https://github.com/octo/other.git",
            "ref": "main",
            "cacheDir": cache,
        },
        webhooks={
            "githubSecretEnv": GITHUB_SECRET_ENV,
            "gitlabTokenEnv": GITLAB_TOKEN_ENV,
            "genericTokenEnv": GENERIC_TOKEN_ENV,
        },
        **extra,
    )
    with live.serve(settings, run_daemon=False) as running:
        yield running
