"""Enriching a decision's context with the circumstances it is taken in."""

from __future__ import annotations

from datetime import datetime

from reconciler.specs.decisions import DecisionSettings, Window


def window(now: datetime, settings: DecisionSettings) -> str:
    """`maintenance:<name>` inside a maintenance window, else `business-hours` or
    `off-hours` (UTC weekly windows; a window whose end is before its start spans
    midnight and belongs to the day it starts)."""
    for w in settings.maintenance_windows:
        if inside(now, w):
            return f"maintenance:{w.name}"
    return "business-hours" if inside(now, settings.business_hours) else "off-hours"


def inside(now: datetime, w: Window) -> bool:
    at = now.time().replace(tzinfo=None)
    day = now.weekday()
    if w.start <= w.end:
        return day in w.days and w.start <= at < w.end
    started_today = day in w.days and at >= w.start
    started_yesterday = (day - 1) % 7 in w.days and at < w.end
    return started_today or started_yesterday
