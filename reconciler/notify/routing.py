"""Which channels a notice goes to: every route matching its type, source and severity."""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.notify.notices import Notice
from reconciler.notify.settings import Route


def channels(notice: Notice, routes: Sequence[Route]) -> list[str]:
    """The channels of every matching route, each once, in the order the routes name them."""
    chosen: list[str] = []
    for route in routes:
        if matches(notice, route):
            chosen += [c for c in route.channels if c not in chosen]
    return chosen


def matches(notice: Notice, route: Route) -> bool:
    return (
        (not route.events or notice.type in route.events)
        and (not route.sources or notice.source in route.sources)
        and notice.severity.rank >= route.severity.rank
    )
