"""The managed objects of a revision, and reading their real state through the providers.

A revision's resources become `Target`s: a document and the provider that manages it.
Finding the provider of each document costs a registry lookup, so `Targets` keeps the
targets of the latest revision and, when the next revision is known to differ only in some
files, finds again only the documents of those files. `observe` reads the real state of many
targets at once on the shared thread pool, collecting provider errors by key instead of
raising them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from reconciler.errors import ProblemsError, ReconcilerError
from reconciler.providers import base
from reconciler.providers.registry import Registry
from reconciler.reconcile.revisions import Loaded
from reconciler.specs.snapshot import Document

Observed = dict[str, dict[str, Any] | None]


@dataclass(frozen=True, kw_only=True)
class Target:
    """A managed object of a revision and the provider managing it."""

    doc: Document
    provider: base.Provider


class Targets:
    """The targets of the latest revision a pass looked at."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._cached: tuple[str, dict[str, Target]] | None = None
        self._by_path: dict[str, list[str]] = {}  # keys of the cached targets, by file

    def reset(self) -> None:
        """Find every target again next time (the provider mapping may have changed)."""
        self._cached = None

    def of(self, loaded: Loaded, *, changed: set[str] | None) -> tuple[dict[str, Target], set[str]]:
        """The managed objects of `loaded`, and the keys of those in `changed` files."""
        sha = loaded.revision.sha
        if self._cached is not None and self._cached[0] == sha:  # e.g. after a failed pass
            return self._cached[1], self._in(changed or ())
        if self._cached is None or changed is None:
            found = self._find(loaded, loaded.snapshot.resources)
            self._cached, self._by_path = (sha, found), {}
            self._index(found)
            return found, set(found)
        # Files the commit did not touch hold the very same documents: keep their targets.
        found = dict(self._cached[1])
        for key in self._in(changed):
            found.pop(key, None)
        for path in changed:
            self._by_path.pop(path, None)
        fresh = self._find(loaded, loaded.snapshot.resources_at(changed))
        found.update(fresh)
        self._cached = (sha, found)
        self._index(fresh)
        return found, set(fresh)

    def _in(self, paths: Iterable[str]) -> set[str]:
        """The keys of the cached targets from files `paths`."""
        return {k for path in paths for k in self._by_path.get(path, ())}

    def _index(self, found: Mapping[str, Target]) -> None:
        for key, target in found.items():
            self._by_path.setdefault(target.doc.path, []).append(key)

    def provider_for(self, doc: Document, loaded: Loaded) -> base.Provider | None:
        """The provider of `doc` under the mapping of `loaded`; None when none manages it."""
        try:
            return self.registry.find(doc, mapping=loaded.snapshot.settings.spec.providers)
        except ProblemsError:
            return None  # reported by validation of the revision

    def _find(self, loaded: Loaded, docs: Iterable[Document]) -> dict[str, Target]:
        providers: dict[tuple[str, str], base.Provider | None] = {}
        found: dict[str, Target] = {}
        for doc in docs:
            kind = (doc.api_version, doc.kind)
            if kind not in providers:
                providers[kind] = self.provider_for(doc, loaded)
            provider = providers[kind]
            if provider is not None:
                found[doc.key] = Target(doc=doc, provider=provider)
        return found


def observe(
    *, targets: Mapping[str, Target], keys: list[str], pool: Executor, concurrency: int
) -> tuple[Observed, dict[str, ReconcilerError]]:
    """The real state of the targets at `keys`, and the provider errors of those that failed."""
    observed: Observed = {}
    errors: dict[str, ReconcilerError] = {}

    def observe_chunk(chunk: list[str]) -> None:
        for key in chunk:
            target = targets[key]
            try:
                observed[key] = target.provider.observe(target.doc)
            except (base.ProviderError, base.ProviderSpecError) as exc:
                errors[key] = exc

    # Providers that wait (processes, network) overlap on the pool in chunks: few enough
    # that handing them over costs little. Quick local ones run inline (see Capabilities).
    waiting = [k for k in keys if targets[k].provider.capabilities.waits]
    size = max(1, len(waiting) // (concurrency * 4))
    chunks = [waiting[i : i + size] for i in range(0, len(waiting), size)]
    pending = pool.map(observe_chunk, chunks) if len(chunks) > 1 else iter(())
    observe_chunk([k for k in keys if not targets[k].provider.capabilities.waits])
    if len(chunks) == 1:
        observe_chunk(chunks[0])
    list(pending)
    return observed, errors
