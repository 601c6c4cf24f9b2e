"""Failover and scale-out of replicas on one PostgreSQL (a real server, `tests/postgres.py`).

Takeover: three `reconciler serve` replicas share one database and SOURCES sources; the
owner of source `s0` is killed with SIGKILL, again and again (a fresh replica replaces each
one killed). For each kill it measures, from the kill, when another replica held the
source's lease (`takeover`) and when that replica's first pass of it started (`resumed`),
and prints their p50/p99 against the configured lease ttl (a ratio line: takeover / ttl).
Throughput: 1, 2 and 3 replicas each reconcile the same sources for a window; the passes
finished per second are counted in the database, and a ratio line gives the time per pass
with 3 replicas against 1. The sources' interval (`--interval`, default 50ms) asks for
more passes than the replicas can make, so the count is what they can do, not what was
asked: with a 1s interval, 100 sources ask for at most 100 passes/s, which one replica
already nearly serves, and more replicas cannot show. The demand is printed beside each.
`--quick` is a tiny size for the test that keeps the script running; the full size is 100
sources and 10 kills.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import signal
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from timing import percentiles, ratio

from reconciler.runstate import RunKind
from reconciler.specs import types
from reconciler.store.postgres import PostgresStore
from reconciler.store.retention import RetentionSettings
from tests import gitrepo
from tests import postgres as pg
from tests.e2e import harness

T = TypeVar("T")


def _repo(root: Path, sources: int) -> Path:
    repo, out = root / "repo", root / "out"
    files = {}
    for n in range(sources):
        body = {
            "apiVersion": "reconciler.dev/v1",
            "kind": "File",
            "metadata": {"name": f"motd-{n}"},
            "spec": {"path": str(out / f"motd-{n}"), "content": f"{n}\n", "mode": "0644"},
        }
        files[f"s{n}/resources/motd.yaml"] = json.dumps(body) + "\n"
    gitrepo.make_repo(repo, files)
    return repo


def _config(root: Path, *, name: str, repo: Path, sources: int, ttl: int, interval: str) -> Path:
    settings = {
        "dataDir": str(root / f"state-{name}"),
        "http": {"port": 0},
        "store": {"urlEnv": "RECONCILER_STORE_URL"},
        "replica": {"name": name, "leaseTtl": f"{ttl}s"},
        "providers": {"file": {"roots": [str(root)]}},
        "sources": [
            {
                "name": f"s{n}",
                "path": str(repo),
                "subpath": f"s{n}",
                "interval": interval,
                "jitter": "0s",
            }
            for n in range(sources)
        ],
    }
    path = root / f"{name}.json"
    path.write_text(json.dumps(settings))
    return path


class Cluster:
    """Replicas of one database, started and killed by name."""

    def __init__(
        self, root: Path, *, url: str, sources: int, ttl: int, interval: str = "1s"
    ) -> None:
        self.root, self.url, self.sources, self.ttl = root, url, sources, ttl
        self.interval = interval
        self.repo = _repo(root, sources)
        self.running: dict[str, harness.RunningDaemon] = {}

    def start(self, name: str) -> None:
        config = _config(
            self.root,
            name=name,
            repo=self.repo,
            sources=self.sources,
            ttl=self.ttl,
            interval=self.interval,
        )
        env = {"RECONCILER_STORE_URL": self.url}
        self.running[name] = harness.start(
            ["--config", str(config)], tmp=self.root, env=env, name=name
        )

    def kill(self, name: str) -> None:
        daemon = self.running.pop(name)
        daemon.signal(signal.SIGKILL)
        daemon.wait()

    def stop(self) -> None:
        for daemon in self.running.values():
            daemon.stop()
        self.running.clear()


def _until(check: Callable[[], T | None], *, timeout: float = 120) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found is not None:
            return found
        time.sleep(0.05)
    raise TimeoutError("not reached")


def _now(store: PostgresStore) -> datetime:
    """The database's clock: what leases are stamped and expire by."""
    now = store.database_now()
    assert now is not None
    return now


def _owner(store: PostgresStore, source: str) -> str | None:
    now = _now(store)
    leases = [x for x in store.holders(prefix=f"source:{source}") if x.name == f"source:{source}"]
    return leases[0].holder if leases and leases[0].live(now) else None


def _new_owner(store: PostgresStore, *, killed: str) -> str | None:
    owner = _owner(store, "s0")
    return owner if owner not in (None, killed) else None


def _first_pass_after(store: PostgresStore, at: datetime) -> datetime | None:
    runs = store.list_runs(kind=RunKind.RECONCILE, limit=500)
    later = [r.started_at for r in runs if r.name == "s0" and r.started_at > at]
    return min(later) if later else None


def takeovers(
    cluster: Cluster, store: PostgresStore, *, kills: int
) -> tuple[list[float], list[float]]:
    """Kill the owner of s0 `kills` times; seconds from each kill to the lease taken and
    to the first pass of the new owner."""
    taken, resumed = [], []
    for n in range(3):
        cluster.start(f"r{n}")
    for k in range(kills):
        owner = _until(lambda: _owner(store, "s0"))
        killed_at = _now(store)
        cluster.kill(owner)
        new = _until(functools.partial(_new_owner, store, killed=owner))
        [lease] = [x for x in store.holders(prefix="source:s0") if x.name == "source:s0"]
        taken.append((lease.acquired_at - killed_at).total_seconds())
        first = _until(functools.partial(_first_pass_after, store, lease.acquired_at))
        resumed.append((first - killed_at).total_seconds())
        print(f"kill {k + 1}: {owner} -> {new}: lease {taken[-1]:.2f}s, pass {resumed[-1]:.2f}s")
        cluster.start(f"{owner}-{k}")
    cluster.stop()
    return taken, resumed


def _cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of every core, from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


class Contention(threading.Thread):
    """Samples, every 50ms, how many server backends wait for an advisory lock (the
    store's write lock) — and, over the window, how busy the machine's cores were."""

    def __init__(self, server: pg.Server, database: str) -> None:
        super().__init__(daemon=True)
        self.server, self.database = server, database
        self.samples: list[int] = []
        self.done = threading.Event()
        self.cpu_start = _cpu_times()
        self.cpu_end = self.cpu_start

    def run(self) -> None:
        query = (
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND wait_event = 'advisory' AND datname = %s"
        )
        with self.server.connect(self.database) as conn:
            conn.autocommit = True
            while not self.done.wait(0.05):
                row = conn.execute(query, (self.database,)).fetchone()
                self.samples.append(int(row[0]) if row else 0)
        self.cpu_end = _cpu_times()

    def report(self) -> str:
        waiting = [n for n in self.samples if n]
        share = 100 * len(waiting) / max(1, len(self.samples))
        mean = sum(self.samples) / max(1, len(self.samples))
        busy = self.cpu_end[0] - self.cpu_start[0]
        total = max(1, self.cpu_end[1] - self.cpu_start[1])
        cores = os.cpu_count() or 1
        return (
            f"  write lock: a write waited in {share:.0f}% of samples (mean {mean:.2f} waiting);"
            f" CPU busy {100 * busy / total:.0f}% of {cores} cores"
        )


def throughput(
    cluster: Cluster,
    store: PostgresStore,
    *,
    replicas: int,
    window: float,
    contention: Contention | None = None,
) -> float:
    """Reconcile passes finished per second by `replicas` replicas over `window` seconds."""
    for n in range(replicas):
        cluster.start(f"t{replicas}-{n}")
    sources = {f"s{n}" for n in range(cluster.sources)}

    def all_passed() -> bool | None:
        runs = store.list_runs(kind=RunKind.RECONCILE, limit=10_000)
        return True if sources <= {r.name for r in runs if r.finished_at} else None

    _until(all_passed, timeout=600)
    start = datetime.now(UTC)
    if contention is not None:
        contention.start()
    time.sleep(window)
    if contention is not None:
        contention.done.set()
        contention.join()
    end = datetime.now(UTC)
    runs = store.list_runs(kind=RunKind.RECONCILE, limit=100_000)
    done = [r for r in runs if r.finished_at is not None and start <= r.finished_at < end]
    cluster.stop()
    return len(done) / window


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="6 sources, 2 kills, short windows")
    parser.add_argument("--ttl", type=int, default=3, help="replica.leaseTtl in seconds")
    parser.add_argument(
        "--interval", default="50ms", help="the sources' interval in the throughput windows"
    )
    args = parser.parse_args()
    sources, kills, window = (6, 2, 3.0) if args.quick else (100, 10, 10.0)
    bin_dir = pg.binaries()
    if bin_dir is None:
        sys.exit(pg.MISSING)
    server = pg.Server(bin_dir)
    server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="failover-") as tmp:
            run(
                server,
                Path(tmp),
                sources=sources,
                kills=kills,
                window=window,
                ttl=args.ttl,
                interval=args.interval,
            )
    finally:
        server.stop()


def run(
    server: pg.Server,
    root: Path,
    *,
    sources: int,
    kills: int,
    window: float,
    ttl: int,
    interval: str,
) -> None:
    def cluster_of(part: str, *, every: str = "1s") -> tuple[Cluster, PostgresStore, str]:
        database = server.database()
        url = server.url(database)
        (root / part).mkdir()
        store = PostgresStore(url, retention=RetentionSettings())
        cluster = Cluster(root / part, url=url, sources=sources, ttl=ttl, interval=every)
        return cluster, store, database

    cluster, store, _ = cluster_of("takeover")
    taken, resumed = takeovers(cluster, store, kills=kills)
    store.close()
    p50, p99 = percentiles(taken, 50, 99)
    r50, r99 = percentiles(resumed, 50, 99)
    print(f"lease ttl {ttl}s, {sources} sources, 3 replicas, {kills} kills of the owner")
    print(f"takeover (lease held by another replica): p50 {p50:.2f}s  p99 {p99:.2f}s")
    print(f"resumed (its first pass started):         p50 {r50:.2f}s  p99 {r99:.2f}s")
    rates = {}
    asked = sources / types.seconds(interval)
    for replicas in (1, 2, 3):
        cluster, store, database = cluster_of(f"throughput-{replicas}", every=interval)
        contention = Contention(server, database)
        rates[replicas] = throughput(
            cluster, store, replicas=replicas, window=window, contention=contention
        )
        store.close()
        rate = rates[replicas]
        print(
            f"throughput with {replicas} replica(s) on {sources} sources: {rate:.1f} passes/s"
            f" (interval {interval}: {asked:.0f} passes/s asked)"
        )
        print(contention.report())
    ratio("takeover p50", p50, ttl, against="the lease ttl")
    ratio("takeover p99", p99, ttl, against="the lease ttl")
    ratio("time per pass with 3 replicas", 1 / rates[3], 1 / rates[1], against="1 replica")


if __name__ == "__main__":
    main()
