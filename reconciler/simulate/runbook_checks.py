"""Runbook validation and dry runs for a simulated revision (run in the sandbox).

The same checks as `reconciler runbook validate` (schema, dependencies, dangerous commands
by the safety pack and the repository's extensions) and `runbook test` (render with the
defaults, run nothing), over a snapshot the sandbox already loaded.
"""

from __future__ import annotations

from reconciler.errors import Problem, ReconcilerError
from reconciler.runbooks import catalog as runbooks
from reconciler.runbooks import check as runbook_check
from reconciler.runbooks import plan as runbook_plan
from reconciler.runbooks import safety as runbook_safety
from reconciler.source.revision import Tree
from reconciler.specs import flows
from reconciler.specs.snapshot import Snapshot

_DRY_RUN_LINES = 40


def catalog(tree: Tree, snapshot: Snapshot) -> runbooks.Catalog:
    """`runbooks.open_catalog` without loading the tree a second time."""
    entries = tuple(
        runbook_check.Entry(document=doc, model=model)
        for doc, model in snapshot.runbooks
        if isinstance(model, flows.Runbook)
    )
    safety = runbook_safety.SafetyCheck(
        extensions=runbook_safety.extension_modules(snapshot.rego), data=snapshot.data
    )
    problems = [p for p in snapshot.problems if p.path.startswith(runbooks.RUNBOOK_DIR)]
    return runbooks.Catalog(
        tree=tree,
        snapshot=snapshot,
        entries=entries,
        safety=safety,
        lines=runbook_check.Lines(tree=tree),
        problems=tuple([*problems, *safety.problems]),
    )


def problems(found: runbooks.Catalog) -> list[Problem]:
    """Problems of every runbook beyond those loading already reported."""
    loaded = set(found.snapshot.problems)
    return [p for p in runbooks.validate(found).problems if p not in loaded]


def dry_run(found: runbooks.Catalog, name: str) -> tuple[str, ...]:
    """The rendered plan with the variables' defaults, or why it cannot be rendered."""
    try:
        prepared = runbooks.prepare(found, name, given={})
    except ReconcilerError as exc:
        return (f"not rendered: {exc}",)
    lines = runbook_plan.render_text(prepared.plan).splitlines()
    if len(lines) > _DRY_RUN_LINES:
        lines = [*lines[:_DRY_RUN_LINES], f"… {len(lines) - _DRY_RUN_LINES} more lines"]
    return tuple(lines)
