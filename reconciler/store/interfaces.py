"""The store's interfaces, one protocol per role, and the records they keep.

The daemon persists: the revisions each source went through (`Revisions`), one
`ObjectStatus` per managed object (`Statuses`), the decision log (`DecisionLog`), runs with
their steps (`Runs`), pull-request simulations (`Simulations`), an event feed (`Events`), and
the store's own upkeep (`Upkeep`); the audit log, outbox and the other role modules beside
this one add theirs. `Store` is their union. They name what the daemon may ask and nothing
about how it is kept, so SQLite (the default) and a later PostgreSQL backend pass the same
contract suite. Every method is one transaction: a reader never sees half of a write.
Timestamps are timezone-aware; naive ones are refused with `ValueError` rather than guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from reconciler.conditions import Condition, ConditionStatus
from reconciler.errors import ReconcilerError, StalledError
from reconciler.policy.decisions import Decision, Outcome
from reconciler.runstate import RunKind, RunRecord, RunStatus, StepRecord
from reconciler.source.revision import Revision
from reconciler.store.audit import AuditLog
from reconciler.store.children import Children
from reconciler.store.daemon_decisions import DaemonDecisions
from reconciler.store.deliveries import Deliveries
from reconciler.store.intents import Intents
from reconciler.store.learners import Learners
from reconciler.store.leases import FenceSource, Leases
from reconciler.store.outbox import Outbox
from reconciler.store.proposals import Proposals
from reconciler.store.queue import Queue
from reconciler.store.retention import RetentionReport
from reconciler.store.runqueue import RunQueue

VIOLATION_OUTCOMES = frozenset({Outcome.DENY, Outcome.ERROR})
"""Decision outcomes that make a (policy, resource key) pair a current violation."""


@dataclass(frozen=True, kw_only=True)
class HistoryEntry:
    """One reconcile of an object: when, at which revision, and how it ended."""

    at: datetime
    revision: str | None
    outcome: str
    message: str = ""


@dataclass(frozen=True, kw_only=True)
class Drift:
    """The fields of an object last found changed outside Git (not by a change from Git)."""

    fields: tuple[dict[str, Any], ...]  # diff items: `old` the live value, `new` Git's
    revision: str | None  # the revision whose document the live object differed from
    detected_at: datetime
    corrected_at: datetime | None = None  # when Git's document held again; None: it stands


@dataclass(frozen=True, kw_only=True)
class ObjectStatus:
    """What the daemon last knew about one object; `key` is `kind/namespace/name`."""

    key: str
    kind: str
    namespace: str | None
    name: str
    source: str
    observed_generation: int
    conditions: tuple[Condition, ...] = ()
    last_attempted_revision: str | None = None
    last_applied_revision: str | None = None
    inventory: bool = True  # the object is in the desired state of the source
    # The fields the last change applied from Git changed (`old` as it was, `new` Git's).
    applied_changes: list[dict[str, Any]] = field(default_factory=list)
    drift: Drift | None = None  # the latest drift, standing or corrected
    history: tuple[HistoryEntry, ...] = ()  # oldest first; the store keeps the newest N
    updated_at: datetime


@dataclass(frozen=True, kw_only=True)
class EventRecord:
    """One entry of the event feed; `id` is given by the store and only grows."""

    id: int | None = None
    at: datetime
    type: str
    object_key: str | None = None
    message: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class SimulationStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"  # every section of the report was computed
    FAILED = "failed"  # it could not run, or a section could not be computed (see summary)
    CANCELLED = "cancelled"  # superseded by a newer delivery before it started


SIMULATION_FINISHED = frozenset(
    {SimulationStatus.SUCCEEDED, SimulationStatus.FAILED, SimulationStatus.CANCELLED}
)
"""Simulation statuses that never change again; only these are pruned by retention."""


@dataclass(frozen=True, kw_only=True)
class SimulationRecord:
    """One simulation of a change from `base` to `head` of a source, and its report."""

    id: str
    source: str
    forge: str  # github | gitlab | api (started by hand)
    number: int | None = None  # the pull/merge request, if any
    base: str  # sha (or the ref given, until resolved)
    head: str
    status: SimulationStatus
    blocked: bool = False
    conclusion: str | None = None  # success | neutral | failure (GitHub's words)
    summary: str = ""
    report: dict[str, Any] | None = None  # `simulate --format json`
    markdown: tuple[str, ...] = ()  # the comment's parts
    forge_error: str | None = None  # why reporting to the forge failed, if it did
    created_at: datetime
    finished_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class DecisionCount:
    """How many logged decisions of one policy had one outcome within one time bucket."""

    policy: str
    outcome: Outcome
    bucket_start: datetime
    count: int


class StoreError(ReconcilerError):
    """The store refused an operation."""


class StoreUnavailable(StoreError, OSError):
    """The database cannot be opened, read or written: corrupt, read-only, the disk is full,
    or the server or database is gone. The message names the database and the reason."""


class RunNotFound(StoreError, LookupError):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"run {run_id!r} does not exist")
        self.run_id = run_id


class RunExists(StoreError, ValueError):
    def __init__(self, run_id: str) -> None:
        super().__init__(f"run {run_id!r} already exists")
        self.run_id = run_id


class SchemaVersionError(StoreError, StalledError):
    """The database was written by a newer reconciler than this one."""


class Revisions(Protocol):
    """The revisions each source went through."""

    def record_revision(self, source: str, revision: Revision) -> None:
        """Remember that `source` reached `revision`; recording it again makes it the newest."""
        ...

    def revisions(self, source: str, limit: int = 20) -> list[Revision]:
        """The revisions `source` went through, newest first."""
        ...


class Statuses(Protocol):
    """One `ObjectStatus` per managed object, Flux-style."""

    def put_status(self, status: ObjectStatus) -> None:
        """Replace the status of `status.key`, keeping only the newest history entries."""
        ...

    def put_statuses(self, statuses: Iterable[ObjectStatus]) -> int:
        """`put_status` for many objects in one transaction; returns how many were written."""
        ...

    def get_status(self, key: str) -> ObjectStatus | None: ...

    def list_status(
        self,
        *,
        source: str | None = None,
        condition: str | None = None,
        condition_status: ConditionStatus = ConditionStatus.TRUE,
    ) -> list[ObjectStatus]:
        """Statuses ordered by key; `condition` keeps those having that type at that status."""
        ...

    def delete_status(self, key: str) -> bool:
        """Forget an object that left the inventory, and its current violations.

        The decision log keeps its past decisions. Returns whether a status existed.
        """
        ...


class DecisionLog(Protocol):
    """The decision log, the inputs its decisions were made on, and the current violations."""

    def append_decisions(
        self,
        decisions: Iterable[Decision],
        *,
        inputs: Mapping[str, str] | None = None,
        changes_only: bool = False,
    ) -> int:
        """Append to the decision log, with the inputs they were made on (by digest, as
        `put_inputs` keeps them) in the same transaction; returns how many were written.

        `changes_only`: leave out each decision that says the same as the latest one logged
        for its (policy, resource) (binding, outcome, messages, enforcement and action), and
        its input, so passes and audits that find nothing new add nothing to the log."""
        ...

    def decisions(
        self,
        *,
        policy: str | None = None,
        key: str | None = None,
        since: datetime | None = None,
        limit: int = 100,
    ) -> list[Decision]:
        """Logged decisions, newest first; `since` keeps those at or after it."""
        ...

    def decision_counts(self, *, since: datetime, bucket: timedelta) -> list[DecisionCount]:
        """Logged decisions at or after `since`, counted per policy, outcome and bucket (the
        buckets start at `since + k * bucket`; empty ones are left out). Ordered by policy,
        bucket, outcome. For trends over time; `bucket` is at least one second."""
        ...

    def iter_decisions(self, batch: int = 1000) -> Iterator[Decision]:
        """Every logged decision, oldest first, read `batch` rows at a time (for replay)."""
        ...

    def iter_decisions_with_inputs(
        self, *, batch: int = 1000, shard: int = 0, shards: int = 1
    ) -> Iterator[tuple[Decision, str | None]]:
        """Every logged decision with its kept input (None when not kept), oldest first;
        with `shards` > 1 only those whose log position modulo `shards` is `shard`, so
        several processes can replay one log together."""
        ...

    def put_inputs(self, inputs: Mapping[str, str]) -> int:
        """Keep decision inputs (canonical JSON text by the sha256 `input_digest` of the
        decisions made on them); a digest already kept is left as it is. Returns how many
        were given. Retention forgets inputs no kept decision refers to."""
        ...

    def get_inputs(self, digests: Iterable[str]) -> dict[str, str]:
        """The kept inputs among `digests`, by digest (missing ones are left out)."""
        ...

    def violations(self, *, policy: str | None = None, key: str | None = None) -> list[Decision]:
        """The current violations: for each (policy, resource key) its latest decision, when
        that decision is deny or error. Ordered by policy, then key. Never pruned by retention.
        """
        ...


class Runs(Protocol):
    """Runs of every kind with their step attempts (records in `reconciler.runstate`)."""

    def create_run(self, run: RunRecord) -> None:
        """Insert a run and its steps; `RunExists` if the id is taken."""
        ...

    def update_run(self, run: RunRecord) -> None:
        """Overwrite a run's fields and upsert the steps it carries; `RunNotFound` if absent."""
        ...

    def update_step(self, run_id: str, step: StepRecord) -> None:
        """Upsert one step attempt keyed by (run id, name, attempt); repeating it is harmless."""
        ...

    def get_run(self, run_id: str) -> RunRecord | None: ...

    def list_runs(
        self,
        *,
        kind: RunKind | None = None,
        status: RunStatus | None = None,
        limit: int = 100,
    ) -> list[RunRecord]:
        """Runs, the most recently created first."""
        ...

    def waiting_runs(self, *, limit: int = 1000) -> list[RunRecord]:
        """Unfinished runs (pending, running or waiting) with a step attempt recorded
        `waiting`, with all their steps, the first created first (at most `limit`): what
        every replica sharing the store lists as waiting for a human (`run.asks`)."""
        ...


class Simulations(Protocol):
    """Pull-request simulations and their reports."""

    def put_simulation(self, simulation: SimulationRecord) -> None:
        """Insert or replace the simulation `simulation.id`."""
        ...

    def record_simulation(self, simulation: SimulationRecord, *, run: RunRecord) -> None:
        """`put_simulation` and, in the same transaction, insert `run` or overwrite its
        fields and upsert the steps it carries: no reader sees one without the other."""
        ...

    def get_simulation(self, simulation_id: str) -> SimulationRecord | None: ...

    def list_simulations(
        self,
        *,
        source: str | None = None,
        number: int | None = None,
        status: SimulationStatus | None = None,
        limit: int = 100,
    ) -> list[SimulationRecord]:
        """Simulations, the most recently created first (ties: the last inserted first)."""
        ...

    def trim_simulation_reports(self, *, max_bytes: int) -> int:
        """Drop the reports (JSON and Markdown) of finished simulations, oldest first, until
        those left hold at most `max_bytes`; the records stay. Returns how many were
        dropped."""
        ...


class Events(Protocol):
    """The event feed (and, through it, the audit log's chain)."""

    def append_event(self, event: EventRecord) -> EventRecord:
        """Append to the feed; returns the event with its id. An event of an audited type
        (`audit.audited`) is chained onto the audit log in the same transaction."""
        ...

    def events(self, *, since_id: int = 0, limit: int = 100) -> list[EventRecord]:
        """Events with an id above `since_id`, oldest first."""
        ...


class Upkeep(Protocol):
    """Retention, the liveness probe and closing."""

    def apply_retention(self, *, now: datetime) -> RetentionReport:
        """Prune by age and count as the retention settings say; returns what was removed."""
        ...

    def probe_write(self, *, at: datetime) -> None:
        """Write a heartbeat row; `StoreUnavailable` when the store takes no writes."""
        ...

    def close(self) -> None: ...


class Store(
    Revisions,
    Statuses,
    DecisionLog,
    Runs,
    Simulations,
    Events,
    Upkeep,
    Children,
    DaemonDecisions,
    Deliveries,
    Intents,
    AuditLog,
    Learners,
    Leases,
    Outbox,
    Proposals,
    Queue,
    RunQueue,
    Protocol,
):
    """Persistence for the daemon: the union of the role protocols above and of the store's
    role modules. Every method is one transaction (or joins the calling thread's `batch`);
    all are thread-safe. A part that needs
    one role takes that protocol, so a backend or a test sees what it really uses."""

    def batch(self) -> AbstractContextManager[None]:
        """A block whose writes, made by the calling thread, form one transaction: all of
        them are committed when it ends, none when it raises. Hold it for writes only (no
        provider calls, no waiting): it keeps other writers out until it ends."""
        ...

    def fenced(self, fence: FenceSource) -> Store:
        """This store, whose every write transaction first checks that `fence()` (when not
        None) is still current, raising `leases.LeaseLost` without writing otherwise."""
        ...
