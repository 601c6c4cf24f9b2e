"""Runbooks of one repository, as the `runbook` verbs use them: load, validate, plan, list.

A `Catalog` is one load of the repository (every runbook that passed the schema, the
problems of those that did not, and the safety pack with the repository's extensions).
`validate` adds the checks of `runbooks.check`; `prepare` renders one runbook's variables
into a plan and checks it again as rendered, since a variable can turn a harmless command
into a dangerous one. Running is the workflow engine's job (`run.engine`), reporting
`runbooks.report`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler import errors
from reconciler.errors import Problem
from reconciler.runbooks import check as runbook_check
from reconciler.runbooks import plan as runbook_plan
from reconciler.runbooks import safety as runbook_safety
from reconciler.runbooks.check import Entry, RunbookCheck
from reconciler.source.revision import Tree
from reconciler.specs import flows, loader, yamlio
from reconciler.specs.snapshot import Snapshot

RUNBOOK_DIR = "runbooks/"


@dataclass(frozen=True, kw_only=True)
class Catalog:
    tree: Tree
    snapshot: Snapshot
    entries: tuple[Entry, ...]
    safety: runbook_safety.SafetyCheck
    lines: runbook_check.Lines
    problems: tuple[Problem, ...]  # runbooks that did not load, extensions that did not compile

    @property
    def names(self) -> list[str]:
        return [e.name for e in self.entries]


def open_catalog(tree: Tree) -> Catalog:
    snapshot = loader.load(tree)
    entries = tuple(
        Entry(document=doc, model=model)
        for doc, model in snapshot.runbooks
        if isinstance(model, flows.Runbook)
    )
    safety = runbook_safety.SafetyCheck(
        extensions=runbook_safety.extension_modules(snapshot.rego), data=snapshot.data
    )
    problems = [p for p in snapshot.problems if p.path.startswith(RUNBOOK_DIR)]
    return Catalog(
        tree=tree,
        snapshot=snapshot,
        entries=entries,
        safety=safety,
        lines=runbook_check.Lines(tree=tree),
        problems=tuple([*problems, *safety.problems]),
    )


def find(catalog: Catalog, name: str) -> Entry:
    """The runbook called `name`; `UsageError` naming the known ones otherwise."""
    for entry in catalog.entries:
        if entry.name == name:
            return entry
    known = ", ".join(sorted(catalog.names)) or "none"
    raise errors.UsageError(f'no runbook named "{name}" (known: {known})')


@dataclass(frozen=True, kw_only=True)
class Validation:
    checks: tuple[RunbookCheck, ...]
    problems: tuple[Problem, ...]
    warnings: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def validate(catalog: Catalog, names: Sequence[str] = ()) -> Validation:
    """Every problem and warning of the named runbooks (all when `names` is empty)."""
    selected = [find(catalog, n) for n in names] if names else list(catalog.entries)
    checks = [runbook_check.check(e, lines=catalog.lines, safety=catalog.safety) for e in selected]
    paths = {e.document.path for e in selected}
    loaded = [p for p in catalog.problems if not names or p.path in paths]
    problems = {*loaded, *(p for c in checks for p in c.problems)}
    warnings = {p for c in checks for p in c.warnings}
    return Validation(
        checks=tuple(checks),
        problems=tuple(sorted(problems, key=errors.sort_key)),
        warnings=tuple(sorted(warnings, key=errors.sort_key)),
    )


def render_validation(validation: Validation) -> str:
    lines = [str(p) for p in validation.problems] + [str(w) for w in validation.warnings]
    for check in validation.checks:
        if check.allowed and check.dangers:
            lines.append(override_note(check))
    count = len(validation.problems)
    noun = "problem" if count == 1 else "problems"
    books = len(validation.checks)
    summary = f"{books} runbook{'s' if books != 1 else ''}"
    if count:
        lines.append(f"{count} {noun} in {summary}")
    else:
        warned = len(validation.warnings)
        lines.append(
            f"ok: {summary}" + (f", {warned} warning{'s' * (warned != 1)}" if warned else "")
        )
    return "\n".join(lines)


def override_note(check: RunbookCheck) -> str:
    doc = check.entry.document
    reason = check.entry.model.spec.dangerous_commands.reason
    found = "; ".join(f"{d.step}: {d.message}" for d in check.dangers)
    line = check.entry.document.line
    where = f"{doc.path}:{line}"
    return f"{where} spec.dangerousCommands: override: allowed because {reason!r} ({found})"


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """One runbook ready to run: its plan, every finding, and what blocks it."""

    entry: Entry
    plan: runbook_plan.RunbookPlan
    check: RunbookCheck
    dangers: tuple[runbook_safety.Danger, ...]  # as written and as rendered

    @property
    def problems(self) -> tuple[Problem, ...]:
        return self.check.problems

    @property
    def dangerous(self) -> bool:
        return bool(self.dangers)


def prepare(catalog: Catalog, name: str, *, given: Mapping[str, Any]) -> Prepared:
    """Plan `name` with the variables `given`; `VariableError` when they are wrong."""
    entry = find(catalog, name)
    check = runbook_check.check(entry, lines=catalog.lines, safety=catalog.safety)
    plan = runbook_plan.build(
        model=entry.model, path=entry.document.path, body=entry.document.body, given=given
    )
    rendered = catalog.safety.check(plan.rendered)
    dangers = tuple(sorted({*check.dangers, *rendered}))
    extra = [] if check.allowed else [d for d in rendered if d not in check.dangers]
    if extra:
        doc = entry.document
        found = [
            Problem(
                path=doc.path,
                line=catalog.lines.line(doc, runbook_check.danger_loc(entry.model, d)),
                key=_key(runbook_check.danger_loc(entry.model, d)),
                message=runbook_check.danger_message(d) + " [with the given variables]",
            )
            for d in extra
        ]
        check = RunbookCheck(
            entry=entry,
            problems=tuple(sorted({*check.problems, *found}, key=errors.sort_key)),
            warnings=check.warnings,
            dangers=dangers,
        )
    return Prepared(entry=entry, plan=plan, check=check, dangers=dangers)


def _key(loc: runbook_check.Loc) -> str:
    return yamlio.key_path(loc)


def listing(catalog: Catalog) -> list[dict[str, Any]]:
    """One row per runbook: name, type, steps, variables, whether it has dangerous commands."""
    rows = []
    for entry in catalog.entries:
        spec = entry.model.spec
        dangers = catalog.safety.check(entry.document.body)
        rows.append(
            {
                "name": entry.name,
                "type": spec.type.value,
                "path": entry.document.path,
                "line": entry.document.line,
                "steps": len(spec.steps),
                "variables": [v.name for v in spec.variables],
                "dangerous": bool(dangers),
                "allowed": spec.dangerous_commands.allow,
                "description": spec.description,
            }
        )
    return rows
