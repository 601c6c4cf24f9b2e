"""Workflows and runbooks live in the daemon: the engine, and everything that starts runs.

`Automation` builds the workflow engine on the daemon's store and clock when the daemon
starts, resumes what a previous process left unfinished, and closes it (leaving running
runs to be resumed) when the daemon stops. It follows the event bus: a new last-known-good
revision updates the catalog and the scheduled jobs and fires the Git triggers whose path
filters match the commit's changes; every run it starts is queued in the store for the
source that defines it and run by that source's owner (`runclaims`), which resumes it if
the replica running it dies, and applies what other replicas were asked to do to it
(`runactions`); a finished reconcile pass turns each new violation
into the runs its binding asks for (`violation` triggers, and remediation runs). Metric
triggers are polled from Prometheus; webhooks and the API start runs by name.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from reconciler.children import NO_LEDGER, ChildLedger
from reconciler.clock import Clock
from reconciler.errors import ReconcilerError, UsageError
from reconciler.events import Bus, Event, EventType
from reconciler.policy import evaluate
from reconciler.policy.decisions import Decision
from reconciler.reconcile import metric_watch, remediation, runactions, runclaims
from reconciler.reconcile.choices import Choices, Workers
from reconciler.reconcile.metric_watch import MetricWatch
from reconciler.reconcile.remediator import Hooks, Remediator
from reconciler.reconcile.runclaims import RunClaims
from reconciler.reconcile.runner import SourceRunner
from reconciler.reconcile.workflows import Catalog, Schedule, Timed, quiet_after
from reconciler.run import triggers
from reconciler.run.engine import Engine
from reconciler.run.scheduling import Scheduler
from reconciler.run.steps import base
from reconciler.runstate import RunKind, RunRecord
from reconciler.specs import flows, types
from reconciler.store.interfaces import EventRecord, Store, StoreError
from reconciler.store.leases import LeaseLost

log = logging.getLogger(__name__)
METRICS_JOB = "workflow-metrics"


class UnknownWorkflow(ReconcilerError, LookupError):
    def __init__(self, name: str, known: list[str]) -> None:
        super().__init__(f'no workflow named "{name}" (known: {", ".join(known) or "none"})')


class NotTriggerable(UsageError):
    """The workflow does not declare the trigger a start asked for."""


class Automation:
    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        bus: Bus,
        scheduler: Scheduler,
        runners: Mapping[str, SourceRunner],
        request_sync: Callable[[str | None], list[str]],
        prometheus: triggers.PrometheusSettings,
        claims: RunClaims,
        shared: bool,
        on_run_event: Callable[[EventRecord], None] | None = None,
        children: ChildLedger = NO_LEDGER,
    ) -> None:
        """`claims`: this replica's claims of queued runs; `shared`: other replicas may
        share the store (then only queued runs are resumed, never all unfinished ones)."""
        self.store, self.clock, self.bus, self.runners = store, clock, bus, runners
        self.claims, self.shared = claims, shared
        self.on_run_event, self.children = on_run_event, children
        self.prometheus = prometheus
        self._request_sync = request_sync
        self.catalog = Catalog(list(runners))
        self.schedule = Schedule(scheduler, start=self._timed)
        self.engine: Engine | None = None
        self.remediator: Remediator | None = None
        self.workers = Workers(runners, self.catalog)
        self.choices = Choices(
            store=store,
            clock=clock,
            workflow=self.catalog.workflow,
            on_worker=self.workers.for_workflow,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._seen: dict[str, str] = {}  # source -> newest revision handled
        self._violations: set[tuple[str, str]] | None = None  # (binding, resource key)
        self._auditing: asyncio.Future[None] | None = None
        self.metrics = MetricWatch(prometheus, clock=clock, start=self._metric_start)
        self._passes: dict[str, list[asyncio.Future[None]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lock = threading.Lock()  # sources finish passes on their own threads
        bus.subscribe(self._on_event)

    async def _check_policy(self, package: str, document: Mapping[str, Any]) -> base.PolicyVerdict:
        """A workflow `policy` step: the first source whose revision defines the package."""
        for runner in self.runners.values():
            loaded = runner.loader.last_good
            if loaded is not None and package in loaded.bundle.policies:
                check = functools.partial(
                    evaluate.check_package, loaded.bundle, package=package, document=document
                )
                allowed, messages = await runner.on_worker(check)
                return base.PolicyVerdict(allowed=allowed, messages=messages)
        return base.PolicyVerdict(
            allowed=False, messages=(f'policy "{package}" is not defined by any source',)
        )

    # life cycle

    async def start(self) -> list[str]:
        """Build the engine, remember the current violations, resume unfinished runs."""
        self._loop = asyncio.get_running_loop()
        services = base.Services(
            workflow=self.catalog.workflow,
            runbook=self.catalog.runbook,
            request_sync=self._sync,
            evaluate_policy=self._check_policy,
            vet=self.catalog.vet,
            decide=self.choices.decide,
        )
        self.engine = Engine(
            store=self.store.fenced(self.claims.fence),
            clock=self.clock,
            services=services,
            on_event=self.on_run_event,
            children=self.children,
        )
        self.remediator = Remediator(
            store=self.store,
            clock=self.clock,
            bus=self.bus,
            hooks=Hooks(
                binding=self.catalog.binding,
                runbook=self.catalog.runbook,
                on_worker=self.workers.for_binding,
                start=self._start_remediation,
                wait=self.engine.wait,
                resync=self._recheck,
                settings=self.workers.settings_for_binding,
                signals=functools.partial(metric_watch.signals, self.prometheus),
            ),
        )
        found = await asyncio.to_thread(self.store.violations)
        with self._lock:
            self._violations = {(d.binding, d.resource.key) for d in found}
        resumed = await self._resume()
        await self.remediator.resume()
        if self.prometheus.url:
            self.schedule.scheduler.every(
                METRICS_JOB, self.poll_metrics, seconds=types.seconds(self.prometheus.interval)
            )
        return resumed

    async def _resume(self) -> list[str]:
        """The runs a previous process left: the queued ones this replica owns (claimed
        afresh), and on a store no other replica shares, every other unfinished one too."""
        await asyncio.to_thread(self.claims.release)
        resumed = await self.claim()
        if not self.shared:
            queued = {q.run_id for q in await asyncio.to_thread(self.store.queued_runs)}
            for run_id in await self._engine().resume_all(skip=queued):
                self._follow(run_id)
                resumed.append(run_id)
        return resumed

    async def claim(self, targets: Iterable[str] | None = None) -> list[str]:
        """Claim and start the runs queued for the sources this replica owns (of
        `targets`): new ones, and those whose claimer died; their ids."""
        started = await runclaims.start_claimed(
            self.claims, self._engine(), store=self.store, targets=targets, ended=self.ended
        )
        for run_id in started:
            self._follow(run_id)
        return started

    async def take_actions(self) -> None:
        """Apply the answers, cancels, pauses and resumes other replicas forwarded for the
        runs live here (`runactions`)."""
        if self.engine is not None:
            await runactions.take_live(self.store, self.engine)

    async def stop(self) -> None:
        """Stop every run, leaving it to be resumed, and give its claim back (another
        replica, or the next daemon, takes it over at once)."""
        if self.remediator is not None:
            await self.remediator.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.engine is not None:
            await self.engine.close()
        try:
            await asyncio.to_thread(self.claims.release)
        except StoreError as exc:  # they are taken over once this replica's lease expires
            log.error("cannot give back the claimed runs: %s", exc)

    def _engine(self) -> Engine:
        if self.engine is None:
            raise UsageError("the workflow engine is not running yet")
        return self.engine

    # starting runs

    async def run_workflow(
        self,
        name: str,
        *,
        trigger: str,
        variables: Mapping[str, Any] | None = None,
        needs: str | None = None,
    ) -> str:
        """Start the workflow `name`; with `needs`, only if it declares that trigger kind."""
        entry = self.catalog.entry(name)
        if entry is None:
            raise UnknownWorkflow(name, list(self.catalog.workflows()))
        declared = {k for t in entry.workflow.spec.triggers for k in t.model_fields_set}
        if needs is not None and needs not in declared:
            raise NotTriggerable(f"workflow {name} has no {needs} trigger")
        run = await self._engine().prepare(
            entry.workflow, trigger=trigger, variables=variables, revision=entry.revision
        )
        await self._queue(run, target=entry.source)
        log.info("queued run %s of workflow %s (%s)", run.id, name, trigger)
        return run.id

    async def _queue(self, run: RunRecord, *, target: str) -> None:
        """Queue `run` for the owner of source `target`; claimed at once when that is
        this replica, else by the owner on its next heartbeat."""
        await asyncio.to_thread(self.claims.queue, run, target=target)
        await self.claim([target])

    def submit(
        self,
        name: str,
        *,
        trigger: str,
        variables: Mapping[str, Any] | None = None,
        needs: str | None = None,
    ) -> None:
        """`run_workflow` from synchronous code on the loop; refusals are raised now."""
        entry = self.catalog.entry(name)
        if entry is None:
            raise UnknownWorkflow(name, list(self.catalog.workflows()))
        if needs is not None and not any(
            needs in t.model_fields_set for t in entry.workflow.spec.triggers
        ):
            raise NotTriggerable(f"workflow {name} has no {needs} trigger")
        self._spawn(self.run_workflow(name, trigger=trigger, variables=variables))

    async def _timed(self, job: str, trigger: str, timed: Timed) -> None:
        """A cron or interval trigger fired: start the run unless another replica sharing
        the store already started this very firing (`workflows.quiet_after`)."""
        quiet, now = quiet_after(timed), self.clock.now()
        try:
            first = await asyncio.to_thread(self.store.claim, job, at=now, quiet=quiet)
        except StoreError as exc:
            log.error("cannot claim %s: %s", job, exc)
            return
        if first:
            await self._quietly(self.run_workflow(timed.workflow, trigger=trigger))
        else:
            log.info("%s: this firing was started by another replica", job)

    async def _quietly(self, starting: Awaitable[str]) -> None:
        try:
            await starting
        except ReconcilerError as exc:
            log.error("cannot start a run: %s", exc)

    def _spawn(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(self._quietly(work))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _follow(self, run_id: str) -> None:
        """Publish the run's outcome once it finishes (metrics and the event feed)."""
        task = asyncio.ensure_future(self._finished(run_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _finished(self, run_id: str) -> None:
        try:
            run = await self._engine().wait(run_id)
        except LeaseLost as exc:
            log.error("run %s stopped here: %s", run_id, exc)
            return
        await asyncio.to_thread(self.claims.finish, run_id)
        await self.ended(run)

    async def ended(self, run: RunRecord) -> None:
        """Publish a finished run's outcome: the actions that came too late dropped, the
        decisions it took settled, `RunUpdated` on the bus (metrics, the event feed, the
        audit log for decided runs) — for a run that ran here, and for one cancelled before
        any replica started it (in the store, or by a forwarded cancel its claimer found)."""
        await runactions.drop_late(self.store, run)
        await self.choices.settle(run)
        event = Event(
            type=EventType.RUN_UPDATED,
            at=self.clock.now(),
            source="",
            object_key=f"run/{run.id}",
            message=f"{run.kind} {run.name} {run.status}",
            data=finished_data(run),
        )
        await asyncio.to_thread(self.bus.publish, event)

    # events (delivered on whichever thread published them)

    def _on_event(self, event: Event) -> None:
        if self._loop is None:
            return
        if event.type is EventType.REVISION_FETCHED and event.source in self.runners:
            self._revision(self.runners[event.source], str(event.data.get("revision")))
        elif event.type is EventType.RECONCILE_FINISHED:
            self._pass_finished(event.source)
        elif event.type is EventType.POLICY_VIOLATION:  # from a pass or an audit
            self._loop.call_soon_threadsafe(self._violation_found)

    def _revision(self, runner: SourceRunner, sha: str) -> None:
        """On the source's worker thread, which owns its repository: diff, then hand over."""
        loaded = runner.loader.last_good
        if loaded is None or loaded.revision.sha != sha or self._loop is None:
            return
        old = self._seen.get(runner.config.name)
        self._seen[runner.config.name] = sha
        changed: list[str] | None = None
        if old is not None and old != sha:
            try:
                changed = runner.loader.changed_paths(old, sha)
            except ReconcilerError as exc:
                log.warning("cannot diff %s..%s: %s", old[:12], sha[:12], exc)
        self._loop.call_soon_threadsafe(
            self._new_revision, runner.config.name, loaded.snapshot, sha, changed
        )

    def _new_revision(
        self, source: str, snapshot: Any, sha: str, changed: list[str] | None
    ) -> None:
        self.catalog.update(source, snapshot, revision=sha)
        self.schedule.reconcile(self.catalog)
        if changed is None:
            return
        for name, entry in self.catalog.workflows().items():
            if entry.source != source:
                continue
            gits = [t.git for t in entry.workflow.spec.triggers if t.git is not None]
            if any(triggers.paths_match(g.paths, changed) for g in gits):
                self._spawn(
                    self.run_workflow(
                        name,
                        trigger=f"git:{sha[:12]}",
                        variables={"revision": sha, "changed": sorted(changed)},
                    )
                )

    def _pass_finished(self, source: str) -> None:
        new, current = self._new_violations()
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._after_pass, source, new, current)

    def _new_violations(self) -> tuple[list[Decision], list[Decision]]:
        """Violations that were not current after the previous pass, and all current ones
        (worker thread)."""
        with self._lock:
            current = self.store.violations()
            keys = {(d.binding, d.resource.key) for d in current}
            before, self._violations = self._violations, keys
        if before is None:
            return [], current
        return [d for d in current if (d.binding, d.resource.key) not in before], current

    def _after_pass(self, source: str, new: list[Decision], current: list[Decision]) -> None:
        for future in self._passes.pop(source, []):
            if not future.done():
                future.set_result(None)
        for decision in new:
            self._on_violation(decision)
        if self.remediator is not None:
            self.remediator.consider(current)

    def _violation_found(self) -> None:
        """A pass or an audit announced a violation: remediate what is current (audits
        publish no end of pass, so their findings reach remediation this way)."""
        if self._auditing is None or self._auditing.done():
            self._auditing = asyncio.ensure_future(self._remediate_current())

    async def _remediate_current(self) -> None:
        await asyncio.sleep(0)  # the rest of the audit's events arrive first
        current = await asyncio.to_thread(self.store.violations)
        if self.remediator is not None:
            self.remediator.consider(current)

    async def _start_remediation(self, spec: flows.Workflow, **options: Any) -> str:
        run = await self._engine().prepare(spec, kind=RunKind.REMEDIATION, **options)
        await self._queue(run, target=self._source_at(options.get("revision")))
        log.info("queued remediation run %s (%s)", run.id, spec.spec.description)
        return run.id

    def _source_at(self, revision: str | None) -> str:
        """The source whose last-good revision is `revision` (a remediation's violation
        was found there), else the first this replica owns."""
        for name, runner in self.runners.items():
            loaded = runner.loader.last_good
            if loaded is not None and loaded.revision.sha == revision:
                return name
        return next((n for n, r in self.runners.items() if r.owned), next(iter(self.runners)))

    async def _recheck(self) -> None:
        """Re-observe and re-evaluate everything: a fresh pass, then an audit, of every
        source (an object in sync is evaluated over its observed state only by audits)."""
        await self._sync(None)
        await asyncio.gather(*(r.run_audit() for r in self.runners.values()))

    def _on_violation(self, decision: Decision) -> None:
        variables = remediation.variables(decision)
        for name, entry in self.catalog.workflows().items():
            bound = [t.violation for t in entry.workflow.spec.triggers if t.violation]
            if any(v.binding == decision.binding for v in bound):
                self._spawn(
                    self.run_workflow(
                        name, trigger=f"violation:{decision.binding}", variables=variables
                    )
                )

    # the reconcile step's service

    async def _sync(self, source: str | None) -> Any:
        try:
            names = self._request_sync(source)
        except LookupError as exc:
            raise base.StepFailed(str(exc)) from None
        waits = []
        for name in names:
            # A pass already running may predate the request: wait for the one after it.
            for _ in range(2 if self.runners[name].state.reconciling else 1):
                future = asyncio.get_running_loop().create_future()
                self._passes.setdefault(name, []).append(future)
                waits.append(future)
        await asyncio.gather(*waits)
        return {"synced": names}

    # metric and anomaly triggers

    async def poll_metrics(self) -> None:
        """Evaluate every metric and anomaly trigger once (reconcile/metric_watch.py)."""
        await self.metrics.poll(self.catalog.workflows())

    def _metric_start(self, name: str, kind: str, variables: dict[str, Any]) -> None:
        self._spawn(self.run_workflow(name, trigger=kind, variables=variables))


def finished_data(run: RunRecord) -> dict[str, Any]:
    """What RunUpdated says about a finished run: its kind, status and step outcomes."""
    last: dict[str, str] = {}
    for record in run.steps:
        if not record.name.startswith("#"):
            last[record.name] = record.status.value
    steps: dict[str, int] = {}
    for status in last.values():
        steps[status] = steps.get(status, 0) + 1
    return {
        "run": run.id,
        "kind": run.kind.value,
        "name": run.name,
        "status": run.status.value,
        "finished": True,
        "steps": steps,
    }
