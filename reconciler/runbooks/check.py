"""`runbook validate`: what the loader cannot see in a runbook on its own.

The loader already checked each document against the schema and its steps for duplicate
names, unknown `dependsOn` and cycles. This adds the checks that need more context: timeouts
(missing is a warning, more than a day a problem), `{{ ... }}` placeholders naming declared
variables, variable defaults matching their pattern, and dangerous commands found by the
safety pack. A runbook whose `dangerousCommands.allow` is true (with a reason) keeps its
findings as an override instead of problems; `execute` then asks for confirmation.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import Problem
from reconciler.run import variables as run_vars
from reconciler.runbooks import safety as runbook_safety
from reconciler.runbooks import variables as runbook_vars
from reconciler.source.revision import Tree
from reconciler.specs import flows, types, yamlio
from reconciler.specs.snapshot import Document

MAX_TIMEOUT_SECONDS = 24 * 3600.0
WARNING = "warning: "
Loc = tuple[str | int, ...]


@dataclass(frozen=True, kw_only=True)
class Entry:
    """One runbook that loaded: where it is written, and its model."""

    document: Document
    model: flows.Runbook

    @property
    def name(self) -> str:
        return self.model.metadata.name


@dataclass(frozen=True, kw_only=True)
class RunbookCheck:
    """The findings of one runbook; `dangers` are problems unless the runbook allows them."""

    entry: Entry
    problems: tuple[Problem, ...] = ()
    warnings: tuple[Problem, ...] = ()
    dangers: tuple[runbook_safety.Danger, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.entry.model.spec.dangerous_commands.allow

    @property
    def dangerous(self) -> bool:
        return bool(self.dangers)


@dataclass(kw_only=True)
class Lines:
    """Lines of key paths in the files of one tree, each file parsed on first use."""

    tree: Tree
    _locators: dict[str, yamlio.Locator] = field(default_factory=dict)

    def line(self, document: Document, loc: Loc) -> int:
        locator = self._locators.get(document.path)
        if locator is None:
            entry = next(e for e in self.tree.entries() if e.path == document.path)
            text = self.tree.read(entry).decode("utf-8", errors="replace")
            locator = self._locators[document.path] = yamlio.Locator(text)
        return locator.line(index=document.index, loc=loc) or document.line


def check(entry: Entry, *, lines: Lines, safety: runbook_safety.SafetyCheck) -> RunbookCheck:
    """Every finding of one runbook."""
    doc = entry.document

    def problem(loc: Loc, message: str) -> Problem:
        key = yamlio.key_path(loc)
        return Problem(path=doc.path, line=lines.line(doc, loc), key=key, message=message)

    found = [problem(loc, msg) for loc, msg in _issues(entry.model)]
    dangers = tuple(safety.check(doc.body))
    if not entry.model.spec.dangerous_commands.allow:
        found += [problem(danger_loc(entry.model, d), danger_message(d)) for d in dangers]
    return RunbookCheck(
        entry=entry,
        problems=tuple(p for p in found if not p.message.startswith(WARNING)),
        warnings=tuple(p for p in found if p.message.startswith(WARNING)),
        dangers=dangers,
    )


def danger_message(danger: runbook_safety.Danger) -> str:
    return f"dangerous command: {danger.message} (policy {danger.policy})"


def danger_loc(model: flows.Runbook, danger: runbook_safety.Danger) -> Loc:
    """The key path of a finding: the step's command (or rollback command), else `spec`."""
    for index, step in enumerate(model.spec.steps):
        if step.name == danger.step:
            return (
                ("spec", "steps", index, *danger.key.split("."))
                if danger.key
                else ("spec", "steps", index)
            )
    return ("spec",)


def _issues(model: flows.Runbook) -> Iterator[tuple[Loc, str]]:
    spec = model.spec
    yield from _too_long(("spec", "timeout"), spec.timeout)
    declared = [v.name for v in spec.variables]
    for index, variable in enumerate(spec.variables):
        yield from _default_issues(("spec", "variables", index, "default"), variable)
    for index, step in enumerate(spec.steps):
        at: Loc = ("spec", "steps", index)
        if step.kind is flows.StepKind.COMMAND and step.timeout is None and spec.timeout is None:
            yield (*at, "timeout"), WARNING + "no timeout, the step can run forever"
        yield from _too_long((*at, "timeout"), step.timeout)
        yield from _template_issues((*at, "command"), step.command or (), declared)
        if step.rollback is not None:
            yield from _too_long((*at, "rollback", "timeout"), step.rollback.timeout)
            yield from _template_issues(
                (*at, "rollback", "command"), step.rollback.command, declared
            )


def _too_long(loc: Loc, duration: str | None) -> Iterator[tuple[Loc, str]]:
    if duration is not None and types.seconds(duration) > MAX_TIMEOUT_SECONDS:
        yield loc, f"timeout {duration} is more than 24h"


def _template_issues(
    loc: Loc, argv: Sequence[str], declared: Sequence[str]
) -> Iterator[tuple[Loc, str]]:
    for index, item in enumerate(argv):
        for message in runbook_vars.template_issues(item, declared):
            yield (*loc, index), message


def _default_issues(loc: Loc, variable: flows.Variable) -> Iterator[tuple[Loc, Any]]:
    if variable.default is None:
        return
    try:
        run_vars.coerce(variable, variable.default)
    except ValueError as exc:
        yield loc, str(exc)
