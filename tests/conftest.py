"""Suite-wide rules: the "external corpus" group.

Tests under `tests/external/` run material written outside this project (real forge
payloads, Kubernetes manifests, the gatekeeper-library and conftest policy corpora) that
lives in `../shared/` beside the clone and is never copied in. A clone without `../shared`
skips that group with one reason; CI (`CI` set) must have it, so there it fails instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import postgres as postgres_server
from tests.postgres import Server

HERE = Path(__file__).resolve().parent
SHARED = HERE.parents[1] / "shared"
EXTERNAL = HERE / "external"
MISSING = f"external corpus: {SHARED} is not present (it sits beside a clone in CI only)"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    external = [item for item in items if EXTERNAL in Path(str(item.path)).parents]
    for item in external:
        item.add_marker(pytest.mark.external_corpus)
    if SHARED.is_dir() or not external:
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(f"{MISSING}; CI must run the external corpus group")
    for item in external:
        item.add_marker(pytest.mark.skip(reason=MISSING))


@pytest.fixture(scope="session")
def shared() -> Path:
    """`../shared`: fixtures and corpora written outside the project (read-only)."""
    return SHARED


@pytest.fixture(scope="session")
def postgres() -> Iterator[Server]:
    """A real PostgreSQL server for the session (`tests/postgres.py`)."""
    if postgres_server.binaries() is None:
        if os.environ.get("CI"):
            raise pytest.UsageError(postgres_server.MISSING)
        pytest.skip(postgres_server.MISSING)
    yield from postgres_server.serve()
