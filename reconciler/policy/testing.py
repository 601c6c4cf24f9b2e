"""`reconciler test`: run every `test_*` rule of a repository's policies, like `opa test`.

All modules (the built-in library, the repository's policies and tests, Gatekeeper template
Rego) and the data documents go into one regorus engine. A module that does not parse, or
that poisons whole-program checks (regorus reports e.g. unsafe variables on the first
evaluation, for every query), is reported as an error at its file and line and left out,
so the other tests still run. Each test rule is evaluated in its own call: a builtin error
in one test (regorus lacks `crypto.*`, `io.jwt.*`, ...) fails that test alone. Coverage
comes from regorus' line coverage when asked for. `render_text` prints the report the way
`opa test` does; `TestReport.as_json` is the machine-readable form.
"""

from __future__ import annotations

import contextlib
import dataclasses
import posixpath
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from reconciler import clock as clock_mod
from reconciler import errors
from reconciler.policy import configfiles, gatekeeper_rego, rego, versions
from reconciler.specs import models
from reconciler.specs import snapshot as snapshot_mod

BUILTIN_PREFIX = "rego/"
_V0 = models.RegoVersion.V0
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PACKAGE = re.compile(r"^\s*package\s+(\S+)", re.MULTILINE)


class TestOutcome(StrEnum):
    """What running one test rule (or loading one module) gave."""

    __test__ = False

    PASS = "PASS"  # the rule is true
    FAIL = "FAIL"  # the rule is undefined or not true
    ERROR = "ERROR"  # evaluation raised, or the module did not load
    SKIP = "SKIP"  # a `todo_test_` rule, reported but not run (as `opa test` does)


@dataclass(frozen=True, kw_only=True)
class TestResult:
    """One test rule's result; a module that failed to load has an empty `name`."""

    __test__ = False

    package: str
    name: str
    path: str
    line: int | None
    outcome: TestOutcome
    message: str = ""
    duration: float = 0.0  # seconds
    output: tuple[str, ...] = ()  # what `print()` wrote during the test

    @property
    def rule(self) -> str:
        return _rule_ref(self.package, self.name) if self.name else ""

    def as_json(self) -> dict[str, Any]:
        return {
            "package": self.package,
            "name": self.name,
            "rule": self.rule,
            "path": self.path,
            "line": self.line,
            "outcome": self.outcome.value,
            "message": self.message,
            "durationSeconds": self.duration,
            "output": list(self.output),
        }


@dataclass(frozen=True, kw_only=True)
class FileCoverage:
    """Line coverage of one policy module."""

    path: str
    covered: tuple[int, ...]
    not_covered: tuple[int, ...]

    @property
    def percent(self) -> float:
        total = len(self.covered) + len(self.not_covered)
        return 100.0 if total == 0 else round(100.0 * len(self.covered) / total, 2)

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "covered": list(self.covered),
            "notCovered": list(self.not_covered),
            "percent": self.percent,
        }


@dataclass(frozen=True, kw_only=True)
class TestReport:
    """Every result in run order, plus coverage when it was asked for."""

    __test__ = False

    results: tuple[TestResult, ...]
    coverage: tuple[FileCoverage, ...] | None = None

    def count(self, outcome: TestOutcome) -> int:
        return sum(1 for r in self.results if r.outcome is outcome)

    @property
    def total(self) -> int:
        return len(self.results)

    @property
    def ok(self) -> bool:
        """True when nothing failed or errored (skipped tests do not count against it)."""
        return self.count(TestOutcome.FAIL) == 0 and self.count(TestOutcome.ERROR) == 0

    @property
    def coverage_percent(self) -> float | None:
        if self.coverage is None:
            return None
        covered = sum(len(f.covered) for f in self.coverage)
        total = covered + sum(len(f.not_covered) for f in self.coverage)
        return 100.0 if total == 0 else round(100.0 * covered / total, 2)

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "counts": {o.value.lower(): self.count(o) for o in TestOutcome} | {"total": self.total},
            "results": [r.as_json() for r in self.results],
            "coverage": None
            if self.coverage is None
            else {
                "percent": self.coverage_percent,
                "files": [f.as_json() for f in self.coverage],
            },
        }


@dataclass(frozen=True, kw_only=True)
class _TestCase:
    package: str
    name: str
    path: str
    line: int


@dataclass(kw_only=True)
class _Loaded:
    engine: rego.RegoEngine
    errors: list[TestResult] = field(default_factory=list)
    files: configfiles.ConfigFiles | None = None


def builtin_modules(
    builtin_dir: Path, *, include_tests: bool = False
) -> list[snapshot_mod.RegoFile]:
    """The built-in library's modules, named `rego/<relative path>`, in path order."""
    files = sorted(p for p in builtin_dir.rglob("*.rego") if p.is_file())
    modules = [
        snapshot_mod.RegoFile(
            path=BUILTIN_PREFIX + p.relative_to(builtin_dir).as_posix(), text=p.read_text("utf-8")
        )
        for p in files
    ]
    return [m for m in modules if include_tests or not m.is_test]


def template_modules(templates: Sequence[snapshot_mod.Document]) -> list[snapshot_mod.RegoFile]:
    """The Rego (and libs) of Gatekeeper ConstraintTemplates, as written, one module each,
    from `rego`/`libs` or from a `code` entry with `engine: Rego`.

    Paths read `policies/x.yaml#spec.targets[0].rego`; lines count from the Rego text.
    """
    return [
        snapshot_mod.RegoFile(
            path=f"{doc.path}#{key}", text=text, version=_V0 if v0 else models.RegoVersion.V1
        )
        for doc in templates
        for key, text, v0 in gatekeeper_rego.modules(doc.body)
    ]


def snapshot_modules(snap: snapshot_mod.Snapshot) -> list[snapshot_mod.RegoFile]:
    """Everything `reconciler test` loads from a repository: its Rego (each with the version
    pinned for its folder) plus template Rego."""
    folders = snap.settings.spec.rego_versions
    own = [dataclasses.replace(f, version=versions.configured(f.path, folders)) for f in snap.rego]
    return [*own, *template_modules(snap.constraint_templates)]


def run_tests(
    rego_files: Sequence[snapshot_mod.RegoFile],
    *,
    data: Mapping[str, Any],
    builtin_dir: Path | None,
    coverage: bool = False,
    verbose: bool = False,
    include_builtin_tests: bool = False,
    clock: clock_mod.Clock | None = None,
    files: configfiles.Reader | None = None,
) -> TestReport:
    """Load every module and run each `test_*` rule in its own evaluation.

    `verbose` keeps `print()` output for passing tests too (it is always kept for the
    others). Built-in library tests run only with `include_builtin_tests`. `files` reads
    the repository's files for conftest's `parse_config_file` builtins (none without it).
    """
    timer = clock or clock_mod.SystemClock()
    builtin = (
        builtin_modules(builtin_dir, include_tests=include_builtin_tests) if builtin_dir else []
    )
    modules = [*builtin, *rego_files]
    loaded = _load(modules, data=data, coverage=coverage, files=files)
    results = list(loaded.errors)
    broken = {r.path for r in loaded.errors}
    if not any(r.path == "" for r in loaded.errors):
        for case in _discover(loaded.engine, skip=_skipped_paths(builtin, include_builtin_tests)):
            if case.path not in broken:
                if loaded.files is not None:
                    loaded.files.folder = posixpath.dirname(case.path)
                results.append(_run_one(loaded.engine, case=case, clock=timer, verbose=verbose))
    covered = _coverage(loaded.engine, modules=modules) if coverage else None
    return TestReport(results=tuple(results), coverage=covered)


def _skipped_paths(builtin: Sequence[snapshot_mod.RegoFile], include: bool) -> frozenset[str]:
    return frozenset() if include else frozenset(m.path for m in builtin)


def _load(
    modules: Sequence[snapshot_mod.RegoFile],
    *,
    data: Mapping[str, Any],
    coverage: bool,
    files: configfiles.Reader | None,
) -> _Loaded:
    """Build the engine, leaving out (and reporting) every module that breaks it."""
    excluded: list[TestResult] = []
    while True:
        loaded = _build(modules, data=data, coverage=coverage, excluded=excluded)
        if files is not None:
            loaded.files = configfiles.ConfigFiles(read=files)
            loaded.files.register(loaded.engine.add_extension)
        failure = _whole_program_failure(loaded.engine)
        if failure is None:
            return loaded
        known = {m.path for m in modules} - {e.path for e in loaded.errors}
        if failure.path not in known:
            loaded.errors.append(_load_error(failure.path or "", modules, failure=failure))
            return loaded
        excluded.append(_load_error(failure.path or "", modules, failure=failure))


def _build(
    modules: Sequence[snapshot_mod.RegoFile],
    *,
    data: Mapping[str, Any],
    coverage: bool,
    excluded: Sequence[TestResult],
) -> _Loaded:
    loaded = _Loaded(engine=rego.RegoEngine(coverage=coverage), errors=list(excluded))
    loaded.engine.gather_prints(True)
    skip = {e.path for e in excluded}
    for module in modules:
        if module.path in skip:
            continue
        try:
            loaded.engine.add_module(module.path, module.text, version=module.version)
        except rego.RegoCompileError as exc:
            loaded.errors.append(_load_error(module.path, modules, failure=exc.failure))
    try:
        loaded.engine.add_data(dict(data))
    except errors.PolicyError as exc:
        loaded.errors.append(
            TestResult(
                package="", name="", path="", line=None, outcome=TestOutcome.ERROR, message=str(exc)
            )
        )
    return loaded


def _whole_program_failure(engine: rego.RegoEngine) -> rego.RegoFailure | None:
    try:
        engine.eval_query("true")
    except rego.RegoEvalError as exc:
        return exc.failure
    return None


def _load_error(
    path: str, modules: Sequence[snapshot_mod.RegoFile], *, failure: rego.RegoFailure
) -> TestResult:
    text = next((m.text for m in modules if m.path == path), "")
    package = _PACKAGE.search(text)
    return TestResult(
        package=package.group(1) if package else "",
        name="",
        path=path,
        line=failure.line,
        outcome=TestOutcome.ERROR,
        message=failure.message,
    )


def _discover(engine: rego.RegoEngine, *, skip: frozenset[str]) -> Iterator[_TestCase]:
    """Every `test_*`/`todo_test_*` rule without arguments, once per package and name."""
    seen: set[tuple[str, str]] = set()
    for module in engine.ast_json():
        path = module["source"]["file"]
        if path in skip:
            continue
        package = ".".join(_ref_parts(module["ast"]["package"]["refr"]))
        for name, line in _test_rules(module["ast"]["rules"]):
            if (package, name) not in seen:
                seen.add((package, name))
                yield _TestCase(package=package, name=name, path=path, line=line)


def _test_rules(rules: Sequence[Mapping[str, Any]]) -> Iterator[tuple[str, int]]:
    for rule in rules:
        head = rule.get("Spec", {}).get("head", {}).get("Compr")
        var = (head or {}).get("refr", {}).get("Var")
        if var and str(var["value"]).startswith(("test_", "todo_test_")):
            yield str(var["value"]), int(var["span"]["line"])


def _ref_parts(ref: Mapping[str, Any]) -> list[str]:
    """`a.b["c-d"]` as the AST nests it -> ["a", "b", "c-d"]."""
    if "Var" in ref:
        return [str(ref["Var"]["value"])]
    if "RefDot" in ref:
        return [*_ref_parts(ref["RefDot"]["refr"]), str(ref["RefDot"]["field"][1])]
    if "RefBrack" in ref:
        index = ref["RefBrack"]["index"]
        return [*_ref_parts(ref["RefBrack"]["refr"]), str(index.get("String", {}).get("value"))]
    return []


def _rule_ref(package: str, name: str) -> str:
    parts = ["data", *package.split("."), name]
    return "".join(
        (("." if i else "") + p) if _IDENTIFIER.match(p) else f'["{p}"]'
        for i, p in enumerate(parts)
    )


def _run_one(
    engine: rego.RegoEngine, *, case: _TestCase, clock: clock_mod.Clock, verbose: bool
) -> TestResult:
    base = TestResult(
        package=case.package,
        name=case.name,
        path=case.path,
        line=case.line,
        outcome=TestOutcome.SKIP,
    )
    if case.name.startswith("todo_"):
        return base
    started = clock.monotonic()
    message = ""
    try:
        value = engine.eval_rule(_rule_ref(case.package, case.name))
        outcome = TestOutcome.PASS if value is True else TestOutcome.FAIL
    except rego.RegoEvalError as exc:
        outcome, message = TestOutcome.ERROR, _error_message(exc.failure)
    duration = clock.monotonic() - started
    prints = tuple(engine.take_prints())
    keep = verbose or outcome is not TestOutcome.PASS
    return dataclasses.replace(
        base, outcome=outcome, message=message, duration=duration, output=prints if keep else ()
    )


def _error_message(failure: rego.RegoFailure) -> str:
    where = f"{failure.path}:{failure.line}: " if failure.path and failure.line else ""
    return f"{where}{failure.message}"


def _coverage(
    engine: rego.RegoEngine, *, modules: Sequence[snapshot_mod.RegoFile]
) -> tuple[FileCoverage, ...]:
    """Coverage of the repository's policy modules (not of tests or the built-in library).

    A module no test reached is missing from regorus' report; it counts at 0%, with the
    lines regorus would count, found by evaluating its package once in a scratch clone.
    """
    wanted = {m.path for m in modules if not m.is_test and not m.path.startswith(BUILTIN_PREFIX)}
    found = {f.path: f for f in _file_coverage(engine, wanted)}
    packages = {path: pkg for path, pkg in _packages(engine) if path in wanted - found.keys()}
    if packages:
        probe = engine.clone()
        probe.clear_coverage()
        for package in sorted(set(packages.values())):
            # The lines it reached before a failure are recorded all the same.
            with contextlib.suppress(rego.RegoEvalError):
                probe.eval_query(_package_ref(package))
        for reached in _file_coverage(probe, packages.keys()):
            lines = tuple(sorted({*reached.covered, *reached.not_covered}))
            found[reached.path] = FileCoverage(path=reached.path, covered=(), not_covered=lines)
        for path in packages.keys() - found.keys():
            found[path] = FileCoverage(path=path, covered=(), not_covered=())
    return tuple(found[p] for p in sorted(found))


def _file_coverage(engine: rego.RegoEngine, paths: Collection[str]) -> Iterator[FileCoverage]:
    for f in engine.coverage_json().get("files", []):
        if f["path"] in paths:
            yield FileCoverage(
                path=f["path"],
                covered=tuple(sorted(f.get("covered", []))),
                not_covered=tuple(sorted(f.get("not_covered", []))),
            )


def _packages(engine: rego.RegoEngine) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(path, package parts) of every loaded module."""
    for module in engine.ast_json():
        yield module["source"]["file"], tuple(_ref_parts(module["ast"]["package"]["refr"]))


def _package_ref(parts: Sequence[str]) -> str:
    return "data" + "".join(f".{p}" if _IDENTIFIER.match(p) else f'["{p}"]' for p in parts)


def render_text(report: TestReport, *, verbose: bool = False) -> str:
    """The report as `opa test` prints it: problems (every test when verbose), then counts."""
    lines: list[str] = []
    for result in report.results:
        if verbose or result.outcome in (TestOutcome.FAIL, TestOutcome.ERROR):
            lines.extend(_result_lines(result, verbose=verbose))
    if report.total == 0:
        lines.append("no tests found")
    else:
        lines.append("-" * 80)
        for outcome in TestOutcome:
            if count := report.count(outcome):
                lines.append(f"{outcome.value}: {count}/{report.total}")
    if report.coverage is not None:
        lines.extend(_coverage_lines(report))
    return "\n".join(lines)


def _result_lines(result: TestResult, *, verbose: bool) -> list[str]:
    if not result.name:
        where = f"{result.path}:{result.line}" if result.line else result.path or "data"
        return [f"{where}: ERROR: {result.message}"]
    timing = f" ({_duration(result.duration)})" if verbose else ""
    lines = [f"{result.path}: {result.rule}: {result.outcome.value}{timing}"]
    if result.message:
        lines.append(f"  {result.message}")
    lines.extend(f"  {text}" for text in result.output)
    return lines


def _duration(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.2f}s"
    if seconds >= 0.001:
        return f"{seconds * 1000:.1f}ms"
    return f"{seconds * 1_000_000:.0f}µs"


def _coverage_lines(report: TestReport) -> list[str]:
    lines = ["-" * 80, f"Coverage: {report.coverage_percent:.2f}%"]
    for item in report.coverage or ():
        missing = ", ".join(str(n) for n in item.not_covered)
        lines.append(
            f"  {item.path}: {item.percent:.2f}% ({len(item.covered)}/"
            f"{len(item.covered) + len(item.not_covered)} lines)"
            + (f" not covered: {missing}" if missing else "")
        )
    return lines
