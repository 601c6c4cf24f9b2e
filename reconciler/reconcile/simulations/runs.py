"""One simulation in the daemon, start to finish: fetch, simulate, store, report, announce.

The pull request's head is fetched into a mirror of its own under the data directory
(`simulations/git`), never into the mirror the source's runner serves from: its commits are
untrusted until merged. GitHub keeps a pull request's head at `refs/pull/N/head` and GitLab
a merge request's at `refs/merge-requests/N/head` (forks included); the branch name is the
fallback. `simulate.simulation` then compares base and head in its sandbox process, with the
daemon's store as the observed state and the decision log to replay (a SQLite copy of them
when the store is PostgreSQL: `store_copy`). Whatever happens ends
in one stored `SimulationRecord` (its report bounded: `stored_reports`) and one `RunRecord`
of kind `simulation`, each state of the two written in one transaction, the forge report
(errors recorded, never raised) and one `SimulationFinished` event. Blocking: call on a
worker thread.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from reconciler import runstate
from reconciler.clock import Clock
from reconciler.errors import ReconcilerError
from reconciler.events import Bus, Event, EventType
from reconciler.reconcile.settings import DaemonSource, ForgeApi, ForgeSettings, SimulationSettings
from reconciler.reconcile.simulations import forge, store_copy, stored_reports
from reconciler.run.runlog import RunLog
from reconciler.runstate import RunKind, RunStatus, StepRecord, StepStatus
from reconciler.simulate import details, github, markdown, simulation
from reconciler.simulate.records import Report
from reconciler.simulate.settings import SimulateSettings
from reconciler.source import git
from reconciler.source.settings import SourceSettings
from reconciler.store import runqueue
from reconciler.store.interfaces import SimulationRecord, SimulationStatus, Store

log = logging.getLogger(__name__)
_RUN_STATUS = {
    SimulationStatus.SUCCEEDED: RunStatus.SUCCEEDED,
    SimulationStatus.FAILED: RunStatus.FAILED,
    SimulationStatus.CANCELLED: RunStatus.CANCELLED,
}


@dataclass(frozen=True, kw_only=True)
class Context:
    """What a simulation needs of the daemon: the store it records into, the clock, the bus
    it announces on, and the settings of simulations, forges and the data directory."""

    store: Store
    clock: Clock
    bus: Bus
    data_dir: Path
    limits: SimulationSettings
    forges: ForgeSettings


@dataclass(frozen=True, kw_only=True)
class Job:
    """What to simulate, and where to report it."""

    id: str
    source: DaemonSource
    forge: str  # github | gitlab | api
    number: int | None = None
    base: str  # a sha, or a ref
    head: str
    base_ref: str | None = None  # tried when `base` is not in the repository
    head_refs: tuple[str, ...] = ()  # fetched, then tried when `head` is not there
    forge_repo: str | None = None
    trigger: str = "api"

    @property
    def key(self) -> runqueue.PullRequest | None:
        """Jobs with the same key supersede each other (one pull request)."""
        return runqueue.pull_request(source=self.source.name, forge=self.forge, number=self.number)

    @property
    def name(self) -> str:
        return self.source.name if self.number is None else f"{self.source.name}#{self.number}"


def queued(job: Job, *, context: Context) -> SimulationRecord:
    """Store the job as queued (with its run record); returns the record."""
    record, run = queued_records(job, at=context.clock.now())
    RunLog(context.store).with_simulation(record, run=run)
    return record


def queued_records(job: Job, *, at: datetime) -> tuple[SimulationRecord, runstate.RunRecord]:
    """The job as first recorded: its simulation queued, and its run pending, with the
    head as its revision when the head is a commit id (as every later write of it has, so
    a run the store cancels as superseded reads as one cancelled here)."""
    now = at
    record = SimulationRecord(
        id=job.id,
        source=job.source.name,
        forge=job.forge,
        number=job.number,
        base=job.base,
        head=job.head,
        status=SimulationStatus.QUEUED,
        created_at=now,
    )
    run = runstate.started(
        id=job.id,
        kind=RunKind.SIMULATION,
        name=job.name,
        trigger=job.trigger,
        revision=_sha(job.head),
        at=now,
    )
    return record, run


def execute(job: Job, *, context: Context) -> SimulationRecord:
    """Run the job; never raises for what the simulation or the forge does."""
    store, now = context.store, context.clock.now()
    record = store.get_simulation(job.id) or queued(job, context=context)
    record = dataclasses.replace(record, status=SimulationStatus.RUNNING)
    _store(
        context,
        record,
        status=RunStatus.RUNNING,
        steps=(StepRecord(name="simulate", status=StepStatus.RUNNING, started_at=now),),
    )
    try:
        record = _simulate(job, record, context=context)
    except ReconcilerError as exc:
        record = _failed(record, str(exc), context=context)
    except Exception as exc:  # a bug: the daemon keeps serving, the record says what broke
        log.exception("simulation %s failed", job.id)
        record = _failed(record, f"{type(exc).__name__}: {exc}", context=context)
    record = report(job, record, context=context)
    finish(record, context=context, started=now)
    return record


def finish(record: SimulationRecord, *, context: Context, started: datetime | None = None) -> None:
    """Store the final record and its run in one transaction, and announce it; reports
    over the total bound lose the oldest first."""
    steps = (
        [
            StepRecord(
                name="simulate",
                status=StepStatus.SUCCEEDED
                if record.status is SimulationStatus.SUCCEEDED
                else StepStatus.FAILED,
                started_at=started,
                finished_at=record.finished_at,
                output={"conclusion": record.conclusion, "blocked": record.blocked},
                error=None if record.status is SimulationStatus.SUCCEEDED else record.summary,
            )
        ]
        if started is not None
        else []
    )
    if record.forge_error is not None:
        steps.append(
            StepRecord(
                name="report",
                status=StepStatus.FAILED,
                finished_at=record.finished_at,
                error=record.forge_error,
            )
        )
    _store(context, record, status=_RUN_STATUS[record.status], steps=tuple(steps))
    announce(record, context=context)
    context.store.trim_simulation_reports(max_bytes=context.limits.max_reports_mib * 1024 * 1024)


def announce(record: SimulationRecord, *, context: Context) -> None:
    """Publish that the simulation of `record`, stored final, finished."""
    context.bus.publish(
        Event(
            type=EventType.SIMULATION_FINISHED,
            at=context.clock.now(),
            source=record.source,
            message=f"simulation of {_label(record)} {record.status.value}: {record.summary}",
            data={
                "simulation": record.id,
                "status": record.status.value,
                "number": record.number,
                "blocked": record.blocked,
                "conclusion": record.conclusion,
            },
        )
    )


def _store(
    context: Context, record: SimulationRecord, *, status: RunStatus, steps: tuple[StepRecord, ...]
) -> None:
    """Write `record` and, when it has one, its run with `status` and `steps`, together."""
    run = context.store.get_run(record.id)
    if run is None:
        context.store.put_simulation(record)
        return
    run = dataclasses.replace(run, revision=_sha(record.head) or run.revision)
    if status in runstate.FINISHED:
        error = record.summary if status is RunStatus.FAILED else None
        at = record.finished_at or context.clock.now()
        run = runstate.finished(run, status=status, at=at, error=error, steps=steps)
    else:
        run = dataclasses.replace(run, status=status, steps=steps, finished_at=None, error=None)
    RunLog(context.store).with_simulation(record, run=run)


def _simulate(job: Job, record: SimulationRecord, *, context: Context) -> SimulationRecord:
    config = sandbox_source(job.source, data_dir=context.data_dir)
    base, head = resolve(job, config)
    record = dataclasses.replace(record, base=base, head=head)
    context.store.put_simulation(record)
    with store_copy.sandbox_data_dir(context.store, data_dir=context.data_dir) as data_dir:
        request = simulation.Request(
            source=config, base=base, head=head, data_dir=data_dir, settings=limits(context.limits)
        )
        report = simulation.simulate(request, clock=context.clock)
    return completed(record, report, context=context)


def sandbox_source(source: DaemonSource, *, data_dir: Path) -> SourceSettings:
    """The source as a simulation reads it: remotes mirrored apart, signatures not required
    (a pull request's commits are what is being checked)."""
    return SourceSettings(
        url=source.url,
        path=source.path,
        subpath=source.subpath,
        auth=source.auth,
        cache_dir=data_dir / "simulations" / "git",
    )


def limits(settings: SimulationSettings) -> SimulateSettings:
    return SimulateSettings(
        cpu_seconds=settings.cpu_seconds,
        wall_seconds=settings.wall_seconds,
        memory_mib=settings.memory_mib,
        output_mib=settings.output_mib,
    )


def resolve(job: Job, config: SourceSettings) -> tuple[str, str]:
    """Fetch the source (and the pull request's head refs) and find both commits."""
    source = git.GitSource.open(config)
    source.fetch()
    named = (
        r
        for r in (job.base, job.head)
        if r.startswith("refs/") and not r.startswith(("refs/heads/", "refs/tags/"))
    )  # e.g. refs/pull/7/head
    source.fetch_refs(tuple(dict.fromkeys([*job.head_refs, *named])))
    base = _first(source, [job.base, *([job.base_ref] if job.base_ref else [])])
    return base, _first(source, [job.head, *job.head_refs])


def _first(source: git.GitSource, names: Sequence[str]) -> str:
    error: ReconcilerError | None = None
    for name in names:
        try:
            return source.resolve(name).sha
        except ReconcilerError as exc:
            error = error or exc
    assert error is not None
    raise error


def completed(record: SimulationRecord, found: Report, *, context: Context) -> SimulationRecord:
    reasons = found.blocking_reasons()
    summary = markdown.verdict(found) + (": " + "; ".join(reasons) if reasons else "")
    whole = dataclasses.replace(
        record,
        status=SimulationStatus.FAILED if found.errors else SimulationStatus.SUCCEEDED,
        blocked=found.blocked,
        conclusion=github.conclusion(found),
        summary=summary,
        report={
            **found.model_dump(mode="json"),
            "blocked": found.blocked,
            "blockingReasons": reasons,
        },
        markdown=tuple(markdown.render(found, details.sections(found))),
        finished_at=context.clock.now(),
    )
    return stored_reports.bounded(whole, max_bytes=context.limits.max_report_kib * 1024)


def _failed(record: SimulationRecord, message: str, *, context: Context) -> SimulationRecord:
    summary = f"could not simulate: {message}"
    text = (
        f"### Reconciler simulation `{_label(record)}`: could not run\n\n"
        f"> {' '.join(message.split())}\n"
    )
    return dataclasses.replace(
        record,
        status=SimulationStatus.FAILED,
        blocked=True,
        conclusion="failure",
        summary=summary,
        markdown=(text,),
        finished_at=context.clock.now(),
    )


def report(job: Job, record: SimulationRecord, *, context: Context) -> SimulationRecord:
    """Post to the forge when it is configured; a failure is recorded on the record."""
    api: ForgeApi | None = getattr(context.forges, job.forge, None)
    if api is None or api.token_env is None or job.forge_repo is None:
        return record
    token = os.environ.get(api.token_env)
    if not token:
        error = f"forges.{job.forge}.tokenEnv: {api.token_env} is not set"
        return dataclasses.replace(record, forge_error=error)
    try:
        _post(job, record, api=api, token=token)
    except forge.ForgeError as exc:
        log.warning("reporting simulation %s to %s failed: %s", record.id, job.forge, exc)
        return dataclasses.replace(record, forge_error=str(exc))
    return record


def _post(job: Job, record: SimulationRecord, *, api: ForgeApi, token: str) -> None:
    assert job.forge_repo is not None
    if job.forge == "github":
        client = forge.github_client(api_url=api.api_url, token=token)
        forge.post_github(
            client,
            repo=job.forge_repo,
            number=job.number,
            check_run=check_run(record),
            parts=record.markdown,
        )
    else:
        client = forge.gitlab_client(api_url=api.api_url, token=token)
        forge.post_gitlab(
            client,
            project=job.forge_repo,
            number=job.number,
            sha=record.head,
            conclusion=record.conclusion or "failure",
            summary=record.summary,
            parts=record.markdown,
        )


def check_run(record: SimulationRecord) -> dict[str, Any]:
    """The check run: `simulate.github`'s payload, or a failure saying why there is none."""
    if record.report is not None and not stored_reports.is_stub(record.report):
        return github.payload(
            Report.model_validate(
                {k: v for k, v in record.report.items() if k not in ("blocked", "blockingReasons")}
            )
        )
    payload: dict[str, Any] = {
        "name": github.NAME,
        "head_sha": record.head,
        "status": "completed",
        "conclusion": "failure",
        "output": {"title": "could not simulate", "summary": record.summary[:65_535]},
    }
    if record.report is not None:  # a stub: the report was over the bound of one
        why = record.report[stored_reports.TRUNCATED]
        payload["output"] = {
            "title": "report cut",
            "summary": f"{record.summary}\n\n{why}"[:65_535],
        }
    return payload


def _label(record: SimulationRecord) -> str:
    return f"{record.base[:7]}..{record.head[:7]}"


def _sha(text: str) -> str | None:
    return text if len(text) == 40 and all(c in "0123456789abcdef" for c in text) else None
