"""One optimization run: read the repository's `optimization:` settings at the watched
revision, let each optimizer propose its change, notice the proposals a human merged or
closed since (`landing.watch`), then test every landed proposal whose regression window
has passed. The bindings the run flagged are kept with it in the store. Run on demand
(`reconciler optimize run`, `POST /api/v1/optimizations/run`) or every
`optimization.interval` by the daemon."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

from reconciler import runstate
from reconciler.decide import ledger
from reconciler.decide.records import DecisionRecord
from reconciler.errors import Problem, ReconcilerError, UsageError
from reconciler.optimize import (
    changes,
    landing,
    learning,
    proposals,
    recommend,
    rollback,
    sizing,
)
from reconciler.optimize.records import Change, State
from reconciler.policy import bundle
from reconciler.run import triggers
from reconciler.run.runlog import RunLog
from reconciler.runstate import RunKind, RunStatus
from reconciler.source import git
from reconciler.source.revision import Revision
from reconciler.specs import loader, types
from reconciler.specs.optimization import Sizing
from reconciler.specs.snapshot import Snapshot

SETTINGS_FILE = changes.SETTINGS_FILE
NO_PROMETHEUS = changes.NO_PROMETHEUS


@dataclass(frozen=True, kw_only=True)
class RunResult:
    revision: str
    proposals: tuple[DecisionRecord, ...] = ()
    reverts: tuple[DecisionRecord, ...] = ()
    skipped: tuple[str, ...] = ()  # why an optimizer proposed nothing
    flagged: tuple[str, ...] = ()  # policy bindings that never fired (a report, no change)
    run_id: str | None = None
    watched: landing.Watched = field(default_factory=landing.Watched)  # merged or closed


def pending(ws: proposals.Workspace, *, trigger: str) -> runstate.RunRecord:
    """The record of an optimization run of `ws` queued to run later (on the replica that
    owns its source)."""
    return runstate.started(
        id=str(uuid.uuid4()),
        kind=RunKind.OPTIMIZATION,
        name=ws.source.location,
        trigger=trigger,
        revision=None,
        at=ws.clock.now(),
    )


def run(
    ws: proposals.Workspace,
    *,
    prometheus: triggers.Prometheus | None,
    trigger: str = "manual",
    queued: runstate.RunRecord | None = None,
) -> RunResult:
    """Propose what the optimizers find, notice what people merged or closed, then test
    what landed (see the module doc). The run is recorded (kind `optimization`; `queued`,
    the `pending` record of a run queued before, when given) with the bindings it flagged,
    and its decisions point at it; an optimizer that fails, or needs the Prometheus there
    is none of, is named in `skipped` and the others go on."""
    log = RunLog(ws.store)
    if queued is None:
        record = replace(pending(ws, trigger=trigger), status=RunStatus.RUNNING)
        log.create(record)
    else:
        record = replace(queued, status=RunStatus.RUNNING)
        log.update(record)
    try:
        result = _run(replace(ws, run_id=record.id), prometheus=prometheus)
        ws.store.put_flagged(record.id, result.flagged)
    except Exception as exc:
        log.finish(record, status=RunStatus.FAILED, at=ws.clock.now(), error=str(exc))
        raise
    log.finish(
        replace(record, revision=result.revision), status=RunStatus.SUCCEEDED, at=ws.clock.now()
    )
    return replace(result, run_id=record.id)


def _run(ws: proposals.Workspace, *, prometheus: triggers.Prometheus | None) -> RunResult:
    revision, snap = _snapshot(ws)
    spec = snap.settings.spec
    compiled = bundle.compile(snap)
    if compiled.problems:
        problems = "\n".join(str(p) for p in compiled.problems)
        raise UsageError(
            f"{revision.sha[:10]} has invalid policies; nothing optimized:\n{problems}"
        )
    ws = replace(
        ws, settings=spec.optimization, decisions=spec.decisions, rules=compiled.new_engine()
    )
    made, skipped = [], []
    wanted: list[tuple[str, Callable[[], Change | list[Change] | str]]] = [
        *(
            (f"sizing/{i.name}", partial(_sizing_change, snap, i, ws=ws, prometheus=prometheus))
            for i in spec.optimization.sizing
        ),
        *(
            (f"interval/{i.name}", partial(changes.interval_change, snap, i, ws=ws))
            for i in spec.optimization.intervals
        ),
        *(
            (
                f"scaling/{i.name}",
                partial(changes.scaling_changes, snap, i, ws=ws, prometheus=prometheus),
            )
            for i in spec.optimization.scaling
        ),
        *(
            (f"workflow/{i.name}", partial(changes.workflow_changes, snap, i, ws=ws))
            for i in spec.optimization.workflows
        ),
        *(
            (f"audit/{i.name}", partial(changes.audit_change, snap, i, ws=ws))
            for i in spec.optimization.audits
        ),
    ]
    for subject, change_for in wanted:
        try:
            found = change_for()
            if isinstance(found, str):
                skipped.append(f"{subject}: {found}")
                continue
            for change in [found] if isinstance(found, Change) else found:
                made.append(proposals.submit(change, ws=ws))
        except ReconcilerError as exc:
            skipped.append(f"{subject}: {exc}")
    recommended = recommend.run(snap, ws=ws)
    watched = landing.watch(ws)
    reverts, untested = _test_landed(ws, prometheus=prometheus)
    return RunResult(
        revision=revision.sha,
        proposals=(*made, *recommended.proposals),
        reverts=tuple(reverts),
        skipped=(*skipped, *recommended.skipped, *untested),
        flagged=recommended.flagged,
        watched=watched,
    )


def _test_landed(
    ws: proposals.Workspace, *, prometheus: triggers.Prometheus | None
) -> tuple[list[DecisionRecord], list[str]]:
    """The reverts of landed proposals that regressed, and why any was not tested (it is
    tested at a later run)."""
    landed = _landed(ws)
    if prometheus is None:
        return [], [f"regression test of {len(landed)} landed: {NO_PROMETHEUS}"] if landed else []
    reverts, untested = [], []
    for record in landed:
        try:
            revert = rollback.check(record, ws=ws, prometheus=prometheus)
        except ReconcilerError as exc:  # Prometheus unreachable, say
            untested.append(f"regression test of {record.context.subject}: {exc}")
            continue
        if revert is not None:
            reverts.append(revert)
    return reverts, untested


def interval(ws: proposals.Workspace) -> float:
    """`optimization.interval` at the watched revision, in seconds (0: on demand only).

    Asked every few seconds, so only the settings file is read: a whole load of a large
    revision would keep the interpreter from the daemon's passes. A run still refuses a
    revision with any invalid spec (`_snapshot`)."""
    revision = ws.watched()
    tree = git.GitSource.open(ws.source).tree(revision)
    settings, problems = loader.settings_of(tree, tree.entry(SETTINGS_FILE))
    if problems:
        raise UsageError(_invalid(revision, problems))
    return types.seconds(settings.spec.optimization.interval)


def _snapshot(ws: proposals.Workspace) -> tuple[Revision, Snapshot]:
    """The watched revision's specs; `UsageError` naming every problem when any is bad
    (an optimization never edits a revision the daemon would not apply)."""
    revision = ws.watched()
    snap = loader.load(git.GitSource.open(ws.source).tree(revision))
    if not snap.ok:
        raise UsageError(_invalid(revision, snap.problems))
    return revision, snap


def _invalid(revision: Revision, problems: Sequence[Problem]) -> str:
    listed = "\n".join(str(p) for p in problems)
    return f"{revision.sha[:10]} has invalid specs; nothing optimized:\n{listed}"


def _sizing_change(
    snap: Snapshot,
    item: Sizing,
    *,
    ws: proposals.Workspace,
    prometheus: triggers.Prometheus | None,
) -> Change | str:
    """The change sizing proposes for `item`, or why it proposes none."""
    if prometheus is None:
        return NO_PROMETHEUS
    target = item.resource
    doc = changes.document(snap, kind=target.kind, name=target.name, namespace=target.namespace)
    if doc is None:
        return f"no {target.kind} named {target.name} in the repository"
    current = sizing.current_value(doc.body, item.field)
    if current is None:
        return f"{doc.path}:{doc.line} {item.field}: not a number"
    found = prometheus.query_range(
        item.query, lookback=types.seconds(item.lookback), step=types.seconds(item.step)
    )
    learnt: dict[str, Any] = {}
    sized = sizing.size(
        [v for series in found for v in series],
        current=current,
        sizing=item,
        weights=ws.settings.weights,
        pick=partial(_learnt, ws=ws, subject=f"sizing/{item.name}", into=learnt)
        if ws.settings.learning.enabled
        else None,
    )
    if sized.chosen is None:
        return sized.reason
    reverted = changes.reverted(ws, subject=f"sizing/{item.name}", value=sized.chosen.value)
    if reverted is not None:
        return f"{sized.chosen.value:g} regressed once already (decision {reverted[:12]})"
    return Change(
        optimizer="sizing",
        name=item.name,
        objective=sizing.OBJECTIVE,
        resource=doc.key,
        path=doc.path,
        index=doc.index,
        field=item.field,
        old=current,
        new=sized.chosen.value,
        reason=sized.reason,
        metric=item.objective.query,
        higher_is_worse=item.objective.higher_is_worse,
        tradeoff=learning.annotated(_rows(sized.candidates), learnt)
        if learnt
        else _rows(sized.candidates),
        learner=learnt or None,
    )


def _rows(table: tuple[sizing.Candidate, ...]) -> tuple[dict[str, float], ...]:
    return tuple(
        {
            "headroom": c.headroom,
            "value": c.value,
            "cost": c.cost,
            "performance": c.performance,
            "reliability": c.reliability,
            "score": c.score,
        }
        for c in table
    )


def _learnt(
    table: tuple[sizing.Candidate, ...],
    *,
    ws: proposals.Workspace,
    subject: str,
    into: dict[str, Any],
) -> sizing.Candidate:
    """The candidate the learner picks; what it recorded of the choice goes `into`."""
    index, recorded = learning.choose(
        ws.store, subject=subject, candidates=_rows(table), seed=ws.settings.learning.seed
    )
    into.update(recorded)
    return table[index]


def _landed(ws: proposals.Workspace) -> list[DecisionRecord]:
    """Landed optimizations (not reverts: a revert is never reverted automatically)."""
    entries = ws.store.daemon_decisions(type="optimization", outcome="pending", limit=10_000)
    records = [ledger.from_entry(e) for e in entries]
    return [r for r in records if r.context.facts.get("state") == State.LANDED]
