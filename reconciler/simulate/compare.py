"""What differs between the base and head revisions: problems, policies, bindings, runs.

Pure comparisons of two loaded snapshots and their compiled bundles. Problems are matched
by (path, key, message) so a problem whose line moved is neither introduced nor fixed.
Policies are compared by their identity (Rego package, template kind, constraint
`Kind/name`, binding name) and their text or document.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler.errors import Problem
from reconciler.policy import conflicts
from reconciler.policy.bundle import Bundle
from reconciler.simulate.records import (
    Change,
    ConflictItem,
    PolicyChange,
    ProblemItem,
    ProblemsSection,
    RunChange,
)
from reconciler.specs.snapshot import Document, Snapshot

_PACKAGE = re.compile(r"^\s*package\s+([\w.]+)", re.MULTILINE)
_RUN_FOLDERS = {"Workflow": "workflows/", "Runbook": "runbooks/"}


def item(problem: Problem) -> ProblemItem:
    return ProblemItem(
        path=problem.path, line=problem.line, key=problem.key, message=problem.message
    )


def problems(base: Iterable[Problem], head: Iterable[Problem]) -> ProblemsSection:
    """Problems introduced and fixed, matched without their line."""
    before = {(p.path, p.key, p.message): p for p in base}
    after = {(p.path, p.key, p.message): p for p in head}
    return ProblemsSection(
        introduced=tuple(item(p) for k, p in sorted(after.items()) if k not in before),
        fixed=tuple(item(p) for k, p in sorted(before.items()) if k not in after),
        at_head=tuple(item(p) for _, p in sorted(after.items())),
    )


def _diff(
    kind: str,
    before: Mapping[str, tuple[Any, Document | str]],
    after: Mapping[str, tuple[Any, Document | str]],
) -> list[PolicyChange]:
    """Changes between {name: (comparable value, where)} maps."""
    out = []
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        if old is not None and new is not None and old[0] == new[0]:
            continue
        change = Change.ADDED if old is None else Change.REMOVED if new is None else Change.CHANGED
        where = (new or old)[1]  # type: ignore[index]
        path, line = (where.path, where.line) if isinstance(where, Document) else (where, None)
        out.append(
            PolicyChange(
                kind=kind,
                name=name,
                change=change,
                path=path,
                line=line,
                details=_details(old[0] if old else None, new[0] if new else None),
            )
        )
    return out


def _details(old: Any, new: Any) -> tuple[str, ...]:
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return ()
    spec_old, spec_new = old.get("spec", old), new.get("spec", new)
    if not (isinstance(spec_old, dict) and isinstance(spec_new, dict)):
        return ()
    keys = sorted(
        k for k in spec_old.keys() | spec_new.keys() if spec_old.get(k) != spec_new.get(k)
    )
    return tuple(f"spec.{k} changed" for k in keys)


def _packages(bundle: Bundle) -> dict[str, tuple[Any, Document | str]]:
    texts: dict[str, list[tuple[str, str]]] = {}
    for module in bundle.modules:
        if module.path.startswith("rego/") or "#" in module.path:
            continue  # the built-in library, and template Rego (compared as templates)
        found = _PACKAGE.search(module.text)
        if found:
            texts.setdefault(found.group(1), []).append((module.path, module.text))
    return {pkg: (sorted(files), sorted(files)[0][0]) for pkg, files in texts.items()}


def policies(base: tuple[Snapshot, Bundle], head: tuple[Snapshot, Bundle]) -> list[PolicyChange]:
    """Rego packages, templates, constraints and bindings added, removed or changed."""
    (base_snap, base_bundle), (head_snap, head_bundle) = base, head
    out = _diff("package", _packages(base_bundle), _packages(head_bundle))
    out += _diff(
        "template",
        {k: (t.doc.body, t.doc) for k, t in base_bundle.templates.items()},
        {k: (t.doc.body, t.doc) for k, t in head_bundle.templates.items()},
    )
    enforcement = {}
    for side, bundle in (("before", base_bundle), ("after", head_bundle)):
        for c in bundle.constraints:
            enforcement[(side, c.id)] = c.enforcement.value
    for side, snap in (("before", base_snap), ("after", head_snap)):
        for doc, binding in snap.bindings:
            enforcement[(side, doc.name)] = binding.spec.enforcement.value
    changes = _diff(
        "constraint",
        {c.id: (c.doc.body, c.doc) for c in base_bundle.constraints},
        {c.id: (c.doc.body, c.doc) for c in head_bundle.constraints},
    ) + _diff(
        "binding",
        {d.name: (d.body, d) for d, _ in base_snap.bindings},
        {d.name: (d.body, d) for d, _ in head_snap.bindings},
    )
    out += [
        c.model_copy(
            update={
                "enforcement_before": enforcement.get(("before", c.name)),
                "enforcement_after": enforcement.get(("after", c.name)),
            }
        )
        for c in changes
    ]
    return out


def runs(
    base: Snapshot, head: Snapshot, *, head_problems: Sequence[Problem] = ()
) -> list[RunChange]:
    """Workflows and runbooks added, removed or changed, with the head's problems in them
    (`head_problems`: the snapshot's and any found later, e.g. by runbook checks)."""
    found = [*head.problems, *head_problems]
    out: list[RunChange] = []
    for kind, attr in (("Workflow", "workflows"), ("Runbook", "runbooks")):
        before = {d.name: d for d, _ in getattr(base, attr)}
        after = {d.name: d for d, _ in getattr(head, attr)}
        for name in sorted(before.keys() | after.keys()):
            old, new = before.get(name), after.get(name)
            if old is not None and new is not None and old.body == new.body:
                continue
            doc = new or old
            assert doc is not None
            change = (
                Change.ADDED if old is None else Change.REMOVED if new is None else (Change.CHANGED)
            )
            out.append(
                RunChange(
                    kind=kind,
                    name=name,
                    change=change,
                    path=doc.path,
                    line=doc.line,
                    problems=_problems_in(found, doc.path),
                )
            )
    return out + _invalid_runs(base, found, {c.path for c in out})


def _invalid_runs(base: Snapshot, found: Sequence[Problem], seen: set[str]) -> list[RunChange]:
    """Workflow and runbook files the head cannot load (they are in no snapshot list)."""
    old = {p.path for p in base.problems}
    out = []
    for kind, folder in _RUN_FOLDERS.items():
        paths = sorted({p.path for p in found if p.path.startswith(folder)} - seen)
        for path in paths:
            out.append(
                RunChange(
                    kind=kind,
                    name=path,
                    change=Change.CHANGED if path in old else Change.ADDED,
                    path=path,
                    problems=_problems_in(found, path),
                )
            )
    return out


def _problems_in(found: Sequence[Problem], path: str) -> tuple[str, ...]:
    return tuple(str(p) for p in found if p.path == path)


def conflict_items(
    base: Bundle, head: Bundle, *, resources: Sequence[Document]
) -> list[ConflictItem]:
    """Conflicts the head has and the base had not."""
    known = {c.id for c in conflicts.find(base)}
    return [
        ConflictItem(
            kind=c.kind.value,
            subjects=c.subjects,
            locations=c.locations,
            message=c.message,
            examples=c.examples,
        )
        for c in conflicts.find(head, resources=resources)
        if c.id not in known
    ]
