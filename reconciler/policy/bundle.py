"""Compile one revision's policies into a `Bundle`, once per revision.

A bundle holds every Rego module that applies to a revision (the built-in `rego/`
library, the repository's non-test `.rego` files, the Rego of Gatekeeper templates and
their libs, v0 as written; `versions` says how a module's syntax is decided), its `data`,
the valid bindings and constraints, and the problems found while compiling them
(`path:line: message`).

Threads: a regorus engine may only be used by the thread that created it, and cloning
is bound the same way. So a bundle keeps the module sources and builds its base engine
lazily, once per thread, in the first call of `new_engine()` on that thread (the thread
that ran `compile` reuses the engine compiling built); every `new_engine()` returns a
cheap clone of that thread's base. A bundle pickles without its engines, so worker
processes rebuild their own.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler import assets
from reconciler.errors import Problem
from reconciler.policy import gatekeeper, rego, versions
from reconciler.specs import models
from reconciler.specs.snapshot import Document, Snapshot

_V0 = models.RegoVersion.V0
_DECISION_RULE = re.compile(r"^(?:(?:deny|warn|violation)(?:_\w+)?|exception)$")


@dataclass(frozen=True, kw_only=True)
class Module:
    """One Rego module as loaded: `path` is what errors name; `origin` locates it for users."""

    path: str
    text: str
    version: models.RegoVersion | None = None  # unless its imports say: None is v1, else v0
    origin: Problem | None = None  # set for Rego embedded in YAML (a template)


@dataclass(frozen=True, kw_only=True)
class PolicyInfo:
    """A package with decision rules (deny*, warn*, violation*, exception)."""

    package: str  # without `data.`
    paths: tuple[str, ...]
    rules: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class DuplicatePackage:
    package: str
    paths: tuple[str, ...]


class Bundle:
    """The compiled policies of one revision; see the module docstring for threading."""

    def __init__(
        self,
        *,
        modules: tuple[Module, ...],
        data: Mapping[str, Any],
        policies: Mapping[str, PolicyInfo],
        duplicates: tuple[DuplicatePackage, ...],
        bindings: tuple[tuple[Document, models.PolicyBinding], ...],
        templates: Mapping[str, gatekeeper.Template],
        constraints: tuple[gatekeeper.Constraint, ...],
        namespaces: Mapping[str, Mapping[str, str]],
        problems: tuple[Problem, ...],
    ) -> None:
        self.modules = modules
        self.data = data
        self.policies = policies
        self.duplicates = duplicates
        self.bindings = bindings
        self.templates = templates
        self.constraints = constraints
        self.namespaces = namespaces  # Namespace documents' labels, for namespaceSelector
        self.problems = problems
        self._local = threading.local()

    def _adopt(self, base: rego.RegoEngine) -> None:
        self._local.base = base

    def new_engine(self) -> rego.RegoEngine:
        """A fresh engine with every module and the data, for use on the calling thread only."""
        base: rego.RegoEngine | None = getattr(self._local, "base", None)
        if base is None:
            base, _ = _build(self.modules, self.data)
            self._local.base = base
        return base.clone()

    def without_engines(self) -> Bundle:
        """A copy sharing everything but the engines (for a forked process)."""
        copy = Bundle.__new__(Bundle)
        copy.__setstate__(self.__getstate__())
        return copy

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        del state["_local"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._local = threading.local()


def compile(snapshot: Snapshot, *, builtin_dir: Path | None = None) -> Bundle:
    """Load and check every policy of `snapshot`; problems are collected, never raised."""
    templates, constraints, problems = _gatekeeper(snapshot)
    folders = snapshot.settings.spec.rego_versions
    data = _with_inventory(snapshot, templates.values())
    modules = (
        *_builtin_modules(assets.rego_dir() if builtin_dir is None else builtin_dir),
        *(
            Module(path=f.path, text=f.text, version=versions.configured(f.path, folders))
            for f in snapshot.rego
            if not f.is_test
        ),
        *_template_modules(templates.values()),
    )
    base, loaded = _build(modules, data, problems=problems)
    packages = set(loaded.values())
    policies = _policies(base, loaded)
    bindings = tuple(_known_bindings(snapshot, packages, policies, problems))
    for c in constraints:
        if c.kind not in templates:
            problems.append(_no_template(c, snapshot.constraint_templates))
    bundle = Bundle(
        # Each module keeps the version it was read in, so other threads read it the same.
        modules=tuple(
            dataclasses.replace(m, version=base.version_of(m.path))
            for m in modules
            if m.path in loaded
        ),
        data=data,
        policies=policies,
        duplicates=_duplicates(loaded),
        bindings=bindings,
        templates=templates,
        constraints=tuple(c for c in constraints if c.kind in templates),
        namespaces=gatekeeper.namespace_labels(snapshot.resources),
        problems=tuple(problems),
    )
    bundle._adopt(base)
    return bundle


def _with_inventory(
    snapshot: Snapshot, templates: Iterable[gatekeeper.Template]
) -> Mapping[str, Any]:
    """The repository's data, plus Gatekeeper's `data.inventory` of its resources when a
    template reads it (and the repository's data does not define `inventory` itself)."""
    if "inventory" in snapshot.data or not gatekeeper.reads_inventory(templates):
        return snapshot.data
    return {**snapshot.data, "inventory": gatekeeper.inventory(snapshot.resources)}


def _build(
    modules: Iterable[Module], data: Mapping[str, Any], *, problems: list[Problem] | None = None
) -> tuple[rego.RegoEngine, dict[str, str]]:
    """Engine with every module that compiles; returns it and {module path: package}."""
    base = rego.RegoEngine()
    base.add_v0_builtins()
    loaded: dict[str, str] = {}
    for module in modules:
        try:
            loaded[module.path] = base.add_module(module.path, module.text, version=module.version)
        except rego.RegoCompileError as exc:
            if problems is not None:
                problems.append(_compile_problem(module, exc.failure))
    if data:
        base.add_data(data)
    return base, {path: pkg.removeprefix("data.") for path, pkg in loaded.items()}


def _compile_problem(module: Module, failure: rego.RegoFailure) -> Problem:
    if module.origin is None:
        return failure.problem(module.path)
    where = f"line {failure.line} of the Rego: " if failure.line is not None else ""
    return Problem(
        path=module.origin.path,
        line=module.origin.line,
        key=module.origin.key,
        message=f"{where}{failure.message}",
    )


def _builtin_modules(root: Path) -> list[Module]:
    if not root.is_dir():
        return []
    files = sorted(p for p in root.rglob("*.rego") if not p.name.endswith("_test.rego"))
    return [
        Module(path=f"rego/{p.relative_to(root).as_posix()}", text=p.read_text("utf-8"))
        for p in files
    ]


def _template_modules(templates: Iterable[gatekeeper.Template]) -> list[Module]:
    """Each template's Rego (`path#Kind`) and libs (`path#Kind.libs[i]`), v0 unless its code
    entry says `version: v1`; errors point at the key the text is written under."""
    out: list[Module] = []
    for t in templates:
        source, doc = t.source, t.doc
        names = [f"{doc.path}#{t.kind}"] + [
            f"{doc.path}#{t.kind}.libs[{i}]" for i in range(len(source.libs))
        ]
        texts = [(source.key, source.rego), *source.libs]
        for name, (key, text) in zip(names, texts, strict=True):
            origin = Problem(path=doc.path, line=doc.line, key=key, message="")
            version = _V0 if source.v0 else models.RegoVersion.V1
            out.append(Module(path=name, text=text, version=version, origin=origin))
    return out


def _gatekeeper(
    snapshot: Snapshot,
) -> tuple[dict[str, gatekeeper.Template], list[gatekeeper.Constraint], list[Problem]]:
    problems: list[Problem] = []
    templates: dict[str, gatekeeper.Template] = {}
    for doc in snapshot.constraint_templates:
        parsed = gatekeeper.parse_template(doc)
        if isinstance(parsed, Problem):
            problems.append(parsed)
        elif parsed.kind in templates:
            first = templates[parsed.kind].doc
            where = f"{first.path}:{first.line}"
            problems.append(
                Problem(
                    path=doc.path,
                    line=doc.line,
                    key="spec.crd.spec.names.kind",
                    message=f'kind "{parsed.kind}" is already defined at {where}',
                )
            )
        else:
            templates[parsed.kind] = parsed
    constraints: list[gatekeeper.Constraint] = []
    default = snapshot.settings.spec.default_enforcement
    for doc in snapshot.constraints:
        c = gatekeeper.parse_constraint(doc, default=default)
        (problems if isinstance(c, Problem) else constraints).append(c)  # type: ignore[arg-type]
    return templates, constraints, problems


def _no_template(c: gatekeeper.Constraint, documents: Iterable[Document]) -> Problem:
    """A constraint whose kind no usable template defines; names a template that declares
    the kind but has a problem of its own (reported at the template)."""
    declared = next((d for d in documents if gatekeeper.declared_kind(d) == c.kind), None)
    if declared is None:
        message = f'no ConstraintTemplate defines kind "{c.kind}"'
    else:
        where = f"{declared.path}:{declared.line}"
        message = f'the ConstraintTemplate of kind "{c.kind}" ({where}) has a problem'
    return Problem(path=c.doc.path, line=c.doc.line, key="kind", message=message)


def _policies(base: rego.RegoEngine, loaded: Mapping[str, str]) -> dict[str, PolicyInfo]:
    """Decision rules per package, read from the AST (no evaluation)."""
    rules: dict[str, set[str]] = {}
    paths: dict[str, list[str]] = {}
    for module in base.ast_json():
        path = module["source"]["file"]
        package = loaded.get(path)
        if package is None:
            continue
        names = {
            n for n in map(_rule_name, module["ast"]["rules"]) if n and _DECISION_RULE.match(n)
        }
        rules.setdefault(package, set()).update(names)
        paths.setdefault(package, []).append(path)
    return {
        pkg: PolicyInfo(package=pkg, paths=tuple(paths[pkg]), rules=tuple(sorted(names)))
        for pkg, names in sorted(rules.items())
        if names
    }


def _rule_name(rule: Mapping[str, Any]) -> str | None:
    """The first segment of a rule head's reference (`deny` in `deny[msg]`, `a` in `a.b`)."""
    spec = rule.get("Spec")
    if not isinstance(spec, dict):
        return None
    head = next(iter(spec.get("head", {}).values()), None)
    ref = head.get("refr") if isinstance(head, dict) else None
    while isinstance(ref, dict):
        if "Var" in ref:
            value = ref["Var"].get("value")
            return value if isinstance(value, str) else None
        inner = next(iter(ref.values()))
        ref = inner.get("refr") if isinstance(inner, dict) else None
    return None


def _duplicates(loaded: Mapping[str, str]) -> tuple[DuplicatePackage, ...]:
    by_package: dict[str, list[str]] = {}
    for path, package in loaded.items():
        by_package.setdefault(package, []).append(path)
    return tuple(
        DuplicatePackage(package=pkg, paths=tuple(paths))
        for pkg, paths in sorted(by_package.items())
        if len(paths) > 1
    )


def _known_bindings(
    snapshot: Snapshot,
    packages: set[str],
    policies: Mapping[str, PolicyInfo],
    problems: list[Problem],
) -> Iterable[tuple[Document, models.PolicyBinding]]:
    for doc, binding in snapshot.bindings:
        if binding.spec.policy in packages:
            yield doc, binding
            continue
        known = ", ".join(policies) or "none"
        message = f'policy "{binding.spec.policy}" not found (known: {known})'
        problems.append(Problem(path=doc.path, line=doc.line, key="spec.policy", message=message))
