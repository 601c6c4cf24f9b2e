"""A `Snapshot`: everything parsed from one revision, plus the problems found in it.

The loader builds it; the policy layer and (later) the planner read it. A snapshot with
problems is still returned whole so that `validate` can list every problem at once, while
the daemon refuses to promote it over the last-known-good one.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Any

from reconciler.errors import Problem
from reconciler.source.revision import Revision
from reconciler.specs import models


@dataclass(frozen=True, kw_only=True)
class Document:
    """One YAML document of any kind, with where it came from.

    `body` is the document as parsed (a plain dict, JSON-able); treat it as read-only.
    """

    path: str
    line: int  # 1-based line where the document starts
    index: int  # position in a multi-document file
    api_version: str
    kind: str
    name: str
    namespace: str | None
    labels: MappingProxyType[str, str]
    body: dict[str, Any]

    @cached_property
    def key(self) -> str:
        """Identity `kind/namespace/name` (namespace empty for cluster-scoped objects)."""
        return f"{self.kind}/{self.namespace or ''}/{self.name}"

    @cached_property
    def canonical_json(self) -> str:
        """`body` as canonical JSON (sorted keys, compact): the form policies are fed, made
        once per document however often it is evaluated."""
        return json.dumps(self.body, sort_keys=True, separators=(",", ":"))

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]


@dataclass(frozen=True, kw_only=True)
class RegoFile:
    path: str
    text: str
    # The syntax to read it in when it does not say by an import; None: v1, else v0.
    version: models.RegoVersion | None = None

    @property
    def is_test(self) -> bool:
        return self.path.endswith("_test.rego")


@dataclass(frozen=True, kw_only=True)
class Snapshot:
    """Every spec of one revision. Documents are grouped by role, each in path order."""

    revision: Revision | None
    settings: models.RepoSettings
    resources: tuple[Document, ...] = ()
    bindings: tuple[tuple[Document, models.PolicyBinding], ...] = ()
    workflows: tuple[tuple[Document, Any], ...] = ()
    runbooks: tuple[tuple[Document, Any], ...] = ()
    # Gatekeeper ConstraintTemplates and their constraints, as written (under policies/).
    constraint_templates: tuple[Document, ...] = ()
    constraints: tuple[Document, ...] = ()
    rego: tuple[RegoFile, ...] = ()
    data: dict[str, Any] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()
    files: Mapping[str, str] = field(default_factory=dict)  # git blob id of every file, by path

    @property
    def ok(self) -> bool:
        return not self.problems

    def resources_at(self, paths: Iterable[str]) -> list[Document]:
        """The resources of the files `paths`, in path order: found by bisection (the
        resources are in path order), so a commit's few files cost no walk of them all."""
        found: list[Document] = []
        for path in sorted(set(paths)):
            lo = bisect.bisect_left(self.resources, path, key=_path)
            hi = bisect.bisect_right(self.resources, path, lo=lo, key=_path)
            found += self.resources[lo:hi]
        return found

    def changed_since(self, old: Mapping[str, str]) -> set[str]:
        """The paths of the files added, changed or removed since the snapshot whose `files`
        were `old` (compared by blob id: no walk of the trees)."""
        return {path for path, _ in self.files.items() ^ old.items()}


def _path(doc: Document) -> str:
    return doc.path
