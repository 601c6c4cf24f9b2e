"""Bring a source to a loaded revision, keeping the last-known-good one when a new one fails.

A revision is promoted only when it fetched, verified, loaded without problems and its
policies compiled. Otherwise the failure, naming every problem of the revision, is kept
(shown in status) and reconciles go on with the last-known-good revision. A revision that
changed none of the policy inputs (`POLICY_INPUTS`, and nothing compiled policies read of
the resources) keeps the last-known-good revision's compiled bundle. Blocking work
(pygit2, YAML, regorus): call it on the source's own worker thread, which then also owns
the bundle's regorus engine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reconciler import errors
from reconciler.conditions import Reason
from reconciler.errors import Problem, ReconcilerError, SignatureError
from reconciler.policy import bundle as bundles
from reconciler.policy import gatekeeper
from reconciler.source import git, programs
from reconciler.source.revision import Revision
from reconciler.source.settings import SourceSettings
from reconciler.specs import incremental, loader
from reconciler.specs.snapshot import Document, Snapshot

_INDEXES = 4
POLICY_INPUTS = ("policies/", "data/", "reconciler.yaml")
"""Where the files are whose change can change a decision about a document they do not hold."""


@dataclass(frozen=True, kw_only=True)
class Loaded:
    """A revision that loaded and compiled cleanly."""

    revision: Revision
    snapshot: Snapshot
    bundle: bundles.Bundle
    programs: Path | None = None  # the revision's provider programs (source.programs)


@dataclass(frozen=True, kw_only=True)
class Rejected:
    """A revision (or a fetch) that failed; `reason` is a condition reason."""

    revision: Revision | None
    reason: Reason
    message: str
    problems: tuple[Problem, ...] = ()


class SourceLoader:
    """One source's repository, spec cache and current/last-known-good revisions."""

    def __init__(self, config: SourceSettings, *, programs_dir: Path | None = None) -> None:
        """`programs_dir`: where served revisions' provider programs are materialised."""
        self.config, self.programs_dir = config, programs_dir
        self.cache = loader.SpecCache()
        self.last_good: Loaded | None = None
        self.last_rejected: Rejected | None = None
        self._source: git.GitSource | None = None
        self._indexes: dict[str, dict[str, Document]] = {}  # resources by key, per commit
        self.chain = incremental.Chain(cache=self.cache)  # each revision patched from the last

    def refresh(self, *, fetch: bool) -> Loaded | Rejected:
        """Fetch (if asked), resolve the ref and load it unless it is already current."""
        try:
            source = self._open()
            if fetch:
                source.fetch()
            revision = source.resolve()
        except SignatureError as exc:
            return self._reject(
                Rejected(revision=None, reason=Reason.SIGNATURE_INVALID, message=str(exc))
            )
        except ReconcilerError as exc:
            self._source = None  # reopen next time: the mirror may have been repaired
            return self._reject(
                Rejected(revision=None, reason=Reason.FETCH_FAILED, message=str(exc))
            )
        if self.last_good and self.last_good.revision.sha == revision.sha:
            self.last_rejected = None
            return self.last_good
        if self.last_rejected and self.last_rejected.revision == revision:
            return self.last_rejected
        return self._load(source, revision)

    def _programs(
        self, source: git.GitSource, revision: Revision, snapshot: Snapshot
    ) -> Path | None:
        """The served revision's repository-relative provider programs, from its tree."""
        if self.programs_dir is None:
            return None
        last = self.last_good
        if (
            last is not None
            and last.programs is None
            and not _programs_named(
                snapshot.resources_at(snapshot.changed_since(last.snapshot.files))
            )
        ):
            wanted = []  # none before, none in the changed files: no walk of every document
        else:
            wanted = _programs_named(snapshot.resources)
        keep = [revision.sha] + ([self.last_good.revision.sha] if self.last_good else [])
        if not wanted:  # most revisions run no repository program: no tree walk, no files
            programs.prune(self.programs_dir, keep=[])
            return None
        self.programs_dir.mkdir(parents=True, exist_ok=True)
        placed = programs.materialize(
            source.tree(revision, subpath=""), wanted, into=self.programs_dir, revision=revision.sha
        )
        programs.prune(self.programs_dir, keep=keep)
        return placed

    def _open(self) -> git.GitSource:
        if self._source is None:
            self._source = git.GitSource.open(self.config)
        return self._source

    def _load(self, source: git.GitSource, revision: Revision) -> Loaded | Rejected:
        try:
            snapshot = self.chain.load(source, revision)
        except ReconcilerError as exc:
            return self._reject(
                Rejected(revision=revision, reason=Reason.VALIDATION_FAILED, message=str(exc))
            )
        # Policies are compiled even when some files did not load, so a rejection names
        # every problem of the revision at once, as `reconciler validate` does.
        bundle = self._same_policies(snapshot) or bundles.compile(snapshot)
        problems = tuple(sorted({*snapshot.problems, *bundle.problems}, key=errors.sort_key))
        if problems:
            reason = Reason.VALIDATION_FAILED if snapshot.problems else Reason.COMPILE_FAILED
            return self._reject(_problems(revision, reason, problems))
        try:
            placed = self._programs(source, revision, snapshot)
        except (ReconcilerError, OSError) as exc:
            message = f"cannot materialise the provider programs: {exc}"
            return self._reject(
                Rejected(revision=revision, reason=Reason.FETCH_FAILED, message=message)
            )
        self.last_good = Loaded(
            revision=revision, snapshot=snapshot, bundle=bundle, programs=placed
        )
        self.last_rejected = None
        return self.last_good

    def _reject(self, rejected: Rejected) -> Rejected:
        self.last_rejected = rejected
        return rejected

    def _same_policies(self, snapshot: Snapshot) -> bundles.Bundle | None:
        """The last-known-good bundle when `snapshot` compiles to the very same one."""
        last = self.last_good
        if last is None or not snapshot.ok:
            return None
        changed = snapshot.changed_since(last.snapshot.files)
        policy_docs = [
            d.path
            for s in (snapshot, last.snapshot)
            for d in (*(b for b, _ in s.bindings), *s.constraint_templates, *s.constraints)
        ]
        if any(p.startswith(POLICY_INPUTS) for p in changed) or changed.intersection(policy_docs):
            return None
        if gatekeeper.reads_inventory(last.bundle.templates.values()):
            return None  # the resources are policy data
        # The namespaces' labels (what `namespaceSelector` reads) change only with a file
        # that holds or held a Namespace: no walk of every document otherwise.
        moved = (*snapshot.resources_at(changed), *last.snapshot.resources_at(changed))
        if any(d.kind == "Namespace" for d in moved) and (
            gatekeeper.namespace_labels(snapshot.resources) != last.bundle.namespaces
        ):
            return None
        return last.bundle

    def changed_paths(self, old: str | None, new: str) -> list[str]:
        """Paths that differ between two commits; the last load's own diff when it was
        between the same two (a new revision is diffed once, not again for its triggers)."""
        diffed = self.chain.last_diff
        if diffed is not None and diffed[:2] == (old, new):
            return sorted(diffed[2])
        return self._open().changed_paths(old, new)

    def document_at(self, sha: str, key: str) -> Document | None:
        """The document `key` as it was at commit `sha` (to delete what Git no longer has)."""
        index = self._indexes.get(sha)
        if index is None:
            index = self._index_at(sha)
            if len(self._indexes) >= _INDEXES:
                self._indexes.pop(next(iter(self._indexes)))
            self._indexes[sha] = index
        return index.get(key)

    def _index_at(self, sha: str) -> dict[str, Document]:
        if self.last_good and self.last_good.revision.sha == sha:
            snapshot = self.last_good.snapshot
        else:
            try:
                source = self._open()
                snapshot = loader.load(source.tree(source.resolve(sha)), cache=self.cache)
            except ReconcilerError:
                return {}
        return {d.key: d for d in snapshot.resources}


def _programs_named(docs: Sequence[Document]) -> list[str]:
    """The repository-relative provider programs `docs` name (`spec.provider`)."""
    return [
        program
        for doc in docs
        if isinstance(program := (doc.body.get("spec") or {}).get("provider"), str)
        and not program.startswith("/")
    ]


def _problems(revision: Revision, reason: Reason, problems: tuple[Problem, ...]) -> Rejected:
    listed = "; ".join(str(p) for p in problems)
    message = f"revision {revision.short} rejected: {listed}"
    return Rejected(revision=revision, reason=reason, message=message, problems=problems)
