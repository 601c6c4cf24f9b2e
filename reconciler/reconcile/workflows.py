"""The workflows, runbooks and bindings Git defines, and the timed jobs they ask for.

`Catalog` keeps, per source, what its last-known-good revision defines; a name defined by
two sources is taken from the source listed first in the settings. It also vets a run's
commands with the safety pack and the extensions of the source that defines it. `Schedule` turns the
catalog's cron and interval triggers into scheduler jobs named `workflow:<name>:<i>` (`i`
is the trigger's position) and reconciles them like everything else: a job whose trigger
changed is replaced, one whose workflow or trigger left Git is removed. Event triggers
(git, webhook, metric, violation) are matched against the catalog when the event comes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from reconciler.run.scheduling import Scheduler
from reconciler.run.steps.base import Vetting
from reconciler.runbooks import safety, vetting
from reconciler.specs import flows, models, types
from reconciler.specs.snapshot import RegoFile, Snapshot

log = logging.getLogger(__name__)
JOB_PREFIX = "workflow:"


@dataclass(frozen=True, kw_only=True)
class Entry:
    """One workflow as Git defines it: where it came from and at which revision."""

    workflow: flows.Workflow
    source: str
    revision: str
    path: str

    @property
    def name(self) -> str:
        return self.workflow.metadata.name


@dataclass(frozen=True, kw_only=True)
class _Defined:
    workflows: dict[str, Entry]
    runbooks: dict[str, flows.Runbook]
    bindings: dict[str, models.PolicyBinding]
    safety: tuple[RegoFile, ...]  # the source's extensions of the runbook safety pack
    data: dict[str, Any]


class Catalog:
    def __init__(self, sources: Sequence[str]) -> None:
        self.order = list(sources)
        self._by_source: dict[str, _Defined] = {}

    def update(self, source: str, snapshot: Snapshot, *, revision: str) -> None:
        """Replace what `source` defines with what `snapshot` holds."""
        workflows = {
            m.metadata.name: Entry(workflow=m, source=source, revision=revision, path=d.path)
            for d, m in snapshot.workflows
            if isinstance(m, flows.Workflow)
        }
        runbooks = {
            m.metadata.name: m for _, m in snapshot.runbooks if isinstance(m, flows.Runbook)
        }
        bindings = {m.metadata.name: m for _, m in snapshot.bindings}
        self._by_source[source] = _Defined(
            workflows=workflows,
            runbooks=runbooks,
            bindings=bindings,
            safety=tuple(safety.extension_modules(snapshot.rego)),
            data=snapshot.data,
        )

    def _each(self) -> Iterator[_Defined]:
        for source in self.order:
            if source in self._by_source:
                yield self._by_source[source]

    def workflows(self) -> dict[str, Entry]:
        found: dict[str, Entry] = {}
        for defined in self._each():
            for name, entry in defined.workflows.items():
                found.setdefault(name, entry)
        return dict(sorted(found.items()))

    def entry(self, name: str) -> Entry | None:
        return next((d.workflows[name] for d in self._each() if name in d.workflows), None)

    def workflow(self, name: str) -> flows.Workflow | None:
        entry = self.entry(name)
        return entry.workflow if entry else None

    def runbook(self, name: str) -> flows.Runbook | None:
        return next((d.runbooks[name] for d in self._each() if name in d.runbooks), None)

    def vet(self, spec: flows.Workflow | flows.Runbook, variables: Mapping[str, Any]) -> Vetting:
        """The safety pack over `spec`, with the extensions of the source that defines it."""
        name = spec.metadata.name
        defined = next(
            (
                d
                for d in self._each()
                if name in (d.runbooks if isinstance(spec, flows.Runbook) else d.workflows)
            ),
            None,
        )
        if defined is None:
            return vetting.vet(spec, variables)
        return vetting.vet(spec, variables, extensions=defined.safety, data=defined.data)

    def binding(self, name: str) -> models.PolicyBinding | None:
        return next((d.bindings[name] for d in self._each() if name in d.bindings), None)


def job_name(workflow: str, index: int) -> str:
    return f"{JOB_PREFIX}{workflow}:{index}"


@dataclass(frozen=True, kw_only=True)
class Timed:
    """A cron or interval trigger as a job wants it."""

    workflow: str
    cron: str | None = None
    seconds: float | None = None


def timed_triggers(catalog: Catalog) -> dict[str, Timed]:
    """Job name -> trigger, for every cron and interval trigger in the catalog."""
    wanted: dict[str, Timed] = {}
    for name, entry in catalog.workflows().items():
        for index, trigger in enumerate(entry.workflow.spec.triggers):
            if trigger.cron is not None:
                wanted[job_name(name, index)] = Timed(workflow=name, cron=trigger.cron)
            elif trigger.interval is not None:
                wanted[job_name(name, index)] = Timed(
                    workflow=name, seconds=types.seconds(trigger.interval)
                )
    return wanted


Start = Callable[[str, str, Timed], Awaitable[None]]  # (job, trigger, its timed) -> started


def quiet_after(timed: Timed) -> timedelta:
    """How long after one firing of a job the same job firing again (on another replica,
    or late) is the same firing: half a minute for a cron job (replicas fire a cron time
    within moments of each other, and cron times are a minute apart at least), nine tenths
    of the interval for an interval job (whose replicas run out of phase: the first to
    claim each period's firing runs it, and one daemon alone is never refused its next)."""
    if timed.cron is not None:
        return timedelta(seconds=30)
    return timedelta(seconds=0.9 * (timed.seconds or 1))


class Schedule:
    """The scheduler's `workflow:` jobs, kept equal to the catalog's timed triggers."""

    def __init__(self, scheduler: Scheduler, *, start: Start) -> None:
        self.scheduler, self.start = scheduler, start
        self.jobs: dict[str, Timed] = {}

    def reconcile(self, catalog: Catalog) -> None:
        wanted = timed_triggers(catalog)
        for name in [n for n, t in self.jobs.items() if wanted.get(n) != t]:
            self.scheduler.remove(name)
            del self.jobs[name]
        for name, timed in wanted.items():
            if name not in self.jobs:
                self._add(name, timed)

    def _add(self, name: str, timed: Timed) -> None:
        job = self._job(name, timed)
        try:
            if timed.cron is not None:
                self.scheduler.cron(name, job, expression=timed.cron)
            elif timed.seconds is not None:
                self.scheduler.every(name, job, seconds=timed.seconds)
        except Exception:  # the loader checked it; a scheduler refusing it must not stop us
            log.exception("cannot schedule %s", name)
            return
        self.jobs[name] = timed

    def _job(self, name: str, timed: Timed) -> Callable[[], Awaitable[None]]:
        async def job() -> None:
            await self.start(name, "cron" if timed.cron else "interval", timed)

        return job

    def next_runs(self, workflow: str) -> list[datetime]:
        found = (self.scheduler.next_run(n) for n, t in self.jobs.items() if t.workflow == workflow)
        return sorted(at for at in found if at is not None)
