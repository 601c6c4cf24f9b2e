"""From an optimizer's inputs to the changes it proposes: the scaling, workflow (retry
backoff and parallelism) and audit optimizers read their inputs here — Prometheus, the
daemon's run history, its drift events — and turn what they find into `Change`s, or say
why they propose none. `runner.py` submits each change like any optimization."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from reconciler.optimize import (
    audits,
    backoff,
    intervals,
    parallelism,
    proposals,
    scaling,
    sizing,
)
from reconciler.optimize.records import Change, State
from reconciler.run import history, triggers
from reconciler.runstate import FINISHED, RunKind
from reconciler.specs import flows, types
from reconciler.specs.optimization import (
    Audit,
    Interval,
    Objective,
    Scaling,
    Weights,
    WorkflowRuns,
)
from reconciler.specs.snapshot import Document, Snapshot
from reconciler.store.interfaces import EventRecord

SETTINGS_FILE = "reconciler.yaml"
NO_PROMETHEUS = "no Prometheus to read metrics from (the daemon's prometheus.url)"


def scaling_changes(
    snap: Snapshot,
    item: Scaling,
    *,
    ws: proposals.Workspace,
    prometheus: triggers.Prometheus | None,
) -> list[Change] | str:
    """The target and replica bounds `item`'s autoscaler should have."""
    if prometheus is None:
        return NO_PROMETHEUS
    target = item.resource
    doc = document(snap, kind=target.kind, name=target.name, namespace=target.namespace)
    if doc is None:
        return f"no {target.kind} named {target.name} in the repository"
    unit = 100.0 if item.percent else 1.0
    current = sizing.current_value(doc.body, item.target_field)
    if current is None:
        return f"{doc.path}:{doc.line} {item.target_field}: not a number"
    now_max = sizing.current_value(doc.body, item.max_field) if item.max_field else None
    lookback, step = types.seconds(item.lookback), types.seconds(item.step)
    series = [
        _first(prometheus.query_range(q, lookback=lookback, step=step))
        for q in (item.utilisation, item.replicas, item.latency)
    ]
    scaled = scaling.tune(
        *series, current=current / unit, current_max=now_max, item=item, weights=ws.settings.weights
    )
    if scaled.min_replicas is None:
        return scaled.reason
    base = {**_base(doc, item.objective, optimizer="scaling"), "objective": scaling.OBJECTIVE}
    table = tuple({**c, "value": c["value"] * unit} if unit != 1 else c for c in scaled.candidates)
    wanted: list[tuple[str, str | None, float | None, float | None, str]] = [
        (
            "target",
            item.target_field,
            _rounded(scaled.target, unit),
            current,
            "integer" if item.percent else "",
        ),
        ("min", item.min_field, scaled.min_replicas, _at(doc, item.min_field), "integer"),
        ("max", item.max_field, scaled.max_replicas, now_max, "integer"),
    ]
    made = [
        Change(
            **base,
            name=f"{item.name}-{part}",
            field=field,
            old=old if old is not None else 0.0,
            new=float(new),
            reason=scaled.reason,
            tradeoff=table,
            unit=kind,
        )
        for part, field, new, old, kind in wanted
        if field is not None and new is not None and new != old
    ]
    return made or f"{scaled.reason}: the autoscaler already has them"


def workflow_changes(
    snap: Snapshot, item: WorkflowRuns, *, ws: proposals.Workspace
) -> list[Change] | str:
    """The parallelism and per-step retry backoffs the workflow's own runs call for."""
    found = next(((d, w) for d, w in snap.workflows if w.metadata.name == item.workflow), None)
    if found is None:
        return f"no Workflow named {item.workflow} in the repository"
    doc, workflow = found
    runs = [
        r
        for r in ws.store.list_runs(kind=RunKind.WORKFLOW, limit=item.runs * 10)
        if r.name == item.workflow and r.status in FINISHED
    ][: item.runs]
    stats = history.stats(reversed(runs))
    weights = ws.settings.weights
    base = _base(doc, item.objective, optimizer="workflow")
    made: list[Change] = []
    why: list[str] = []
    spread = parallelism.tune(workflow, stats, runs=len(runs), weights=weights)
    if spread.chosen is not None:
        made.append(
            Change(
                **{**base, "objective": parallelism.OBJECTIVE},
                name=f"{item.name}-parallelism",
                field="spec.maxParallelism",
                old=float(spread.current),
                new=float(spread.chosen),
                reason=spread.reason,
                tradeoff=spread.candidates,
                unit="integer",
            )
        )
    else:
        why.append(spread.reason)
    for i, step in enumerate(workflow.spec.steps):
        found_change = _backoff(
            base, item=item, step=step, index=i, stats=stats.get(step.name), weights=weights
        )
        if isinstance(found_change, Change):
            made.append(found_change)
        elif found_change:
            why.append(found_change)
    return made or "; ".join(why)


def audit_change(snap: Snapshot, item: Audit, *, ws: proposals.Workspace) -> Change | str:
    """The `auditInterval` of reconciler.yaml the drift found in `item.source` calls for."""
    now = ws.clock.now()
    since = now - timedelta(seconds=types.seconds(item.lookback))
    runs = [
        r
        for r in ws.store.list_runs(kind=RunKind.RECONCILE, limit=1000)
        if r.name == item.source and r.started_at is not None and r.started_at >= since
    ]
    if not runs:
        return f"no reconcile run of {item.source} since {since:%Y-%m-%d %H:%M}: no history"
    start = min(r.started_at for r in runs if r.started_at is not None)
    drifts = [
        e.at
        for e in _events(ws)
        if e.type == "DriftDetected" and e.data.get("source") == item.source
    ]
    current = types.seconds(snap.settings.spec.audit_interval)
    audited = audits.tune(
        drifts, since=start, until=now, current=current, item=item, weights=ws.settings.weights
    )
    if audited.chosen is None:
        return audited.reason
    return _settings_change(
        snap,
        item,
        optimizer="audit",
        objective=audits.OBJECTIVE,
        key="auditInterval",
        old=current,
        tuned=audited,
    )


def interval_change(snap: Snapshot, item: Interval, *, ws: proposals.Workspace) -> Change | str:
    """The change of `interval` in reconciler.yaml the daemon's runs of `item.source` call for."""
    current = types.seconds(snap.settings.spec.interval)
    runs = [
        r
        for r in ws.store.list_runs(kind=RunKind.RECONCILE, limit=item.runs * 10)
        if r.name == item.source
    ][: item.runs]
    timed = intervals.tune(runs, current=current, item=item, weights=ws.settings.weights)
    if timed.chosen is None:
        return timed.reason
    return _settings_change(
        snap,
        item,
        optimizer="interval",
        objective=intervals.OBJECTIVE,
        key="interval",
        old=current,
        tuned=timed,
    )


def _settings_change(
    snap: Snapshot,
    item: Audit | Interval,
    *,
    optimizer: str,
    objective: str,
    key: str,
    old: float,
    tuned: audits.Audited | intervals.Timed,
) -> Change:
    """A duration of reconciler.yaml's spec changed to the tuned choice."""
    assert tuned.chosen is not None
    return Change(
        optimizer=optimizer,
        name=item.name,
        objective=objective,
        resource=f"Settings//{snap.settings.metadata.name}",
        path=SETTINGS_FILE,
        index=0,
        field=f"spec.{key}",
        old=old,
        new=tuned.chosen,
        reason=tuned.reason,
        metric=item.objective.query,
        higher_is_worse=item.objective.higher_is_worse,
        tradeoff=tuned.candidates,
        unit="duration",
    )


def document(snap: Snapshot, *, kind: str, name: str, namespace: str | None) -> Document | None:
    return next(
        (d for d in snap.resources if (d.kind, d.name, d.namespace) == (kind, name, namespace)),
        None,
    )


def reverted(ws: proposals.Workspace, *, subject: str, value: float) -> str | None:
    """The decision that set `value` and regressed, if one did: it is not proposed again."""
    for entry in ws.store.daemon_decisions(type="optimization", subject=subject, limit=1000):
        facts = entry.record.get("context", {}).get("facts", {})
        bad = facts.get("state") in (State.REGRESSED, State.REVERTED)
        if bad and facts.get("change", {}).get("new") == value:
            return entry.id
    return None


def _backoff(
    base: dict[str, Any],
    *,
    item: WorkflowRuns,
    step: flows.Step,
    index: int,
    stats: history.StepStats | None,
    weights: Weights,
) -> Change | str:
    if step.retry is None:
        return ""
    if stats is None:
        return f"{step.name}: never ran"
    current = types.seconds(step.retry.backoff)
    backed = backoff.tune(
        stats,
        step=step.name,
        current=current,
        attempts=step.retry.max_attempts,
        min_change=item.min_change,
        weights=weights,
    )
    if backed.chosen is None:
        return backed.reason
    return Change(
        **{**base, "objective": backoff.OBJECTIVE},
        name=f"{item.name}-{step.name}-backoff",
        field=f"spec.steps.{index}.retry.backoff",
        old=current,
        new=backed.chosen,
        reason=backed.reason,
        tradeoff=backed.candidates,
        unit="duration",
    )


def _base(doc: Document, watched: Objective, *, optimizer: str) -> dict[str, Any]:
    """The parts every change of one document shares."""
    return {
        "optimizer": optimizer,
        "objective": "",
        "resource": doc.key,
        "path": doc.path,
        "index": doc.index,
        "metric": watched.query,
        "higher_is_worse": watched.higher_is_worse,
    }


def _at(doc: Document, field: str | None) -> float | None:
    return sizing.current_value(doc.body, field) if field else None


def _rounded(target: float | None, unit: float) -> float | None:
    if target is None:
        return None
    return float(round(target * unit)) if unit != 1 else round(target, 4)


def _first(series: list[list[float]]) -> list[float]:
    return series[0] if series else []


def _events(ws: proposals.Workspace, *, page: int = 1000, pages: int = 100) -> list[EventRecord]:
    """The event feed as the store keeps it (bounded by retention), oldest first."""
    found: list[EventRecord] = []
    for _ in range(pages):
        batch = ws.store.events(since_id=found[-1].id or 0 if found else 0, limit=page)
        found += batch
        if len(batch) < page:
            break
    return found
