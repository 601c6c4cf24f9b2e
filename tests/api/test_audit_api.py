"""The audit log over HTTP: entries after a position and the chain's verification, for the
viewer role and up; a bad query is refused with its reason."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.store import interfaces
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests.api import live

VIEWER = "v-token"
TOKENS = [{"name": "vera", "role": "viewer", "sha256": hashlib.sha256(VIEWER.encode()).hexdigest()}]
AUTH = {"Authorization": f"Bearer {VIEWER}"}
FIELDS = ("seq", "id", "at", "type", "subject", "actor", "data", "prev_hash")


@pytest.fixture
def guarded(tmp_path: Path, repo: Path) -> Iterator[live.Live]:
    source = {"name": "demo", "path": str(repo), "ref": "main", "interval": "1h"}
    settings = live.settings_for(tmp_path / "data", source, auth={"tokens": TOKENS})
    with live.serve(settings, run_daemon=False) as running:
        store = SqliteStore(tmp_path / "data" / "reconciler.db", retention=RetentionSettings())
        for n in range(3):
            store.append_event(
                interfaces.EventRecord(
                    at=datetime(2026, 3, 1, tzinfo=UTC),
                    type="ApprovalAnswered",
                    object_key=f"run/r{n}",
                    data={"actor": f"person{n}", "approved": True},
                )
            )
        store.close()
        yield running


def test_a_viewer_reads_the_entries_after_a_position(guarded: live.Live) -> None:
    assert guarded.get("/api/v1/audit").status_code == 401
    r = guarded.get("/api/v1/audit?since=1&limit=1", headers=AUTH)
    assert r.status_code == 200
    [entry] = r.json()["entries"]
    assert (entry["seq"], entry["subject"], entry["actor"]) == (2, "run/r1", "person1")
    assert set(entry) == {*FIELDS, "hash"}


@pytest.mark.parametrize(
    ("query", "error"),
    [("since=-1", "since must be a position (0 or more)"), ("limit=0", "limit must be 1..1000")],
)
def test_a_bad_query_is_refused(guarded: live.Live, query: str, error: str) -> None:
    r = guarded.get(f"/api/v1/audit?{query}", headers=AUTH)
    assert (r.status_code, r.json()) == (400, {"error": error})


def test_verify_names_the_first_broken_entry(guarded: live.Live, tmp_path: Path) -> None:
    r = guarded.get("/api/v1/audit/verify", headers=AUTH)
    body = r.json()
    assert (r.status_code, body["intact"], body["count"], body["headSeq"]) == (200, True, 3, 3)
    with sqlite3.connect(tmp_path / "data" / "reconciler.db") as conn:
        conn.execute("UPDATE audit_log SET actor = 'someone else' WHERE seq = 3")
    conn.close()
    body = guarded.get("/api/v1/audit/verify", headers=AUTH).json()
    assert (body["intact"], body["breach"], body["seq"], body["count"]) == (False, "edited", 3, 2)
