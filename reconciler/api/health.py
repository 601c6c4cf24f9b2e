"""Health and metrics: `/healthz` (the process answers), `/readyz` (every source this
replica owns has served a revision and the store takes writes; 503 otherwise, with the
reason; it also names this replica, every replica with its last heartbeat, and each
source's owner) and `/metrics`
(Prometheus text, the daemon's counters fed by the event bus plus gauges counted from the
store at each scrape; `reconciler_approvals_waiting` counts the waiting steps of the runs
this replica's engine runs, so summed over the replicas each is counted once, while
`GET /api/v1/approvals` lists the whole store's).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.api import metrics
from reconciler.api.deps import Deps
from reconciler.conditions import Type
from reconciler.optimize import catalog
from reconciler.reconcile import replicas
from reconciler.store import leases
from reconciler.store.interfaces import StoreError


def routes(deps: Deps) -> list[Route]:
    """The three routes; the metrics they serve start counting now (subscribed to the bus)."""
    store = deps.store

    def state_counts() -> metrics.StateCounts:
        by_condition: Counter[tuple[str, str, str]] = Counter()
        for status in store.list_status():
            for c in status.conditions:
                by_condition[(status.source, str(c.type), str(c.status))] += 1
        violations = Counter((d.policy, str(d.enforcement)) for d in store.violations())
        engine = deps.workflows.engine
        return metrics.StateCounts(
            resources_by_condition=by_condition,
            violations=violations,
            approvals_waiting=engine.waiting_count() if engine is not None else 0,
            optimizations=Counter(
                (o.context.type, str(o.context.facts["state"]))
                for o in catalog.listed(store, limit=10_000)
            ),
        )

    prom = metrics.Metrics(state_counts)
    deps.bus.subscribe(prom.observe)

    def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    def readyz(request: Request) -> Response:
        sources = {name: r.ready for name, r in deps.runners.items()}
        body: dict[str, Any] = {"sources": sources, "store": True, "replica": deps.replica}
        try:
            store.probe_write(at=deps.clock.now())
            lease_now = leases.LeaseClock(store, fallback=deps.clock).now()  # what leases expire by
            body.update(replicas.cluster(store.holders(), now=lease_now))
        except StoreError as exc:
            body.update(store=False, reason=str(exc))
        # The probe rewrites one row in place; a pass's writes need room the probe does not.
        failed = _store_failure(deps)
        if body["store"] and failed:
            body.update(store=False, reason=failed)
        ready = body["store"] and all(sources.values())
        return JSONResponse({"ready": ready, **body}, status_code=200 if ready else 503)

    def metrics_endpoint(request: Request) -> Response:
        return Response(prom.render(), media_type=metrics.CONTENT_TYPE)

    return [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics_endpoint),
    ]


def _store_failure(deps: Deps) -> str | None:
    """Why the last pass of a source could not write the store, if one could not."""
    for runner in deps.runners.values():
        for failure in runner.state.failures:
            if failure.type is Type.STORE_FAILED:
                return failure.message
    return None
