"""The one adapter around APScheduler 3: named jobs on intervals or cron expressions.

Jobs are async callables run on the daemon's event loop. A job never overlaps itself
(`max_instances=1`) and missed runs coalesce into one, so a slow reconcile delays the next
tick instead of stacking up. Intervals take optional jitter so many sources polling the
same forge do not fire in lock-step.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from reconciler.errors import UsageError

Job = Callable[[], Awaitable[None]]


class Scheduler:
    """Named jobs; adding a job with an existing name replaces it."""

    def __init__(self) -> None:
        self._scheduler = AsyncIOScheduler(
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )

    def start(self) -> None:
        """Start running jobs; must be called with the event loop running."""
        self._scheduler.start()

    def shutdown(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def every(
        self,
        name: str,
        job: Job,
        *,
        seconds: float,
        jitter: float = 0.0,
        first_at: datetime | None = None,
    ) -> None:
        trigger = IntervalTrigger(seconds=seconds, jitter=jitter or None)
        self._add(name, job, trigger, first_at=first_at)

    def cron(self, name: str, job: Job, *, expression: str) -> None:
        try:
            trigger = CronTrigger.from_crontab(expression)
        except ValueError as exc:
            raise UsageError(f'cron expression "{expression}": {exc}') from None
        self._add(name, job, trigger, first_at=None)

    def remove(self, name: str) -> None:
        if self._scheduler.get_job(name) is not None:
            self._scheduler.remove_job(name)

    def names(self) -> list[str]:
        return sorted(job.id for job in self._scheduler.get_jobs())

    def next_run(self, name: str) -> datetime | None:
        job = self._scheduler.get_job(name)
        return None if job is None else job.next_run_time

    def _add(self, name: str, job: Job, trigger: object, *, first_at: datetime | None) -> None:
        extra = {} if first_at is None else {"next_run_time": first_at}
        self._scheduler.add_job(job, trigger, id=name, name=name, replace_existing=True, **extra)
