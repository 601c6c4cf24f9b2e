"""The one adapter around regorus, the embedded Rego engine.

Everything Rego goes through here so that the rest of the package never sees regorus'
quirks: results are read with the `*_as_json` calls (plain calls break on sets of
objects), regorus errors carry a Rust backtrace that is cut off and parsed into
file/line/column, each policy is evaluated in its own call (one builtin error aborts a
whole query), and missing builtins (`crypto.*`, `io.jwt.*`, some `net.cidr_*`) are named
as such. A regorus `Engine` may only be used on the thread that created it: build one
per worker with `RegoEngine()` or `clone()` inside that worker, never share one.

It may only be freed there too (PyO3 refuses anywhere else and leaks it). So every thread
that builds engines has an `_Owner`: an engine whose last reference goes away on another
thread (a revision dropped by the thread that replaced it) is handed back to its owner,
which frees what it was handed on its own thread the next time that thread builds an
engine, and when the thread ends. Only an engine that outlives the thread that built it
cannot be freed by anyone; it is kept, with a warning in the log.
"""

from __future__ import annotations

import ctypes
import json
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import regorus

from reconciler.errors import PolicyError, Problem
from reconciler.policy import versions
from reconciler.specs.models import RegoVersion

UNDEFINED = "<undefined>"
_LOCATION = re.compile(r"-->\s*(?P<path>.+?):(?P<line>\d+):(?P<col>\d+)")
_MESSAGE = re.compile(r"^error:\s*(?P<msg>.*)$", re.MULTILINE)
_MISSING_FUNCTION = re.compile(r"could not find function (?P<name>[\w.]+)")
# Namespaces of OPA's builtins: a missing function under one of them is a builtin regorus
# lacks; any other missing function is the user's (a typo or a missing import).
_BUILTIN_NAMESPACES = frozenset(
    {
        "array",
        "base64",
        "base64url",
        "bits",
        "crypto",
        "glob",
        "graph",
        "graphql",
        "hex",
        "http",
        "io",
        "json",
        "net",
        "numbers",
        "object",
        "opa",
        "providers",
        "rand",
        "regex",
        "rego",
        "semver",
        "sets",
        "strings",
        "time",
        "trace",
        "units",
        "urlquery",
        "uuid",
        "yaml",
    }
)


@dataclass(frozen=True, kw_only=True)
class RegoFailure:
    """A regorus error reduced to what a user needs: where and what."""

    path: str | None
    line: int | None
    column: int | None
    message: str
    missing_builtin: str | None = None

    def problem(self, default_path: str = "<rego>") -> Problem:
        return Problem(path=self.path or default_path, line=self.line, message=self.message)


def parse_failure(exc: BaseException) -> RegoFailure:
    """Turn a regorus exception text into a `RegoFailure` (backtrace dropped)."""
    text = str(exc).split("Stack backtrace:", 1)[0].strip()
    loc = _LOCATION.search(text)
    msg_match = _MESSAGE.search(text)
    message = msg_match.group("msg").strip() if msg_match else text.splitlines()[0] if text else ""
    missing = _MISSING_FUNCTION.search(text)
    if missing and missing.group("name").split(".")[0] in _BUILTIN_NAMESPACES:
        message = (
            f"builtin {missing.group('name')} is not available in the embedded Rego engine"
            " (regorus); rewrite the rule without it"
        )
    elif missing:
        message = f"function {missing.group('name')} is not defined (a typo, or a missing import?)"
        missing = None
    return RegoFailure(
        path=loc.group("path") if loc else None,
        line=int(loc.group("line")) if loc else None,
        column=int(loc.group("col")) if loc else None,
        message=message,
        missing_builtin=missing.group("name") if missing else None,
    )


class RegoEvalError(PolicyError):
    """Evaluating a rule failed; `failure` says where and why."""

    def __init__(self, failure: RegoFailure, *, rule: str) -> None:
        self.failure = failure
        self.rule = rule
        where = f"{failure.path}:{failure.line}: " if failure.path else ""
        super().__init__(f"{where}{rule}: {failure.message}")


class RegoCompileError(PolicyError):
    """A module did not parse or compile."""

    def __init__(self, failure: RegoFailure, *, path: str) -> None:
        self.failure = failure
        super().__init__(str(failure.problem(path)))


def _reach(error: RegoCompileError) -> tuple[int, int]:
    """How far into the module a reading got before it failed (v1 wins a tie)."""
    return (error.failure.line or 0, error.failure.column or 0)


class _Owner:
    """The engines one thread built and another thread let go of, until this one frees them."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self._lock = threading.Lock()
        self._returned: list[Any] = []
        self._ended = False

    def hand_back(self, engine: Any) -> bool:
        """Keep `engine` to free on the owner's thread; False when that thread has ended."""
        with self._lock:
            if not self._ended:
                self._returned.append(engine)
            return not self._ended

    def free_returned(self, *, ending: bool = False) -> None:
        """Free what other threads handed back; call on the owner's thread only."""
        assert threading.get_ident() == self.thread
        with self._lock:
            returned, self._returned = self._returned, []
            self._ended = self._ended or ending
        returned.clear()  # the engines' last references: freed here, on their thread


class _ThreadEnd:
    """Lives only in its thread's locals, so it is freed on that thread as the thread ends."""

    def __init__(self, owner: _Owner) -> None:
        self.owner = owner

    def __del__(self) -> None:
        self.owner.free_returned(ending=True)


# Per-thread state by nature (an engine is bound to a thread): each thread sees only its own.
_THREADS = threading.local()
log = logging.getLogger(__name__)


def _owner() -> _Owner:
    end: _ThreadEnd | None = getattr(_THREADS, "end", None)
    if end is None:
        end = _THREADS.end = _ThreadEnd(_Owner())
    return end.owner


def _re_match(pattern: str, value: str) -> bool:
    return re.search(pattern, value) is not None


class RegoEngine:
    """One regorus engine: modules, data and input in, JSON results out.

    Not thread-safe and bound to its creating thread (a regorus restriction).
    """

    def __init__(self, *, coverage: bool = False, _engine: Any = None) -> None:
        self._owner = _owner()
        self._owner.free_returned()
        self._engine = _engine if _engine is not None else regorus.Engine()
        self._versions: dict[str, RegoVersion] = {}
        if coverage:
            self._engine.set_enable_coverage(True)

    def __del__(self) -> None:
        owner: _Owner | None = getattr(self, "_owner", None)
        engine = getattr(self, "_engine", None)
        if owner is None or engine is None or threading.get_ident() == owner.thread:
            return
        if not owner.hand_back(engine):
            # Its thread has ended: nobody may free it, and PyO3 would raise trying.
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(engine))
            log.warning("a Rego engine outlived the thread that built it and is kept")

    def add_module(self, path: str, text: str, *, version: RegoVersion | None = None) -> str:
        """Add one Rego module; returns its package (`data.x.y`).

        The module's own `rego.v1`/`future.keywords` import decides its syntax, else
        `version`; with neither it is read as v1, and as v0 when v1 does not parse it
        (when both fail, the error of the reading that got further is raised).
        """
        chosen = versions.declared(text) or version
        if chosen is not None:
            return self._add(path, text, chosen)
        try:
            return self._add(path, text, RegoVersion.V1)
        except RegoCompileError as as_v1:
            try:
                return self._add(path, text, RegoVersion.V0)
            except RegoCompileError as as_v0:
                raise max(as_v1, as_v0, key=_reach) from None

    def version_of(self, path: str) -> RegoVersion:
        """The syntax the module added at `path` was read in."""
        return self._versions[path]

    def _add(self, path: str, text: str, version: RegoVersion) -> str:
        self._engine.set_rego_v0(version is RegoVersion.V0)
        try:
            package = str(self._engine.add_policy(path, text))
        except RuntimeError as exc:
            raise RegoCompileError(parse_failure(exc), path=path) from None
        finally:
            self._engine.set_rego_v0(False)
        self._versions[path] = version
        return package

    def add_data(self, data: Mapping[str, Any]) -> None:
        """Merge a JSON-able document into `data`."""
        try:
            self._engine.add_data_json(json.dumps(data))
        except RuntimeError as exc:
            raise PolicyError(f"data could not be merged: {parse_failure(exc).message}") from None

    def set_input_json(self, text: str) -> None:
        """Set `input` from JSON text (the fast path: callers serialise once)."""
        self._engine.set_input_json(text)

    def eval_rule(self, rule: str) -> Any:
        """Evaluate one rule path (`data.pkg.rule`); `UNDEFINED` when it is undefined."""
        try:
            return json.loads(self._engine.eval_rule_as_json(rule))
        except RuntimeError as exc:
            raise RegoEvalError(parse_failure(exc), rule=rule) from None

    def eval_rule_text(self, rule: str) -> str:
        """Like `eval_rule` but returns the JSON text, so callers can skip decoding the
        common empty answer `[]`; undefined is the JSON string `"<undefined>"`."""
        try:
            return str(self._engine.eval_rule_as_json(rule))
        except RuntimeError as exc:
            raise RegoEvalError(parse_failure(exc), rule=rule) from None

    def eval_query(self, query: str) -> list[dict[str, Any]]:
        """Evaluate a query; returns the `result` list of the OPA-style answer."""
        try:
            answer = json.loads(self._engine.eval_query_as_json(query))
        except RuntimeError as exc:
            raise RegoEvalError(parse_failure(exc), rule=query) from None
        return list(answer.get("result", []))

    def packages(self) -> list[str]:
        return [str(p) for p in self._engine.get_packages()]

    def coverage_json(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self._engine.get_coverage_report_as_json())
        return loaded

    def clear_coverage(self) -> None:
        self._engine.clear_coverage_data()

    def gather_prints(self, on: bool = True) -> None:
        self._engine.set_gather_prints(on)

    def take_prints(self) -> list[str]:
        return [str(p) for p in self._engine.take_prints()]

    def ast_json(self) -> Any:
        return json.loads(self._engine.get_ast_as_json())

    def add_extension(self, name: str, nargs: int, function: Callable[..., Any]) -> None:
        """A builtin written in Python; an exception it raises is the call's error."""
        self._engine.add_extension(name, nargs, function)

    def add_v0_builtins(self) -> None:
        """Provide builtins OPA deprecated but Gatekeeper-era libraries still call, which
        regorus lacks: `re_match` (as `regex.match`, with Python's `re` syntax, which
        agrees with RE2 on the expressions such policies use), `any` and `all`."""
        self._engine.add_extension("re_match", 2, _re_match)
        self._engine.add_extension("any", 1, lambda xs: any(x is True for x in xs))
        self._engine.add_extension("all", 1, lambda xs: all(x is True for x in xs))

    def clone(self) -> RegoEngine:
        """A copy with the same modules and data; build it on the thread that will use it."""
        copy = RegoEngine(_engine=self._engine.clone())
        copy._versions = dict(self._versions)
        return copy
