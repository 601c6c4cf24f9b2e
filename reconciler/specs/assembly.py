"""Putting the parsed files of one revision together into a `Snapshot`, in path order.

Each file is parsed on its own (and cached by blob id); what spans files is checked here as
the files are added: duplicate object keys (the first in path order wins), conflicting data
keys, a second Settings document, and the repository's default enforcement for bindings
that do not set their own. `seen` and `duplicates` are left behind so that a later revision
can be patched from this one (`specs.incremental`) with the same checks.
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from typing import Any

from reconciler.errors import Problem, ProblemsError
from reconciler.source.revision import FileEntry, Tree
from reconciler.specs import kinds, models, snapshot, yamlio
from reconciler.specs.parsed import ParsedDoc, ParsedFile


@dataclass(kw_only=True)
class Assembly:
    """Collects the parsed files of one revision in path order; checks what spans files."""

    tree: Tree
    settings: models.RepoSettings | None = None
    groups: dict[str, list[Any]] = dataclasses.field(default_factory=dict)
    problems: list[Problem] = dataclasses.field(default_factory=list)
    seen: dict[str, str] = dataclasses.field(default_factory=dict)  # key -> first path:line
    duplicates: set[str] = dataclasses.field(default_factory=set)  # keys defined twice
    data: DataMerge = dataclasses.field(default_factory=lambda: DataMerge())

    def add(self, *, entry: FileEntry, role: kinds.Role, parsed: ParsedFile) -> None:
        path = entry.path
        self.problems += [
            p if p.path == path else dataclasses.replace(p, path=path) for p in parsed.problems
        ]
        if parsed.text is not None:
            self._append("rego", snapshot.RegoFile(path=path, text=parsed.text))
        for doc in parsed.documents:
            if role is kinds.Role.DATA:
                self._add_data(entry=entry, doc=doc)
            elif role is kinds.Role.SETTINGS:
                self._add_settings(path=path, doc=doc)
            else:
                self._add_document(path=path, doc=doc)

    def _append(self, group: str, item: Any) -> None:
        self.groups.setdefault(group, []).append(item)

    def _add_settings(self, *, path: str, doc: ParsedDoc) -> None:
        if self.settings is not None:
            message = "only one Settings document is allowed"
            self.problems.append(Problem(path=path, line=doc.line, message=message))
        elif isinstance(doc.model, models.RepoSettings):
            self.settings = doc.model

    def _add_document(self, *, path: str, doc: ParsedDoc) -> None:
        document = doc.document(path)
        if document is None or doc.group is None:
            return
        here = f"{path}:{doc.line}"
        first = self.seen.setdefault(document.key, here)
        if first != here:
            self.duplicates.add(document.key)
            message = f"duplicate {document.key}, first defined at {first}"
            self.problems.append(Problem(path=path, line=doc.line, message=message))
            return
        paired = doc.group in _PAIRED  # File/ExecResource are validated but kept as documents
        self._append(doc.group, (document, doc.model) if paired else document)

    def _add_data(self, *, entry: FileEntry, doc: ParsedDoc) -> None:
        conflicts = self.data.merge(doc.body, origin=entry.path)
        if not conflicts:
            return
        locator = None
        if not entry.path.endswith(".json"):  # JSON problems are reported at the file's line 1
            with contextlib.suppress(ProblemsError, OSError):
                locator = yamlio.Locator(yamlio.decode(self.tree.read(entry), path=entry.path))
        for loc, first in conflicts:
            line = locator.line(index=doc.index, loc=loc) if locator else doc.line
            key = yamlio.key_path(loc)
            message = f"also defined in {first}"
            self.problems.append(Problem(path=entry.path, line=line, key=key, message=message))

    def snapshot(self, *, tree_problems: list[Problem], files: dict[str, str]) -> snapshot.Snapshot:
        group = self.groups.get
        settings = self.settings or models.default_settings()
        default = settings.spec.default_enforcement
        return snapshot.Snapshot(
            revision=self.tree.revision,
            settings=settings,
            resources=tuple(group("resources", ())),
            bindings=tuple(_enforced(pair, default=default) for pair in group("bindings", ())),
            workflows=tuple(group("workflows", ())),
            runbooks=tuple(group("runbooks", ())),
            constraint_templates=tuple(group("constraint_templates", ())),
            constraints=tuple(group("constraints", ())),
            rego=tuple(group("rego", ())),
            data=self.data.result,
            problems=tuple(sorted([*self.problems, *tree_problems], key=problem_order)),
            files=files,
        )


_PAIRED = frozenset({"bindings", "workflows", "runbooks"})


def _enforced(
    pair: tuple[snapshot.Document, models.PolicyBinding], *, default: models.Enforcement
) -> tuple[snapshot.Document, models.PolicyBinding]:
    """A binding that does not say how strictly it applies takes the repository's
    `defaultEnforcement`."""
    doc, binding = pair
    if "enforcement" in binding.spec.model_fields_set or binding.spec.enforcement is default:
        return pair
    spec = binding.spec.model_copy(update={"enforcement": default})
    return doc, binding.model_copy(update={"spec": spec})


def problem_order(problem: Problem) -> tuple[str, int, str, str]:
    return (problem.path, problem.line or 0, problem.key, problem.message)


class DataMerge:
    """Deep-merges data documents; a key two files both set (not both mappings) conflicts.

    Parsed documents may be shared through the cache, so a mapping is copied before the
    first merge writes into it.
    """

    def __init__(self) -> None:
        self.result: dict[str, Any] = {}
        self._owned: set[int] = {id(self.result)}
        self._origins: dict[tuple[str, ...], str] = {}

    def merge(self, body: dict[str, Any], *, origin: str) -> list[tuple[tuple[str, ...], str]]:
        """Merge `body`; the conflicts as (key path, file that set it first)."""
        conflicts: list[tuple[tuple[str, ...], str]] = []
        pending: list[tuple[dict[str, Any], dict[str, Any], tuple[str, ...]]] = [
            (self.result, body, ())
        ]
        while pending:
            dest, src, prefix = pending.pop()
            for key, value in src.items():
                loc = (*prefix, key)
                existing = dest.get(key)
                if key not in dest:
                    dest[key] = value
                    self._origins[loc] = origin
                elif isinstance(existing, dict) and isinstance(value, dict):
                    pending.append((self._owned_copy(dest, key), value, loc))
                else:
                    conflicts.append((loc, self._origin(loc)))
        return sorted(conflicts)

    def _owned_copy(self, dest: dict[str, Any], key: str) -> dict[str, Any]:
        current: dict[str, Any] = dest[key]
        if id(current) not in self._owned:
            current = dest[key] = dict(current)
            self._owned.add(id(current))
        return current

    def _origin(self, loc: tuple[str, ...]) -> str:
        for end in range(len(loc), 0, -1):
            if loc[:end] in self._origins:
                return self._origins[loc[:end]]
        return "?"
