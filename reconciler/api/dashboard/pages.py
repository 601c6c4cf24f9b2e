"""What each dashboard page shows, read from the daemon and its store.

Each function returns a `render.Page` (template, title, context) built from the same JSON
shapes the API returns (`api.views`), so the pages and the API never disagree. Store reads
block: `api.app` calls these on its thread pool.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from reconciler.api import simulations as simulation_views
from reconciler.api import views
from reconciler.api.dashboard import feed, graph, report, served
from reconciler.api.dashboard.render import Page
from reconciler.api.deps import Deps
from reconciler.decide import ledger
from reconciler.policy.decisions import Outcome
from reconciler.reconcile import replicas
from reconciler.run import plans
from reconciler.runstate import RunKind, RunRecord
from reconciler.store import leases
from reconciler.store.interfaces import VIOLATION_OUTCOMES

WINDOWS = {"1h": timedelta(minutes=5), "24h": timedelta(hours=1), "14d": timedelta(days=1)}
"""Trend windows of the policies page and the width of one bar in each."""
BAR_COUNT = {"1h": 12, "24h": 24, "14d": 14}
MAX_DAG_STEPS = 300
EVENT_ROWS = 20
EVENT_WINDOW = 200
"""The overview shows `EVENT_ROWS` rows, made of the newest `EVENT_WINDOW` events."""


def overview(deps: Deps) -> Page:
    statuses = deps.store.list_status()
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for status in statuses:
        for c in status.conditions:
            counts[str(c.type)][str(c.status)] += 1
    window = deps.store.events(since_id=_newest_event(deps) - EVENT_WINDOW, limit=EVENT_WINDOW)
    links = feed.Links(deps.store)
    return Page(
        template="overview.html",
        title="Overview",
        context={
            "sources": [views.source(r.state) for r in deps.runners.values()],
            "ready": deps.ready(),
            "total": len(statuses),
            "counts": sorted((t, dict(c)) for t, c in counts.items()),
            "violations": len(deps.store.violations()),
            "events": [feed.entry_json(e, links) for e in feed.collapse(window)[:EVENT_ROWS]],
            "replica": deps.replica,
            "cluster": replicas.cluster(
                deps.store.holders(),
                now=leases.LeaseClock(deps.store, fallback=deps.clock).now(),
            ),
        },
    )


def _newest_event(deps: Deps) -> int:
    """The newest event id, by exponential then binary search on `since_id` (ids only grow,
    and each probe is one indexed row)."""

    def beyond(event_id: int) -> bool:
        return bool(deps.store.events(since_id=event_id, limit=1))

    low, high = 0, 1
    while beyond(high):
        low, high = high, high * 2
    while high - low > 1:  # beyond(low) or low == 0; not beyond(high)
        middle = (low + high) // 2
        low, high = (middle, high) if beyond(middle) else (low, middle)
    return high if beyond(low) else low


def resources(deps: Deps, query: Mapping[str, str]) -> Page:
    condition = query.get("condition") or None
    items = deps.store.list_status(condition=condition)
    return Page(
        template="resources.html",
        title="Resources",
        context={
            "resources": [views.resource(s) for s in items],
            "condition": condition or "",
            "types": ["Ready", "Drifted", "PolicyDenied", "ApplyFailed", "Reconciling"],
        },
    )


def resource(deps: Deps, key: str) -> Page:
    status = deps.store.get_status(key)
    if status is None:
        return not_found(f'no resource "{key}"')
    decisions = deps.store.decisions(key=key, limit=20)
    return Page(
        template="resource.html",
        title=key,
        context={
            "r": views.resource(status),
            "history": list(reversed(views.resource(status)["history"])),
            "decisions": [d.as_json() for d in decisions],
        },
    )


def policies(deps: Deps, query: Mapping[str, str]) -> Page:
    window = query.get("window") or "24h"
    window = window if window in WINDOWS else "24h"
    bucket = WINDOWS[window]
    since = deps.clock.now() - bucket * BAR_COUNT[window]
    violations = Counter((d.policy, d.binding) for d in deps.store.violations())
    bars: dict[str, list[int]] = defaultdict(lambda: [0] * BAR_COUNT[window])
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    for c in deps.store.decision_counts(since=since, bucket=bucket):
        totals[c.policy][c.outcome.value] += c.count
        index = int((c.bucket_start - since) / bucket)
        if c.outcome in VIOLATION_OUTCOMES and 0 <= index < BAR_COUNT[window]:
            bars[c.policy][index] += c.count
    loaded = {name: runner.loader.last_good for name, runner in deps.runners.items()}
    rows = served.rows(loaded, now=deps.clock.now())
    known = {r["policy"] for r in rows}
    rows += [
        _unbound(p) for p in sorted(set(totals) | {p for p, _ in violations}) if p not in known
    ]
    for row in rows:
        row["violations"] = sum(
            n
            for (p, b), n in violations.items()
            if p == row["policy"] and row["binding"] in (b, "-")
        )
        row["totals"] = dict(totals.get(row["policy"], {}))
        row["trend"] = bars[row["policy"]]
    return Page(
        template="policies.html",
        title="Policies",
        context={
            "rows": rows,
            "window": window,
            "windows": list(WINDOWS),
            "bucket": _duration(bucket),
            "outcomes": [o.value for o in Outcome],
        },
    )


def _unbound(policy: str) -> dict[str, Any]:
    """A policy with logged decisions that no binding of a served revision names any more."""
    return {
        "source": "-",
        "name": "-",
        "binding": "-",
        "policy": policy,
        "enforcement": "-",
        "enforcementNote": "",
        "deadline": None,
        "input": "-",
        "scope": "no binding in the served revision",
        "exceptions": 0,
    }


def _duration(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h"


def runs(deps: Deps, query: Mapping[str, str]) -> Page:
    kind = query.get("kind") or ""
    chosen = RunKind(kind) if kind in {k.value for k in RunKind} else None
    found = deps.store.list_runs(kind=chosen, limit=100)
    return Page(
        template="runs.html",
        title="Runs",
        context={
            "runs": [views.run(r) for r in found],
            "kind": chosen.value if chosen else "",
            "kinds": [k.value for k in RunKind],
        },
    )


def run(deps: Deps, run_id: str) -> Page:
    record = deps.store.get_run(run_id)
    if record is None:
        return not_found(f'no run "{run_id}"')
    body = views.run(record)
    body["steps"] = [s for s in body["steps"] if not s["name"].startswith("#")]
    body.setdefault("dag", _plan_dag(record))
    big = len(graph.latest(body["steps"])) > MAX_DAG_STEPS
    return Page(
        template="run.html",
        title=f"Run {record.name}",
        context={
            "run": body,
            "graph": None if big else graph.layout(body),
            "bars": graph.timeline(body, now=deps.clock.now()),
            "node": graph,
            "max_steps": MAX_DAG_STEPS,
            "decisions": [
                {**ledger.summary(e), "href": f"/daemon/decisions/{e.id}"}
                for e in deps.store.daemon_decisions(run_id=run_id, limit=20)
            ],
        },
    )


def _plan_dag(record: RunRecord) -> dict[str, list[str]] | None:
    """Workflow and runbook runs keep their plan in a bookkeeping step: its dependencies."""
    meta = next((s for s in record.steps if s.name == plans.META), None)
    if meta is None:
        return None
    try:
        plan = plans.from_meta(meta)[0]
    except (KeyError, TypeError, ValueError):
        return None
    return {s.name: list(s.depends_on) for s in [*plan.steps, *plan.on_failure]}


def decisions(deps: Deps, query: Mapping[str, str]) -> Page:
    outcome = query.get("outcome") or ""
    try:
        limit = max(1, min(int(query.get("limit") or 100), 1000))
    except ValueError:
        limit = 100
    found = deps.store.decisions(
        policy=query.get("policy") or None, key=query.get("key") or None, limit=limit
    )
    links = feed.Links(deps.store)
    shown = [
        {**d.as_json(), "key": d.resource.key, "href": links.resource(d.resource.key)}
        for d in found
        if not outcome or d.outcome.value == outcome
    ]
    return Page(
        template="decisions.html",
        title="Decisions",
        context={
            "decisions": shown,
            "outcomes": [o.value for o in Outcome],
            "filters": {
                "policy": query.get("policy") or "",
                "key": query.get("key") or "",
                "outcome": outcome,
                "limit": limit,
            },
        },
    )


def approvals(items: Sequence[Mapping[str, Any]]) -> Page:
    rows = []
    for item in items:
        run_id = str(item.get("runId") or item.get("run_id") or "")
        step = str(item.get("step") or item.get("name") or "")
        extra = {k: v for k, v in item.items() if k not in {"runId", "run_id", "step"}}
        rows.append({"run_id": run_id, "step": step, "extra": extra})
    return Page(
        template="approvals.html",
        title="Approvals",
        context={"approvals": rows},
    )


def simulations(deps: Deps) -> Page:
    found = deps.store.list_simulations(limit=100)
    return Page(
        template="simulations.html",
        title="Simulations",
        context={"simulations": [simulation_views.summary(s) for s in found]},
    )


def simulation(deps: Deps, sim_id: str) -> Page:
    found = deps.store.get_simulation(sim_id)
    if found is None:
        return not_found(f'no simulation "{sim_id}"')
    title = f"Simulation of {found.source}" + (f" #{found.number}" if found.number else "")
    return Page(
        template="simulation.html",
        title=title,
        context={
            "s": simulation_views.summary(found),
            "report_html": report.to_html(simulation_views.markdown_text(found))
            if found.markdown
            else None,
        },
    )


def login(*, next_path: str, error: str = "", open_mode: bool, status: int = 200) -> Page:
    safe = next_path if next_path.startswith("/") and not next_path.startswith("//") else "/"
    return Page(
        template="login.html",
        title="Sign in",
        status=status,
        context={"next": safe, "error": error, "open_mode": open_mode},
    )


def not_found(message: str) -> Page:
    return Page(template="error.html", title="Not found", status=404, context={"message": message})
