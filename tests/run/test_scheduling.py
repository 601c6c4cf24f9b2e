from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from reconciler.errors import UsageError
from reconciler.run import scheduling


def test_interval_job_runs_repeatedly_without_overlapping_itself() -> None:
    async def scenario() -> tuple[int, int]:
        sched = scheduling.Scheduler()
        calls = 0
        running = 0
        peak = 0

        async def job() -> None:
            nonlocal calls, running, peak
            calls += 1
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.15)  # longer than the interval: must not overlap
            running -= 1

        sched.every("tick", job, seconds=0.05, first_at=datetime.now(UTC))
        sched.start()
        await asyncio.sleep(0.6)
        sched.shutdown()
        return calls, peak

    calls, peak = asyncio.run(scenario())
    assert calls >= 2
    assert peak == 1


def test_named_jobs_replace_and_remove() -> None:
    async def scenario() -> list[list[str]]:
        sched = scheduling.Scheduler()

        async def job() -> None:
            return None

        sched.start()
        sched.every("a", job, seconds=60)
        sched.every("a", job, seconds=30)
        sched.cron("b", job, expression="0 2 * * *")
        seen = [sched.names()]
        sched.remove("a")
        sched.remove("missing")
        seen.append(sched.names())
        sched.shutdown()
        return seen

    assert asyncio.run(scenario()) == [["a", "b"], ["b"]]


def test_bad_cron_expression_is_a_usage_error() -> None:
    sched = scheduling.Scheduler()

    async def job() -> None:
        return None

    with pytest.raises(UsageError) as info:
        sched.cron("bad", job, expression="every day")
    assert str(info.value).startswith('cron expression "every day": ')
