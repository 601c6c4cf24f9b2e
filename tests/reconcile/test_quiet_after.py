"""How long after a scheduled job's firing the same job firing again is that same firing
(another replica's, or a late one): half a minute for cron, nine tenths of an interval."""

from __future__ import annotations

from datetime import timedelta

from reconciler.reconcile.workflows import Timed, quiet_after


def test_a_cron_firing_is_quiet_for_half_a_minute() -> None:
    assert quiet_after(Timed(workflow="nightly", cron="0 2 * * *")) == timedelta(seconds=30)


def test_an_interval_firing_is_quiet_for_nine_tenths_of_the_interval() -> None:
    assert quiet_after(Timed(workflow="sweep", seconds=300)) == timedelta(seconds=270)
