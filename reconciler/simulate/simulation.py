"""`simulate`: what a change from a base revision to a head revision would do.

This process resolves the two revisions and the changed paths (reading Git objects only),
hands everything that reads the revisions' content to the sandbox process, observes the
current state for the plan when the sandbox asks for it, and assembles the `Report`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.clock import Clock
from reconciler.providers import registry
from reconciler.simulate import observe, process, triggers
from reconciler.simulate.records import (
    ConflictItem,
    DecisionsSection,
    PlanSection,
    PolicyChange,
    ProblemItem,
    ProblemsSection,
    ReplaySection,
    Report,
    RunChange,
    RunsSection,
    TestsSection,
)
from reconciler.simulate.settings import SimulateSettings
from reconciler.source import git
from reconciler.source.settings import SourceSettings
from reconciler.store.interfaces import Store
from reconciler.store.retention import RetentionSettings
from reconciler.store.sqlite import SqliteStore

STORE_FILE = "reconciler.db"  # the daemon's database in its data directory


@dataclass(frozen=True, kw_only=True)
class Request:
    source: SourceSettings  # where the repository is; `ref` is ignored
    base: str
    head: str
    data_dir: Path | None = None
    settings: SimulateSettings = field(default_factory=SimulateSettings)


def simulate(
    request: Request, *, clock: Clock, providers: registry.Registry | None = None
) -> Report:
    """The report of `request`; limits come from `request.settings`."""
    source = git.GitSource.open(request.source)
    source.fetch()
    base, head = source.resolve(request.base), source.resolve(request.head)
    changed = tuple(source.changed_paths(base.sha, head.sha))
    store_path = request.data_dir / STORE_FILE if request.data_dir else None
    store: Store | None = None
    if store_path is not None and store_path.is_file():
        store = SqliteStore(store_path, retention=RetentionSettings())
    try:
        observer = observe.Observer(
            source=source,
            store=store,
            providers=providers,
            store_label=f"store {store_path}" if store else "",
        )
        repo = request.source.path or git.cache_path(request.source)
        collected = process.run(
            {
                "repo": str(repo),
                "subpath": request.source.subpath,
                "base": base.sha,
                "head": head.sha,
                "now": clock.now().isoformat(),
                "store": str(store_path) if store else None,
            },
            settings=request.settings,
            clock=clock,
            inputs_for=observer.inputs,
        )
    finally:
        if store is not None:
            store.close()
    return _report(base.sha, head.sha, changed, collected, observer.plan)


def _report(
    base: str,
    head: str,
    changed: tuple[str, ...],
    collected: process.Collected,
    plan: PlanSection | None,
) -> Report:
    found: dict[str, Any] = collected.sections
    decisions = _maybe(DecisionsSection, found.get("decisions"))
    if plan is not None and decisions is not None:
        plan = _gate(plan, decisions)
    runs = None
    if "runs" in found:
        fires = triggers.fires(
            facts=found.get("facts") or {},
            changed=changed,
            deltas=decisions.deltas if decisions else (),
        )
        runs = RunsSection(
            changes=tuple(RunChange.model_validate(r) for r in found["runs"]), fires=tuple(fires)
        )
    return Report(
        base=base,
        head=head,
        changed_paths=changed,
        rejection=tuple(ProblemItem.model_validate(p) for p in found.get("rejection", [])),
        problems=_maybe(ProblemsSection, found.get("problems")),
        tests=_maybe(TestsSection, found.get("tests")),
        policies=tuple(PolicyChange.model_validate(p) for p in found.get("policies", [])),
        decisions=decisions,
        plan=plan,
        replay=_maybe(ReplaySection, found.get("replay")),
        runs=runs,
        conflicts=tuple(ConflictItem.model_validate(c) for c in found.get("conflicts", [])),
        errors=tuple(collected.issues),
    )


def _maybe(model: Any, value: Any) -> Any:
    return None if value is None else model.model_validate(value)


def _gate(plan: PlanSection, decisions: DecisionsSection) -> PlanSection:
    """Mark planned changes the head's policies would block."""
    items = tuple(
        item.model_copy(update={"blocked_by": tuple(decisions.blocked_at_head[item.key])})
        if item.key in decisions.blocked_at_head and item.action != "not-observed"
        else item
        for item in plan.items
    )
    return plan.model_copy(update={"items": items})
