"""A source runner works only while its replica holds the source's lease: a replica that
does not hold it runs no pass; a stale replica whose lease was taken over (it missed its
renewals) starts a pass, and the pass is fenced out at its first write — no run record,
no status, the drift left for the new owner; the new owner's first pass closes the run the
old holder left `running`. Real git, real SQLite, real files."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import pytest

from reconciler.clock import ManualClock
from reconciler.events import Bus
from reconciler.reconcile.ownership import INTERRUPTED
from reconciler.reconcile.replicas import Membership
from reconciler.reconcile.runner import SourceRunner
from reconciler.reconcile.settings import DaemonSource, ProviderOptions, ReconcileSettings
from reconciler.runstate import RunKind, RunStatus
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore
from tests import gitrepo
from tests.reconcile.helpers import file_doc
from tests.store import store_factories as f

TTL = timedelta(seconds=15)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    opened = SqliteStore(tmp_path / "state.db", retention=RetentionSettings())
    yield opened
    opened.close()


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(2) as executor:
        yield executor


def _runner(
    tmp_path: Path,
    *,
    store: SqliteStore,
    clock: ManualClock,
    member: Membership,
    pool: ThreadPoolExecutor,
) -> SourceRunner:
    return SourceRunner(
        DaemonSource(name="main", path=tmp_path / "repo"),
        store=store,
        bus=Bus(),
        clock=clock,
        settings=ReconcileSettings(),
        pool=pool,
        providers=ProviderOptions.model_validate({"file": {"roots": [str(tmp_path)]}}),
        lease=member.lease_of("main"),
    )


def _member(name: str, store: SqliteStore, clock: ManualClock) -> Membership:
    return Membership(name=name, ttl=TTL, store=store, clock=clock, sources=["main"])


def test_a_pass_runs_only_under_the_lease_and_a_stale_holder_is_fenced_out(
    tmp_path: Path, store: SqliteStore, pool: ThreadPoolExecutor
) -> None:
    target = tmp_path / "motd"
    gitrepo.make_repo(tmp_path / "repo", {"resources/motd.yaml": file_doc("motd", target)})
    clock = ManualClock(f.T0)
    a, b = _member("a", store, clock), _member("b", store, clock)
    on_a = _runner(tmp_path, store=store, clock=clock, member=a, pool=pool)
    on_b = _runner(tmp_path, store=store, clock=clock, member=b, pool=pool)

    on_a.cycle("test")  # before a heartbeat: held by no one
    assert not target.exists() and store.list_runs(kind=RunKind.RECONCILE) == []
    assert not on_a.ready and not on_b.ready

    a.beat()
    b.beat()
    assert on_b.ready  # not its source: nothing to wait for
    on_a.cycle("test")
    assert target.read_text() == "v1\n"
    [first] = store.list_runs(kind=RunKind.RECONCILE)
    assert first.status is RunStatus.SUCCEEDED

    clock.advance(TTL.total_seconds())  # a misses its renewals; b takes over
    b.beat()
    assert sorted(b.beat().gained) == [] and b.held() == ["main"]
    target.write_text("changed by hand\n")
    statuses = store.list_status(source="main")
    on_a.cycle("test")  # a still believes it holds the lease
    assert target.read_text() == "changed by hand\n"
    assert store.list_status(source="main") == statuses
    assert store.list_runs(kind=RunKind.RECONCILE) == [first]

    on_b.cycle("test")
    assert target.read_text() == "v1\n"
    runs = store.list_runs(kind=RunKind.RECONCILE)
    assert [r.status for r in runs] == [RunStatus.SUCCEEDED, RunStatus.SUCCEEDED]


def test_the_new_owner_closes_the_pass_a_killed_holder_left_running(
    tmp_path: Path, store: SqliteStore, pool: ThreadPoolExecutor
) -> None:
    gitrepo.make_repo(tmp_path / "repo", {"resources/motd.yaml": file_doc("motd", tmp_path / "m")})
    clock = ManualClock(f.T0)
    store.create_run(f.run("killed-pass", kind=RunKind.RECONCILE, name="main"))
    store.create_run(f.run("other-source", kind=RunKind.RECONCILE, name="other"))
    b = _member("b", store, clock)
    b.beat()
    _runner(tmp_path, store=store, clock=clock, member=b, pool=pool).cycle("lease")
    killed = store.get_run("killed-pass")
    assert (killed.status, killed.error) == (RunStatus.CANCELLED, INTERRUPTED)
    assert store.get_run("other-source").status is RunStatus.RUNNING
