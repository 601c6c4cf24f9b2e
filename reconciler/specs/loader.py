"""Loading every spec of one revision into a `Snapshot`, with every problem found in it.

Files are routed by location (`reconciler.yaml`, `policies/`, `data/`, `resources/`,
`workflows/`, `runbooks/`; anything else is ignored), each parsed on its own and the result
cached by git blob id, so a new revision re-parses only the files that changed. Checks that
span files (duplicate names, conflicting data keys) run on every load. Loading never stops
at the first problem: the report lists them all, and the good files are still loaded so
`validate` and simulation can show everything at once.
"""

from __future__ import annotations

import dataclasses
import json
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from reconciler.errors import Problem, ProblemsError
from reconciler.source.revision import FileEntry, Tree
from reconciler.specs import assembly, flows, kinds, models, snapshot, yamlio
from reconciler.specs.parsed import ParsedDoc, ParsedFile

__all__ = [
    "ParseMany",
    "ParsedDoc",
    "ParsedFile",
    "SpecCache",
    "assemble",
    "load",
    "parse_file",
    "settings_of",
]


ParseMany = Callable[[Tree, list[tuple[FileEntry, kinds.Role]], yamlio.Limits], list[ParsedFile]]
"""Parses files (entry, role) of a tree, returning their `ParsedFile`s in the same order."""


def parse_file(
    *, tree: Tree, entry: FileEntry, role: kinds.Role, limits: yamlio.Limits
) -> ParsedFile:
    """Read, parse and validate one file on its own; every problem is returned, none raised."""
    too_big = yamlio.size_problem(entry, limits=limits)
    if too_big is not None:
        return ParsedFile(problems=(too_big,))
    try:
        text = yamlio.decode(tree.read(entry), path=entry.path)
    except ProblemsError as exc:
        return ParsedFile(problems=tuple(exc.problems))
    except OSError as exc:  # a directory tree changed under us: try again next load
        problem = Problem(path=entry.path, message=f"cannot read: {exc.strerror or exc}")
        return ParsedFile(problems=(problem,), cacheable=False)
    if role is kinds.Role.REGO:
        return ParsedFile(text=text)
    if entry.path.endswith(".json"):
        return _parse_json(text, path=entry.path, limits=limits)
    read = yamlio.load_all(text, path=entry.path, limits=limits)
    checker = _Checker(path=entry.path, role=role, locator=yamlio.Locator(text))
    documents = [parsed for doc in read.documents if (parsed := checker.check(doc)) is not None]
    return ParsedFile(documents=tuple(documents), problems=(*read.problems, *checker.problems))


def _parse_json(text: str, *, path: str, limits: yamlio.Limits) -> ParsedFile:
    too_deep = yamlio.depth_problem_of(text, path=path, limits=limits)
    if too_deep is not None:  # before the parser, whose own limit is the stack's
        return ParsedFile(problems=(too_deep,))
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        return ParsedFile(problems=(Problem(path=path, line=exc.lineno, message=exc.msg),))
    except (ValueError, RecursionError) as exc:
        return ParsedFile(
            problems=(Problem(path=path, message=f"cannot read: {exc}".split(";")[0]),)
        )
    checker = _Checker(path=path, role=kinds.Role.DATA, locator=None)
    parsed = checker.check(yamlio.YamlDoc(index=0, line=1, data=body))
    return ParsedFile(
        documents=() if parsed is None else (parsed,), problems=tuple(checker.problems)
    )


@dataclass(kw_only=True)
class _Checker:
    """Checks the documents of one file against what its role admits."""

    path: str
    role: kinds.Role
    locator: yamlio.Locator | None
    problems: list[Problem] = dataclasses.field(default_factory=list)

    def report(self, doc: yamlio.YamlDoc, issues: list[kinds.Issue]) -> None:
        for loc, message in issues:
            line = self.locator.line(index=doc.index, loc=loc) if self.locator and loc else doc.line
            self.problems.append(
                Problem(path=self.path, line=line, key=yamlio.key_path(loc), message=message)
            )

    def check(self, doc: yamlio.YamlDoc) -> ParsedDoc | None:
        if self.role is kinds.Role.DATA:
            if isinstance(doc.data, dict):
                return ParsedDoc(index=doc.index, line=doc.line, body=doc.data)
            self.report(doc, [((), "must be a mapping: its keys are merged under data")])
            return None
        env, issues = kinds.envelope(doc.data)
        if env is None:
            self.report(doc, issues)
            return None
        group, kind, issues = kinds.placement(self.role, env)
        if issues and kind is None and self.role is kinds.Role.POLICY_TESTS:
            return None  # an input the folder's Rego tests read, not a spec
        model = None
        if kind is not None:
            model, issues = kinds.validate(kind, doc.data)
            if kind in ("Workflow", "Runbook"):
                issues += flows.step_issues(doc.data)
        self.report(doc, issues)
        if issues:
            return None
        return ParsedDoc(
            index=doc.index, line=doc.line, body=doc.data, envelope=env, group=group, model=model
        )


class SpecCache:
    """Parsed files by (blob id, role, limits); least recently used dropped past `max_entries`.

    One load at a time may use a cache; the parsed objects it hands out are shared, read-only.
    """

    def __init__(self, *, max_entries: int = 100_000) -> None:
        self.max_entries = max_entries
        self.hits = 0
        self.misses = 0
        self._entries: OrderedDict[tuple[str, kinds.Role, yamlio.Limits], ParsedFile] = (
            OrderedDict()
        )

    def __len__(self) -> int:
        return len(self._entries)

    def parse(
        self, *, tree: Tree, entry: FileEntry, role: kinds.Role, limits: yamlio.Limits
    ) -> ParsedFile:
        """The parsed file, from the cache when its blob was parsed before in the same role."""
        key = (entry.blob_id, role, limits)
        found = self._entries.get(key)
        if found is not None:
            self.hits += 1
            self._entries.move_to_end(key)
            return found
        self.misses += 1
        parsed = parse_file(tree=tree, entry=entry, role=role, limits=limits)
        self._keep(key, parsed)
        return parsed

    def holds(self, *, entry: FileEntry, role: kinds.Role, limits: yamlio.Limits) -> bool:
        return (entry.blob_id, role, limits) in self._entries

    def add_all(
        self,
        jobs: list[tuple[FileEntry, kinds.Role]],
        parsed: list[ParsedFile],
        *,
        limits: yamlio.Limits,
    ) -> None:
        """Keep files parsed elsewhere (in order of `jobs`), as `parse` would have."""
        for (entry, role), found in zip(jobs, parsed, strict=True):
            self._keep((entry.blob_id, role, limits), found)

    def _keep(self, key: tuple[str, kinds.Role, yamlio.Limits], parsed: ParsedFile) -> None:
        if parsed.cacheable:
            self._entries[key] = parsed
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


def load(
    tree: Tree,
    *,
    cache: SpecCache | None = None,
    limits: yamlio.Limits | None = None,
    parse_many: ParseMany | None = None,
) -> snapshot.Snapshot:
    """Every spec of `tree`, with every problem found in it; bad input never raises.

    `parse_many` parses the files the cache does not hold, in order (`specs.parallel`
    spreads them over processes for a single-threaded caller); default: one by one here."""
    return assemble(tree, cache=cache, limits=limits, parse_many=parse_many)[0]


def settings_of(
    tree: Tree, entry: FileEntry | None, *, limits: yamlio.Limits | None = None
) -> tuple[models.RepoSettings, tuple[Problem, ...]]:
    """The repository's settings alone, from its settings file `entry` (None: it has none,
    the defaults apply), with that file's problems: for callers that read nothing else of
    a revision, which may hold thousands of other files."""
    if entry is None:
        return models.default_settings(), ()
    role = kinds.Role.SETTINGS
    parsed = parse_file(tree=tree, entry=entry, role=role, limits=limits or yamlio.Limits())
    assembled = assembly.Assembly(tree=tree)
    assembled.add(entry=entry, role=role, parsed=parsed)
    return assembled.settings or models.default_settings(), tuple(assembled.problems)


def assemble(
    tree: Tree,
    *,
    cache: SpecCache | None = None,
    limits: yamlio.Limits | None = None,
    parse_many: ParseMany | None = None,
) -> tuple[snapshot.Snapshot, assembly.Assembly]:
    """`load`, also returning the assembly it was put together in (its cross-file indexes)."""
    limits = limits or yamlio.Limits()
    cache = cache if cache is not None else SpecCache()
    assembled = assembly.Assembly(tree=tree)
    entries = list(tree.entries())
    test_dirs = kinds.policy_test_dirs(e.path for e in entries)
    routed = [(e, r) for e in entries if (r := kinds.route(e.path, test_dirs=test_dirs))]
    if parse_many is not None:
        missing = [(e, r) for e, r in routed if not cache.holds(entry=e, role=r, limits=limits)]
        cache.add_all(missing, parse_many(tree, missing, limits), limits=limits)
    for entry, role in routed:
        parsed = cache.parse(tree=tree, entry=entry, role=role, limits=limits)
        assembled.add(entry=entry, role=role, parsed=parsed)
    files = {e.path: e.blob_id for e in entries}
    return assembled.snapshot(tree_problems=tree.problems(), files=files), assembled
