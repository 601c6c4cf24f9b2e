"""Decision-log throughput of the SQLite store against raw `sqlite3` doing the same work.

Appends N decisions in batches through `SqliteStore.append_decisions` and reads them back
as `Decision` records with `iter_decisions`. The baseline does the same with the stdlib
driver alone, on the same machine and pragmas: tables with the store's columns and
indexes, per batch one transaction that `executemany`s the log rows and folds them into
the latest-decision table (one row per policy and resource, the newer wins, as the store
keeps it), and a read that turns every row back into a `Decision`. Both start from
`Decision` records, so converting to and from rows is timed on both sides.
Prints rows/s for each and `ratio` lines: store time / raw sqlite3 time, lower is better
(1.0 would be no overhead).

    python benchmarks/store.py [--rows 100000] [--batch 1000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import timing

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


NAMES = [c.strip() for c in COLUMNS.split(",")]
SCHEMA = (
    f"CREATE TABLE decisions (id INTEGER PRIMARY KEY AUTOINCREMENT, {COLUMNS})",
    "CREATE INDEX ix_decisions_policy_id ON decisions (policy, id)",
    "CREATE INDEX ix_decisions_key_id ON decisions (key, id)",
    "CREATE INDEX ix_decisions_at ON decisions (at)",
    f"CREATE TABLE current_decisions ({COLUMNS}, PRIMARY KEY (policy, key))",
    "CREATE INDEX ix_current_decisions_outcome ON current_decisions (outcome)",
)
FOLD = (
    f"INSERT INTO current_decisions ({COLUMNS}) SELECT {COLUMNS} FROM decisions"
    " WHERE id > ? ORDER BY id ON CONFLICT (policy, key) DO UPDATE SET "
    + ", ".join(f"{n} = excluded.{n}" for n in NAMES if n not in ("policy", "key"))
    + " WHERE excluded.at >= current_decisions.at"
)


def raw_append(path: Path, batches: list[list[Decision]]) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON"):
        conn.execute(f"PRAGMA {pragma}")
    for statement in SCHEMA:
        conn.execute(statement)
    insert = f"INSERT INTO decisions ({COLUMNS}) VALUES ({', '.join('?' * len(NAMES))})"
    for batch in batches:
        conn.execute("BEGIN IMMEDIATE")
        (before,) = conn.execute("SELECT coalesce(max(id), 0) FROM decisions").fetchone()
        conn.executemany(insert, [raw_row(d) for d in batch])
        conn.execute(FOLD, (before,))
        conn.execute("COMMIT")
    conn.close()


def raw_decision(row: tuple[object, ...]) -> Decision:
    values = dict(zip(NAMES, row[1:], strict=True))
    return Decision(
        policy=str(values["policy"]),
        binding=str(values["binding"]),
        resource=ResourceRef(
            api_version=str(values["api_version"]),
            kind=str(values["kind"]),
            namespace=values["namespace"],  # type: ignore[arg-type]
            name=str(values["name"]),
            path=str(values["path"]),
        ),
        outcome=Outcome(values["outcome"]),
        messages=tuple(json.loads(str(values["messages"]))),
        enforcement=Enforcement(values["enforcement"]),
        action_taken=Action(values["action"]),
        revision=values["revision"],  # type: ignore[arg-type]
        input_digest=str(values["input_digest"]),
        explanation=str(values["explanation"]),
        at=datetime.fromisoformat(str(values["at"])).replace(tzinfo=UTC),
    )


def raw_iterate(path: Path, batch: int) -> int:
    conn = sqlite3.connect(path)
    cursor = conn.execute(f"SELECT id, {COLUMNS} FROM decisions ORDER BY id")
    count = 0
    while rows := cursor.fetchmany(batch):
        count += len([raw_decision(row) for row in rows])
    conn.close()
    return count


def measure(tmp: Path, *, batches: list[list[Decision]], rows: int, batch: int) -> dict[str, float]:
    store = sqlite.SqliteStore(tmp / "store.db", retention=RetentionSettings(max_decisions=rows))
    times = {
        "store append": timing.best_of(1, lambda: [store.append_decisions(b) for b in batches])[0],
        "store iterate": timing.best_of(1, lambda: sum(1 for _ in store.iter_decisions(batch)))[0],
    }
    assert sum(1 for _ in store.iter_decisions(batch)) == rows
    store.close()
    times["raw append"] = timing.best_of(1, lambda: raw_append(tmp / "raw.db", batches))[0]
    times["raw iterate"], read = timing.best_of(1, lambda: raw_iterate(tmp / "raw.db", batch))
    assert read == rows, read
    assert latest_count(tmp / "raw.db") == latest_count(tmp / "store.db")
    return times


def latest_count(path: Path) -> int:
    conn = sqlite3.connect(path)
    (count,) = conn.execute("SELECT count(*) FROM current_decisions").fetchone()
    conn.close()
    return int(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many runs")
    parser.add_argument("--quick", action="store_true", help="2,000 rows, best of 1")
    args = parser.parse_args()
    if args.quick:
        args.rows, args.repeat = 2_000, 1
    decisions = make_decisions(args.rows)
    batches = [decisions[i : i + args.batch] for i in range(0, args.rows, args.batch)]
    best: dict[str, float] = {}
    for _ in range(args.repeat):  # each round on fresh databases: appends are not repeatable
        with tempfile.TemporaryDirectory() as tmp:
            times = measure(Path(tmp), batches=batches, rows=args.rows, batch=args.batch)
        best = {k: min(v, best.get(k, v)) for k, v in times.items()}
    print(f"{args.rows:,} decisions in batches of {args.batch}, best of {args.repeat}")
    for what in ("append", "iterate"):
        report(what, rows=args.rows, store=best[f"store {what}"], raw=best[f"raw {what}"])


def report(what: str, *, rows: int, store: float, raw: float) -> None:
    print(f"{what:8} store {rows / store:>10,.0f} rows/s   raw sqlite3 {rows / raw:>10,.0f} rows/s")
    timing.ratio(f"{what} time", store, raw, against="raw sqlite3 doing the same work")


if __name__ == "__main__":
    main()
