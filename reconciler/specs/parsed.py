"""What parsing one file gives: its good documents and its problems, independent of its path.

Kept apart from the loader so the cache, the assembly of a revision and the worker
processes that parse in parallel share these records without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from reconciler.errors import Problem
from reconciler.specs import kinds, snapshot


@dataclass(frozen=True, kw_only=True)
class ParsedDoc:
    """One good document of a file, independent of the file's path (so it can be cached)."""

    index: int
    line: int
    body: Any
    envelope: kinds.Envelope | None = None
    group: str | None = None  # the Snapshot field it belongs to
    model: BaseModel | None = None

    def document(self, path: str) -> snapshot.Document | None:
        env = self.envelope
        if env is None:
            return None
        return snapshot.Document(
            path=path,
            line=self.line,
            index=self.index,
            api_version=env.api_version,
            kind=env.kind,
            name=env.name,
            namespace=env.namespace,
            labels=env.labels,
            body=self.body,
        )


@dataclass(frozen=True, kw_only=True)
class ParsedFile:
    documents: tuple[ParsedDoc, ...] = ()
    problems: tuple[Problem, ...] = ()
    text: str | None = None  # Rego source
    cacheable: bool = True
