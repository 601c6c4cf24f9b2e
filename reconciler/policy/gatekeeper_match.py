"""A Gatekeeper constraint's `spec.match`, read and applied field by field as Gatekeeper does.

Gatekeeper's matcher (`pkg/mutation/match`) runs every field in turn and an object is in
scope only when all of them hold; a field left out matches everything:

- `kinds`: any entry whose `apiGroups` and `kinds` both hold (an empty list or `*` is any).
- `scope`: `Cluster` takes Namespaces and objects without a namespace, `Namespaced` takes
  every other object that has one, `*` (the default) takes both.
- `namespaces` / `excludedNamespaces`: names with an optional `*` at the start and/or end
  (`kube-*`, `*-system`, `*prod*`), nothing else is a glob. A Namespace is matched by its
  own name. An object without a namespace (cluster-scoped, or a namespaced kind written
  without `metadata.namespace`) cannot be disqualified by either list: it is in scope of
  `namespaces: [default]` and not excluded by `excludedNamespaces: [default]`, which is
  what Gatekeeper and `gator` do with such objects.
- `labelSelector`: a Kubernetes label selector over the object's labels.
- `namespaceSelector`: the same over the labels of the object's Namespace, which must be a
  document of the repository (an error otherwise, as in Gatekeeper when the Namespace is
  unknown); a Namespace is matched by its own labels, and objects without a namespace
  always match.
- `name`: the object's name, with the same `*` rules as namespaces.
- `source`: `All` (default), `Original` (the object itself) or `Generated` (the Pod
  expanded from a workload).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import ValidationError

from reconciler.errors import PolicyError
from reconciler.policy import bindings
from reconciler.specs import models


class Scope(StrEnum):
    ALL = "*"
    CLUSTER = "Cluster"
    NAMESPACED = "Namespaced"


class Source(StrEnum):
    ALL = "All"
    ORIGINAL = "Original"  # the object under review
    GENERATED = "Generated"  # the Pod expanded from a workload


@dataclass(frozen=True, kw_only=True)
class Kinds:
    """One `kinds` entry; an empty tuple matches any group or kind."""

    groups: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Match:
    """A constraint's `spec.match`; fields left out match everything."""

    kinds: tuple[Kinds, ...] = ()
    scope: Scope = Scope.ALL
    namespaces: tuple[str, ...] = ()
    excluded_namespaces: tuple[str, ...] = ()
    name: str | None = None
    label_selector: models.LabelSelector | None = None
    namespace_selector: models.LabelSelector | None = None
    source: Source = Source.ALL


class NamespaceNotFound(PolicyError, LookupError):
    """A `namespaceSelector` needs the labels of a Namespace the repository does not hold."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        super().__init__(
            f'namespaceSelector: Namespace "{namespace}" is not a document of the repository'
        )


class MatchProblem(ValueError):
    """`spec.match` is malformed; `key` is the path below `spec.match`."""

    def __init__(self, key: str, message: str) -> None:
        self.key, self.message = key, message
        super().__init__(f"{key}: {message}")


# Gatekeeper's CRD pattern for these names: a DNS-like name, `*` allowed at either end.
_WILDCARD = re.compile(r"^(\*|\*-)?[a-z0-9]([-:a-z0-9]*[a-z0-9])?(\*|-\*)?$")
_WILDCARD_HINT = "a name with an optional * at its start or end (kube-*, *-system)"
_E = TypeVar("_E", bound=StrEnum)
_FIELDS = {
    "kinds",
    "scope",
    "namespaces",
    "excludedNamespaces",
    "labelSelector",
    "namespaceSelector",
    "name",
    "source",
}


def wildcard_matches(pattern: str, value: str) -> bool:
    """Gatekeeper's `Wildcard.Matches`: `*x*` contains, `*x` suffix, `x*` prefix, else equal."""
    starts, ends = pattern.startswith("*"), pattern.endswith("*")
    if starts and ends:
        return pattern.strip("*") in value
    if starts:
        return value.endswith(pattern[1:])
    if ends:
        return value.startswith(pattern[:-1])
    return pattern == value


def parse(raw: Any) -> Match:
    """Read `spec.match`; raises MatchProblem naming the first bad field."""
    if not isinstance(raw, dict):
        raise MatchProblem("", "must be a mapping")
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        known = ", ".join(sorted(_FIELDS))
        raise MatchProblem(f".{unknown[0]}", f"is not a Gatekeeper match field ({known})")
    name = raw.get("name")
    if name is not None:
        _check_wildcard(".name", name)
    return Match(
        kinds=_kinds(raw.get("kinds")),
        scope=_enum(Scope, ".scope", raw.get("scope", "*")),
        namespaces=_wildcards(".namespaces", raw.get("namespaces")),
        excluded_namespaces=_wildcards(".excludedNamespaces", raw.get("excludedNamespaces")),
        name=name,
        label_selector=_selector(".labelSelector", raw.get("labelSelector")),
        namespace_selector=_selector(".namespaceSelector", raw.get("namespaceSelector")),
        source=_enum(Source, ".source", raw.get("source", "All")),
    )


def _strings(key: str, raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise MatchProblem(key, "must be a list of strings")
    for i, item in enumerate(raw):
        if not isinstance(item, str):
            raise MatchProblem(f"{key}[{i}]", "must be a string")
    return tuple(raw)


def _kinds(raw: Any) -> tuple[Kinds, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise MatchProblem(".kinds", "must be a list of {apiGroups, kinds}")
    out: list[Kinds] = []
    for i, entry in enumerate(raw):
        key = f".kinds[{i}]"
        if not isinstance(entry, dict):
            raise MatchProblem(key, "must be a mapping with apiGroups and kinds")
        out.append(
            Kinds(
                groups=_strings(f"{key}.apiGroups", entry.get("apiGroups")),
                kinds=_strings(f"{key}.kinds", entry.get("kinds")),
            )
        )
    return tuple(out)


def _wildcards(key: str, raw: Any) -> tuple[str, ...]:
    names = _strings(key, raw)
    for i, name in enumerate(names):
        _check_wildcard(f"{key}[{i}]", name)
    return names


def _check_wildcard(key: str, value: Any) -> None:
    if not isinstance(value, str) or not _WILDCARD.match(value):
        raise MatchProblem(key, f"must be {_WILDCARD_HINT}, not {value!r}")


def _enum(enum: type[_E], key: str, raw: Any) -> _E:
    try:
        return enum(raw)
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise MatchProblem(key, f"must be one of {allowed}, not {raw!r}") from None


def _selector(key: str, raw: Any) -> models.LabelSelector | None:
    if raw is None:
        return None
    try:
        selector = models.LabelSelector.model_validate(raw)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error["loc"])
        raise MatchProblem(f"{key}{where}", error["msg"]) from None
    for i, expr in enumerate(selector.match_expressions):
        needs_values = expr.operator in ("In", "NotIn")
        if needs_values != bool(expr.values):
            what = "must list values" if needs_values else "must not list values"
            raise MatchProblem(f"{key}.matchExpressions[{i}].values", f"{what} ({expr.operator})")
    return selector


def is_namespace(subject: bindings.Subject) -> bool:
    return subject.kind == "Namespace" and subject.group == ""


def matches(
    match: Match, subject: bindings.Subject, *, namespaces: Mapping[str, Mapping[str, str]]
) -> bool:
    """Every field of `match` holds for `subject`; `namespaces` maps the repository's
    Namespace documents to their labels. Raises NamespaceNotFound (see the module doc)."""
    return (
        _kinds_match(match.kinds, subject)
        and _scope_matches(match.scope, subject)
        and _namespace_in(match.namespaces, subject, default=True)
        and not _namespace_in(match.excluded_namespaces, subject, default=False)
        and bindings.selector_matches(match.label_selector, subject.labels)
        and _namespace_selected(match.namespace_selector, subject, namespaces)
        and (match.name is None or wildcard_matches(match.name, subject.name))
    )


def _kinds_match(kinds: tuple[Kinds, ...], subject: bindings.Subject) -> bool:
    if not kinds:
        return True
    return any(
        (not k.kinds or "*" in k.kinds or subject.kind in k.kinds)
        and (not k.groups or "*" in k.groups or subject.group in k.groups)
        for k in kinds
    )


def _scope_matches(scope: Scope, subject: bindings.Subject) -> bool:
    has_namespace = bool(subject.namespace)
    if scope is Scope.CLUSTER:
        return is_namespace(subject) or not has_namespace
    if scope is Scope.NAMESPACED:
        return not is_namespace(subject) and has_namespace
    return True


def _namespace_in(patterns: tuple[str, ...], subject: bindings.Subject, *, default: bool) -> bool:
    """Whether the subject's namespace (a Namespace's own name) matches any pattern; with
    no patterns, or no namespace to judge by, `default`."""
    namespace = subject.name if is_namespace(subject) else subject.namespace
    if not patterns or not namespace:
        return default
    return any(wildcard_matches(p, namespace) for p in patterns)


def _namespace_selected(
    selector: models.LabelSelector | None,
    subject: bindings.Subject,
    namespaces: Mapping[str, Mapping[str, str]],
) -> bool:
    if selector is None:
        return True
    if is_namespace(subject):
        return bindings.selector_matches(selector, subject.labels)
    if not subject.namespace:
        return True
    labels = namespaces.get(subject.namespace)
    if labels is None:
        raise NamespaceNotFound(subject.namespace)
    return bindings.selector_matches(selector, labels)
