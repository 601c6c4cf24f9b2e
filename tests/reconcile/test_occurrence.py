"""Which firing of a scheduled job a replica is about to run: the same key on every replica
for one cron minute or one interval period, a new key for the next."""

from __future__ import annotations

from datetime import UTC, datetime

from reconciler.reconcile.workflows import Timed, occurrence

CRON = Timed(workflow="nightly", cron="0 2 * * *")
EVERY = Timed(workflow="sweep", seconds=300)


def test_replicas_firing_one_cron_minute_name_the_same_occurrence() -> None:
    early = datetime(2026, 3, 1, 2, 0, 0, 1000, tzinfo=UTC)
    late = datetime(2026, 3, 1, 2, 0, 2, tzinfo=UTC)
    assert (
        occurrence("workflow:nightly", CRON, early) == "workflow:nightly@2026-03-01T02:00:00+00:00"
    )
    assert occurrence("workflow:nightly", CRON, late) == occurrence("workflow:nightly", CRON, early)
    next_day = datetime(2026, 3, 2, 2, 0, 0, tzinfo=UTC)
    assert occurrence("workflow:nightly", CRON, next_day) != occurrence("j", CRON, early)


def test_an_interval_job_has_one_occurrence_per_period() -> None:
    start = datetime(2026, 3, 1, 2, 0, 0, tzinfo=UTC)  # a multiple of 300 s since the epoch
    inside = datetime(2026, 3, 1, 2, 4, 59, tzinfo=UTC)
    after = datetime(2026, 3, 1, 2, 5, 0, tzinfo=UTC)
    assert occurrence("w", EVERY, start) == occurrence("w", EVERY, inside)
    assert occurrence("w", EVERY, after) == f"w@{int(after.timestamp()) // 300}"
    assert occurrence("w", EVERY, after) != occurrence("w", EVERY, inside)
