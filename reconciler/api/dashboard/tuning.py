"""The dashboard's Optimizations pages: the proposals and reverts with their state and the
latest run's flagged bindings, and one proposal with its change, trade-off table,
simulation, decision, where it landed or why it closed, its run's flagged bindings and the
objective metric before and after it landed, drawn as a line chart (SVG points computed
here, so the page needs no script)."""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.api.dashboard import pages
from reconciler.api.dashboard.render import Page
from reconciler.optimize import catalog
from reconciler.store.interfaces import Store

WIDTH, HEIGHT = 600, 160


def listing(store: Store) -> Page:
    rows = [{**catalog.summary(r), "href": f"/optimizations/{r.id}"} for r in catalog.listed(store)]
    return Page(
        template="optimizations.html",
        title="Optimizations",
        context={"rows": rows, "flagged": catalog.latest_flagged(store)},
    )


def one(store: Store, optimization_id: str) -> Page:
    record = catalog.find(store, optimization_id)
    if record is None:
        return pages.not_found(f'no optimization "{optimization_id}"')
    detail = catalog.described(store, record)
    measured = detail["regression"] or {}
    return Page(
        template="optimization.html",
        title=f"Optimization of {detail['subject']}",
        context={
            "o": detail,
            "lines": record.explanation.splitlines(),
            "chart": chart(measured.get("before") or [], measured.get("after") or []),
        },
    )


def chart(before: Sequence[float], after: Sequence[float]) -> dict[str, object] | None:
    """Polyline points of the two windows side by side, the change at the middle line."""
    values = [*before, *after]
    if not before or not after:
        return None
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = WIDTH / max(len(values) - 1, 1)

    def points(series: Sequence[float], offset: int) -> str:
        return " ".join(
            f"{(offset + i) * step:.1f},{HEIGHT - (v - low) / span * (HEIGHT - 10) - 5:.1f}"
            for i, v in enumerate(series)
        )

    return {
        "width": WIDTH,
        "height": HEIGHT,
        "before": points(before, 0),
        "after": points(after, len(before)),
        "landed": round((len(before) - 0.5) * step, 1),
        "low": low,
        "high": high,
    }
