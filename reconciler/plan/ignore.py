"""Which differences between desired and observed are not drift.

Providers report more than anyone wrote in Git: server-side defaults, status, ids,
timestamps. Comparing that raw would show a diff after every apply and update forever, so
`normalise` reduces both documents to what is comparable before `diffs.diff` runs:

1. Managed fields (`MANAGED_FIELDS`: `status`, `metadata.uid`, `metadata.resourceVersion`,
   `metadata.creationTimestamp`, `metadata.generation`, `metadata.managedFields`) are removed
   from both sides: the provider owns them, even when a desired document sets them.
2. Ignore rules (like Argo CD's `ignoreDifferences`) remove their paths from both sides, for
   objects whose kind, and optionally name and namespace, match the rule (shell globs).
3. Observed mappings keep only the keys the desired mapping has, recursively; list items
   are paired by `name` when both lists are named lists (see `diffs.item_names`), else by
   index, and observed items with no desired partner are kept whole (an extra container is
   drift). Below a rule's `strict` path nothing is dropped: there, an observed key that
   desired lacks is drift and the planner removes it.

Paths are JSON pointers (`/spec/replicas`, `/metadata/annotations/a~1b` for the key `a/b`)
or dotted paths (`spec.replicas`, `spec.containers[0].image`, `spec.containers[name=web]`,
`metadata.annotations["a/b"]`); in both, `*` matches any key or item. The empty path `""`
(only in `strict`) is the whole object.
"""

from __future__ import annotations

import copy
import fnmatch
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from reconciler import errors
from reconciler.plan import diffs

Segment = str | int  # "*" matches anything; a `diffs.Name` matches a list item by name
Pattern = tuple[Segment, ...]
ANY = "*"

MANAGED_FIELDS: tuple[str, ...] = (
    "/status",
    "/metadata/uid",
    "/metadata/resourceVersion",
    "/metadata/creationTimestamp",
    "/metadata/generation",
    "/metadata/managedFields",
)

_DOTTED = re.compile(
    r"""(?P<key>[A-Za-z_$][\w$-]*|\*)
      | \[(?:(?P<index>\d+)|(?P<any>\*)|name=(?P<name>[^\]]+)|(?P<quoted>"(?:[^"\\]|\\.)*"))\]
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, kw_only=True)
class IgnoreRule:
    """Differences to ignore (`paths`) or to see in full (`strict`) for matching objects."""

    kind: str = "*"
    name: str | None = None
    namespace: str | None = None
    paths: tuple[str, ...] = ()
    strict: tuple[str, ...] = ()

    def applies_to(self, *, kind: str, namespace: str, name: str) -> bool:
        return (
            fnmatch.fnmatchcase(kind, self.kind)
            and (self.name is None or fnmatch.fnmatchcase(name, self.name))
            and (self.namespace is None or fnmatch.fnmatchcase(namespace, self.namespace))
        )

    @cached_property
    def ignored(self) -> tuple[Pattern, ...]:
        return tuple(parse_path(path) for path in self.paths)

    @cached_property
    def strict_patterns(self) -> tuple[Pattern, ...]:
        return tuple(parse_path(path) for path in self.strict)


def parse_path(text: str) -> Pattern:
    """A JSON pointer or dotted path as segments; raises ValueError saying what is wrong."""
    if text.startswith("/"):
        return tuple(part.replace("~1", "/").replace("~0", "~") for part in text[1:].split("/"))
    segments: list[Segment] = []
    position = 1 if text.startswith(".") else 0
    while position < len(text):
        if segments and text[position] == "." and text[position + 1 : position + 2] != "[":
            position += 1
        found = _DOTTED.match(text, position)
        if found is None:
            raise ValueError('must be a path like "/spec/replicas" or "spec.replicas"')
        segments.append(_segment(found))
        position = found.end()
    return tuple(segments)


def _segment(found: re.Match[str]) -> Segment:
    if found["index"] is not None:
        return int(found["index"])
    if found["name"] is not None:
        return diffs.Name(found["name"])
    if found["quoted"] is not None:
        return str(json.loads(found["quoted"]))
    return found["key"] or ANY


def normalise(
    desired: Mapping[str, Any], observed: Mapping[str, Any], *, rules: Sequence[IgnoreRule]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Both documents reduced to what is compared (see the module rules)."""
    active = [rule for rule in rules if rule.applies_to(**identity(desired or observed))]
    dropped = (*_MANAGED, *(p for rule in active for p in rule.ignored))
    strict = tuple(p for rule in active for p in rule.strict_patterns)
    new_desired, new_observed = dict(desired), dict(observed)
    for pattern in dropped:
        new_desired = _drop(new_desired, pattern)
        new_observed = _drop(new_observed, pattern)
    return new_desired, _prune(new_desired, new_observed, strict)


def identity(document: Mapping[str, Any]) -> dict[str, str]:
    """`kind`, `namespace` ("" when none) and `name` of a document, for rule matching."""
    metadata = document.get("metadata")
    metadata = metadata if isinstance(metadata, dict) else {}
    return {
        "kind": str(document.get("kind") or ""),
        "namespace": str(metadata.get("namespace") or ""),
        "name": str(metadata.get("name") or ""),
    }


_MANAGED: tuple[Pattern, ...] = tuple(parse_path(path) for path in MANAGED_FIELDS)


def _matches(segment: Segment, position: str | int, element: Any) -> bool:
    if segment == ANY:
        return True
    if isinstance(segment, diffs.Name):
        return (
            isinstance(position, int)
            and isinstance(element, dict)
            and (element.get("name") == segment)
        )
    if isinstance(position, int) and isinstance(segment, str):
        return segment.isdigit() and int(segment) == position
    return segment == position


def _positions(value: Any, segment: Segment) -> list[Any]:
    if isinstance(value, dict):
        if isinstance(segment, str) and segment != ANY and not isinstance(segment, diffs.Name):
            return [segment] if segment in value else []
        return [key for key, element in value.items() if _matches(segment, key, element)]
    if isinstance(value, list):
        return [i for i, element in enumerate(value) if _matches(segment, i, element)]
    return []


def _drop(value: Any, pattern: Pattern) -> Any:
    """`value` without what `pattern` points at; containers on the way are copied."""
    positions = _positions(value, pattern[0]) if pattern else []
    if not positions:
        return value
    result = copy.copy(value)
    for position in reversed(positions):
        if len(pattern) == 1:
            del result[position]
        else:
            result[position] = _drop(value[position], pattern[1:])
    return result


def _advance(
    patterns: tuple[Pattern, ...], position: str | int, element: Any
) -> tuple[Pattern, ...]:
    return tuple(p[1:] for p in patterns if p and _matches(p[0], position, element))


def _prune(desired: Any, observed: Any, strict: tuple[Pattern, ...]) -> Any:
    """`observed` keeping only what `desired` has, except below a strict path."""
    if desired == observed or any(not pattern for pattern in strict):
        return observed
    if isinstance(desired, dict) and isinstance(observed, dict):
        result = {}
        for key, value in observed.items():
            inner = _advance(strict, key, value)
            if key in desired:
                result[key] = _prune(desired[key], value, inner)
            elif any(not pattern for pattern in inner):
                result[key] = value
        return result
    if isinstance(desired, list) and isinstance(observed, list):
        partners = _partners(desired, observed)
        return [
            value if partner is None else _prune(partner, value, _advance(strict, i, value))
            for i, (value, partner) in enumerate(zip(observed, partners, strict=True))
        ]
    return observed


def _partners(desired: list[Any], observed: list[Any]) -> list[Any]:
    """For each observed item, its desired partner (by name or index), or None."""
    desired_names, observed_names = diffs.item_names(desired), diffs.item_names(observed)
    if desired_names is not None and observed_names is not None:
        by_name = dict(zip(desired_names, desired, strict=True))
        return [by_name.get(name) for name in observed_names]
    return [desired[i] if i < len(desired) else None for i in range(len(observed))]


_RULE_KEYS = ("kind", "name", "namespace", "jsonPointers", "paths", "strict")


def rules_from_settings(
    items: Sequence[Mapping[str, Any]], *, source: str = "reconciler.yaml"
) -> tuple[IgnoreRule, ...]:
    """Rules from `spec.ignoreDifferences` of the settings; every mistake is reported."""
    problems: list[errors.Problem] = []
    rules = []
    for index, item in enumerate(items):
        where = f"spec.ignoreDifferences[{index}]"
        found = [
            errors.Problem(path=source, key=f"{where}.{key}", message=message)
            for key, message in _rule_problems(item)
        ]
        problems.extend(found)
        if not found:
            rules.append(_rule(item))
    if problems:
        raise errors.ProblemsError(problems)
    return tuple(rules)


def _rule_problems(item: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key path below the rule, message) for each mistake in one rule."""
    found = [(key, f"unknown key; expected one of {', '.join(_RULE_KEYS)}") for key in item]
    found = [problem for problem in found if problem[0] not in _RULE_KEYS]
    for key in ("kind", "name", "namespace"):
        if key in item and not isinstance(item[key], str):
            found.append((key, 'must be a string (a glob like "Deployment" or "web-*")'))
    for key in ("jsonPointers", "paths", "strict"):
        values = item.get(key, [])
        if not isinstance(values, list):
            found.append((key, "must be a list of paths"))
            continue
        found.extend((f"{key}[{i}]", message) for i, message in _path_problems(key, values))
    if not any(item.get(key) for key in ("jsonPointers", "paths", "strict")):
        found.append(("jsonPointers", "a rule needs jsonPointers, paths or strict"))
    return found


def _path_problems(key: str, values: list[Any]) -> list[tuple[int, str]]:
    found = []
    for index, value in enumerate(values):
        if not isinstance(value, str):
            found.append((index, "must be a string"))
        elif key == "jsonPointers" and not value.startswith("/"):
            found.append((index, 'must be a JSON pointer like "/spec/replicas"'))
        elif value == "" and key != "strict":
            found.append((index, "must not be empty"))
        else:
            try:
                parse_path(value)
            except ValueError as error:
                found.append((index, str(error)))
    return found


def _rule(item: Mapping[str, Any]) -> IgnoreRule:
    return IgnoreRule(
        kind=item.get("kind", "*"),
        name=item.get("name"),
        namespace=item.get("namespace"),
        paths=(*item.get("jsonPointers", []), *item.get("paths", [])),
        strict=tuple(item.get("strict", [])),
    )
