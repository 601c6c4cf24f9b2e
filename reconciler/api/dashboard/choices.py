"""The dashboard's pages of the daemon's own decisions: the list with filters, and one
decision with its context, scored options, level, approver, outcome and explanation."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from reconciler.api.dashboard import pages
from reconciler.api.dashboard.render import Page
from reconciler.decide import ledger
from reconciler.decide.records import Level, Outcome
from reconciler.store.interfaces import Store

FILTERS = ("type", "subject", "outcome")


def listing(store: Store, query: Mapping[str, str]) -> Page:
    wanted = {k: query.get(k) or "" for k in FILTERS}
    try:
        limit = max(1, min(int(query.get("limit") or 100), 1000))
    except ValueError:
        limit = 100
    found = store.daemon_decisions(**{k: v or None for k, v in wanted.items()}, limit=limit)
    rows = [
        {**ledger.summary(e), "href": f"/daemon/decisions/{e.id}", "run_href": _run(e.run_id)}
        for e in found
    ]
    return Page(
        template="daemon_decisions.html",
        title="Daemon decisions",
        context={
            "decisions": rows,
            "outcomes": [o.value for o in Outcome],
            "types": ["remediation", "workflow"],
            "filters": {**wanted, "limit": limit},
        },
    )


def one(store: Store, decision_id: str) -> Page:
    entry = store.get_daemon_decision(decision_id)
    if entry is None:
        return pages.not_found(f'no decision "{decision_id}"')
    record = ledger.from_entry(entry)
    chosen = record.choice.chosen
    return Page(
        template="daemon_decision.html",
        title=f"Decision on {record.context.subject}",
        context={
            "d": record.to_json(),
            "chosen": chosen.name if chosen else None,
            "lines": record.explanation.splitlines(),
            "run_href": _run(record.run_id),
            "levels": [level.value for level in Level],
        },
    )


def _run(run_id: str | None) -> str | None:
    return f"/runs/{quote(run_id, safe='/')}" if run_id else None
