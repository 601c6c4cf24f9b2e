"""Failures show. A store that takes no more writes shows: the source's `StoreFailed`
condition and a 503 `/readyz` naming SQLite's reason, and both clear once writes succeed
again. The full disk is SQLite's own: `PRAGMA max_page_count` caps the file at its current
size, so every write that needs a new page fails with "database or disk is full", as on a
full file system. A revision whose data nests too deep is rejected like any invalid one,
naming file and line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests import gitrepo
from tests.api import live


def _cap_pages(served: live.Live, *, full: bool) -> None:
    """Cap (or lift the cap on) the database's size on every connection from now on."""
    store: Any = served.daemon.store
    engine: sa.Engine = store._engine  # the cap is per connection: set it on each new one

    def cap(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        pages = cursor.execute("PRAGMA page_count").fetchone()[0]
        cursor.execute(f"PRAGMA max_page_count = {pages if full else 1_000_000_000}")
        cursor.close()

    sa.event.listen(engine, "connect", cap)
    engine.dispose()  # pooled connections reconnect through the listener


def _conditions(served: live.Live) -> dict[str, tuple[str, str]]:
    source = served.get("/api/v1/sources/demo").json()
    return {c["type"]: (c["status"], c["message"]) for c in source["conditions"]}


def test_a_full_store_fails_the_source_and_readiness_until_writes_succeed(
    served: live.Live,
) -> None:
    path = served.daemon.settings.data_dir / "reconciler.db"
    assert served.get("/readyz").status_code == 200
    _cap_pages(served, full=True)
    # Fill the last free pages so the next write needs a new one.
    passes = served.passes("demo")
    for n in range(200):
        served.post("/api/v1/sources/demo/sync")
        served.wait_for(lambda n=n: served.passes("demo") > passes + n, "a pass")
        if "StoreFailed" in _conditions(served):
            break
    conditions = _conditions(served)
    status, message = conditions["StoreFailed"]
    assert status == "True"
    assert message == f"{path}: cannot write the database: database or disk is full"
    assert conditions["Ready"][0] == "False"
    r = served.get("/readyz")
    assert r.status_code == 503
    assert r.json()["store"] is False
    assert r.json()["reason"] == message

    _cap_pages(served, full=False)
    passes = served.passes("demo")
    served.post("/api/v1/sources/demo/sync")
    served.wait_for(lambda: served.passes("demo") > passes, "a pass after the disk has room")
    assert "StoreFailed" not in _conditions(served)
    assert served.get("/readyz").status_code == 200


DEEP = 100_000


def test_a_revision_nested_too_deep_is_rejected_and_the_last_good_one_kept(
    served: live.Live, repo: Path
) -> None:
    good = served.get("/api/v1/sources/demo").json()["revision"]
    bad = gitrepo.commit(
        repo,
        {
            "data/deep.json": '{"a": ' + "[" * DEEP + "]" * DEEP + "}\n",
            "data/deep.yaml": "b:\n  c: " + "[" * DEEP + "]" * DEEP + "\n",
        },
    )
    passes = served.passes("demo")
    served.post("/api/v1/sources/demo/sync")
    served.wait_for(lambda: served.passes("demo") > passes, "the pass over the deep revision")
    source = served.get("/api/v1/sources/demo").json()
    assert (source["revision"], source["rejectedRevision"]) == (good, bad)
    spec_invalid = [c for c in source["conditions"] if c["type"] == "SpecInvalid"]
    assert [(c["status"], c["reason"]) for c in spec_invalid] == [("True", "ValidationFailed")]
    assert "data/deep.json:1: nested deeper than the limit of 1000" in spec_invalid[0]["message"]
    assert "data/deep.yaml:2: nested deeper than the limit of 1000" in spec_invalid[0]["message"]
    rejected = served.get("/api/v1/events", params={"limit": 1000}).json()["events"]
    problems = [e["data"]["problems"] for e in rejected if e["type"] == "RevisionRejected"]
    assert problems == [
        [
            "data/deep.json:1: nested deeper than the limit of 1000",
            "data/deep.yaml:2: nested deeper than the limit of 1000",
        ]
    ]
