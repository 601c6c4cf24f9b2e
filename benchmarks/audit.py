"""What the audit chain costs: appending audited events, and verifying the whole chain.

Appends N events of an audited type (`ResourceApplied`: each also chained onto the audit
log in the same transaction) and N of a type that is not audited (`ReconcileFinished`:
the event feed alone) through `SqliteStore.append_event`, one transaction each as the
daemon writes them, into fresh stores. Then walks the chain with `verify_audit` (read,
parse, hash every entry) against reading the same entries without hashing
(`audit_entries` page by page). Prints events/s and entries/s, and `ratio` lines.

    python benchmarks/audit.py [--events 5000] [--quick]
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import timing

from reconciler.store import interfaces, sqlite
from reconciler.store.retention import RetentionSettings

START = datetime(2026, 1, 1, tzinfo=UTC)


def events(count: int, type_: str) -> list[interfaces.EventRecord]:
    return [
        interfaces.EventRecord(
            at=START + timedelta(milliseconds=i),
            type=type_,
            object_key=f"File//web-{i % 500}",
            message="applied",
            data={"source": "main", "revision": "a" * 40, "provider": "file", "result": "applied"},
        )
        for i in range(count)
    ]


def append(path: Path, batch: list[interfaces.EventRecord]) -> sqlite.SqliteStore:
    store = sqlite.SqliteStore(path, retention=RetentionSettings(max_events=10**9))
    for event in batch:
        store.append_event(event)
    return store


def read_plain(store: sqlite.SqliteStore) -> int:
    count, after = 0, 0
    while page := store.audit_entries(since=after, limit=1000):
        count, after = count + len(page), page[-1].seq
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--quick", action="store_true", help="300 events")
    args = parser.parse_args()
    count = 300 if args.quick else args.events
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        plain_s, plain = timing.best_of(
            1, lambda: append(tmp / "plain.db", events(count, "ReconcileFinished"))
        )
        audited_s, store = timing.best_of(
            1, lambda: append(tmp / "audited.db", events(count, "ResourceApplied"))
        )
        plain.close()
        verify_s, verified = timing.best_of(3, store.verify_audit)
        read_s, read = timing.best_of(3, lambda: read_plain(store))
        store.close()
    assert verified.intact and verified.count == read == count
    print(f"append, not audited: {count / plain_s:,.0f} events/s")
    print(f"append, audited:     {count / audited_s:,.0f} events/s")
    print(f"verify:              {count / verify_s:,.0f} entries/s ({count} entries)")
    timing.ratio("audited append", audited_s, plain_s, against="appending an unaudited event")
    timing.ratio("verify", verify_s, read_s, against="reading the entries without hashing")


if __name__ == "__main__":
    main()
