"""Decision-log throughput of the SQLite store against raw `sqlite3` on the same machine.

Appends N decisions in batches through `SqliteStore.append_decisions` (which also keeps the
latest decision per policy and resource current) and reads them back with `iter_decisions`,
then does the same with the stdlib driver alone: `executemany` of the same rows into a table
of the same columns, one transaction per batch, with the same pragmas, and a plain cursor
read. Both start from `Decision` records, so converting them to rows is timed in both.
Prints rows/s for each and `ratio` lines (store / raw; 1.0 would be no overhead).

    python benchmarks/store.py [--rows 100000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from reconciler.policy.decisions import Action, Decision, Outcome, ResourceRef
from reconciler.specs.models import Enforcement
from reconciler.store import sqlite
from reconciler.store.retention import RetentionSettings

COLUMNS = (
    "policy, binding, key, api_version, kind, namespace, name, path, outcome, messages,"
    " enforcement, action, revision, input_digest, explanation, at"
)


def make_decisions(count: int) -> list[Decision]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    outcomes = (Outcome.ALLOW, Outcome.ALLOW, Outcome.WARN, Outcome.DENY)
    return [
        Decision(
            policy=f"pack.policy{i % 5}",
            binding=f"binding-{i % 5}",
            resource=ResourceRef(
                api_version="apps/v1",
                kind="Deployment",
                namespace="prod",
                name=f"web-{i % 2000}",
                path=f"resources/web-{i % 2000}.yaml",
            ),
            outcome=outcomes[i % 4],
            messages=(f"web-{i % 2000}: missing label owner",),
            enforcement=Enforcement.STRICT,
            action_taken=Action.ALLOWED,
            revision="a" * 40,
            input_digest=f"{i:064x}",
            explanation="rule deny matched",
            at=start + timedelta(milliseconds=i),
        )
        for i in range(count)
    ]


def raw_row(d: Decision) -> tuple[object, ...]:
    r = d.resource
    return (
        d.policy,
        d.binding,
        r.key,
        r.api_version,
        r.kind,
        r.namespace,
        r.name,
        r.path,
        d.outcome.value,
        json.dumps(list(d.messages)),
        d.enforcement.value,
        d.action_taken.value,
        d.revision,
        d.input_digest,
        d.explanation,
        d.at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" "),
    )


def raw_append(path: Path, batches: list[list[Decision]]) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        conn.execute(f"PRAGMA {pragma}")
    conn.execute(f"CREATE TABLE decisions (id INTEGER PRIMARY KEY AUTOINCREMENT, {COLUMNS})")
    placeholders = ", ".join("?" * len(COLUMNS.split(",")))
    for batch in batches:
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(
            f"INSERT INTO decisions ({COLUMNS}) VALUES ({placeholders})",
            [raw_row(d) for d in batch],
        )
        conn.execute("COMMIT")
    conn.close()


def raw_iterate(path: Path, batch: int) -> int:
    conn = sqlite3.connect(path)
    cursor = conn.execute(f"SELECT id, {COLUMNS} FROM decisions ORDER BY id")
    count = 0
    while rows := cursor.fetchmany(batch):
        count += len(rows)
    conn.close()
    return count


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def measure(tmp: Path, *, batches: list[list[Decision]], rows: int, batch: int) -> dict[str, float]:
    store = sqlite.SqliteStore(tmp / "store.db", retention=RetentionSettings())
    times = {
        "store append": timed(lambda: [store.append_decisions(b) for b in batches]),
        "store iterate": timed(lambda: sum(1 for _ in store.iter_decisions(batch))),
    }
    assert sum(1 for _ in store.iter_decisions(batch)) == rows
    store.close()
    times["raw append"] = timed(lambda: raw_append(tmp / "raw.db", batches))
    times["raw iterate"] = timed(lambda: raw_iterate(tmp / "raw.db", batch))
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    args = parser.parse_args()
    decisions = make_decisions(args.rows)
    batches = [decisions[i : i + args.batch] for i in range(0, args.rows, args.batch)]
    best: dict[str, float] = {}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            times = measure(Path(tmp), batches=batches, rows=args.rows, batch=args.batch)
        best = {k: min(v, best.get(k, v)) for k, v in times.items()}
    print(f"{args.rows:,} decisions in batches of {args.batch}, best of {args.repeat}")
    for what in ("append", "iterate"):
        report(what, rows=args.rows, store=best[f"store {what}"], raw=best[f"raw {what}"])


def report(what: str, *, rows: int, store: float, raw: float) -> None:
    print(f"{what:8} store {rows / store:>10,.0f} rows/s   raw sqlite3 {rows / raw:>10,.0f} rows/s")
    print(f"ratio {what} store/raw throughput: {raw / store:.2f}")


if __name__ == "__main__":
    main()
