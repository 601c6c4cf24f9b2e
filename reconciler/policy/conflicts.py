"""Pairs of policy bindings that cannot both hold, and policies defined twice.

A repository can say contradictory things without any single file being wrong: one
binding asks for at least 5 replicas where another allows at most 3, a strict binding
enforces a policy on resources another binding of the same policy exempts (the exception
then has no effect), or two files declare the same Rego package (their rules merge, which
is rarely what the second author meant). These checks read the bindings and the compiled
bundle only; nothing is evaluated. Scopes are compared symbolically (globs, namespaces,
label selectors) and, when resources are given, the resources both match are named.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from fnmatch import fnmatchcase
from itertools import combinations
from typing import Any

from reconciler.policy import bindings as scopes
from reconciler.policy.bundle import Bundle
from reconciler.specs import models
from reconciler.specs.models import Enforcement
from reconciler.specs.snapshot import Document

_GLOB = re.compile(r"[*?\[]")
_RULE = re.compile(r"^\s*((?:deny|warn|violation)(?:_\w+)?)\b", re.MULTILINE)
_BOUND = re.compile(r"^(min|max)(\w*)$", re.IGNORECASE)
_EXAMPLES = 3


class ConflictKind(StrEnum):
    """Why two things cannot both hold."""

    PARAMETERS = "parameters"  # a minimum above a maximum on overlapping scope
    STRICT_VS_EXCEPTION = "strict-vs-exception"  # an exception another strict binding voids
    DUPLICATE_PACKAGE = "duplicate-package"  # one package declared in several files
    DUPLICATE_RULE = "duplicate-rule"  # one decision rule written in several files


@dataclass(frozen=True, kw_only=True)
class Conflict:
    kind: ConflictKind
    subjects: tuple[str, ...]  # binding names or the package
    locations: tuple[str, ...]  # `path:line` (or path) of each subject
    message: str
    examples: tuple[str, ...] = ()  # resource keys both sides match

    @property
    def id(self) -> str:
        """Stable identity, to tell conflicts a change introduced from those already there."""
        return f"{self.kind.value}:{'|'.join(self.subjects)}:{self.message}"


Bound = tuple[Document, models.PolicyBinding]


def find(bundle: Bundle, *, resources: Sequence[Document] = ()) -> list[Conflict]:
    """Every conflict among the bundle's bindings and modules, in a stable order."""
    found = [*_self_contradictions(bundle.bindings)]
    for a, b in combinations(bundle.bindings, 2):
        if scopes_overlap(a[1].spec.scope, b[1].spec.scope):
            found += _parameter_conflicts(a, b, resources)
            found += _exception_conflicts(a, b, resources)
            found += _exception_conflicts(b, a, resources)
    found += _duplicates(bundle)
    return sorted(found, key=lambda c: (c.kind.value, c.subjects, c.message))


def scopes_overlap(a: models.Scope, b: models.Scope) -> bool:
    """False only when no resource can match both scopes; unsure means True."""
    return (
        _lists_overlap(_bare_kinds(a.kinds), _bare_kinds(b.kinds))
        and _lists_overlap(a.names, b.names)
        and _namespaces_overlap(a, b)
        and _namespaces_overlap(b, a)
        and _selectors_overlap(a.label_selector, b.label_selector)
    )


def _bare_kinds(kinds: Iterable[str]) -> list[str]:
    return [k.rpartition("/")[2] for k in kinds]


def _lists_overlap(a: Sequence[str], b: Sequence[str]) -> bool:
    if not a or not b:
        return True
    return any(_globs_overlap(x, y) for x in a for y in b)


def _globs_overlap(x: str, y: str) -> bool:
    if _GLOB.search(x) and _GLOB.search(y):
        return True
    return fnmatchcase(x, y) or fnmatchcase(y, x)


def _namespaces_overlap(a: models.Scope, b: models.Scope) -> bool:
    if not _lists_overlap(a.namespaces, b.namespaces):
        return False
    literal = [ns for ns in a.namespaces if not _GLOB.search(ns)]
    if a.namespaces and len(literal) == len(a.namespaces):
        return not all(scopes.globs_match(b.excluded_namespaces, ns) for ns in literal)
    return True


def _selectors_overlap(a: models.LabelSelector | None, b: models.LabelSelector | None) -> bool:
    if a is None or b is None:
        return True
    for key, value in a.match_labels.items():
        if key in b.match_labels and b.match_labels[key] != value:
            return False
    fixed = {**a.match_labels, **b.match_labels}
    expressions = [*a.match_expressions, *b.match_expressions]
    return all(_expression_allows(e, fixed) for e in expressions)


def _expression_allows(expr: models.LabelExpression, fixed: Mapping[str, str]) -> bool:
    if expr.key not in fixed:
        return True  # the label is free: some resource can satisfy the expression
    value = fixed[expr.key]
    return {
        "In": value in expr.values,
        "NotIn": value not in expr.values,
        "Exists": True,
        "DoesNotExist": False,
    }[expr.operator]


def _where(doc: Document) -> str:
    return f"{doc.path}:{doc.line}"


def _both_match(a: models.Scope, b: models.Scope, resources: Sequence[Document]) -> tuple[str, ...]:
    keys = []
    for doc in resources:
        subject = scopes.Subject.of(doc)
        if scopes.scope_matches(a, subject) and scopes.scope_matches(b, subject):
            keys.append(doc.key)
            if len(keys) == _EXAMPLES:
                break
    return tuple(keys)


def _bounds(parameters: Mapping[str, Any]) -> dict[tuple[str, str], tuple[str, float]]:
    """(min|max, suffix) -> (parameter name, number) for numeric `min*`/`max*` parameters."""
    found: dict[tuple[str, str], tuple[str, float]] = {}
    for name, value in parameters.items():
        match = _BOUND.match(name)
        if match and isinstance(value, int | float) and not isinstance(value, bool):
            found[(match.group(1).lower(), match.group(2).lower())] = (name, float(value))
    return found


def _self_contradictions(bound: Iterable[Bound]) -> Iterable[Conflict]:
    for doc, binding in bound:
        limits = _bounds(binding.spec.parameters)
        for (side, suffix), (low_name, low) in limits.items():
            high = limits.get(("max", suffix))
            if side == "min" and high is not None and low > high[1]:
                yield Conflict(
                    kind=ConflictKind.PARAMETERS,
                    subjects=(doc.name,),
                    locations=(_where(doc),),
                    message=f"binding {doc.name} requires {low_name} {_num(low)} but allows "
                    f"at most {high[0]} {_num(high[1])}: no resource can satisfy it",
                )


def _parameter_conflicts(a: Bound, b: Bound, resources: Sequence[Document]) -> list[Conflict]:
    out: list[Conflict] = []
    for low_side, high_side in ((a, b), (b, a)):
        lows, highs = _bounds(low_side[1].spec.parameters), _bounds(high_side[1].spec.parameters)
        for (side, suffix), (low_name, low) in sorted(lows.items()):
            high = highs.get(("max", suffix))
            if side != "min" or high is None or low <= high[1]:
                continue
            out.append(
                Conflict(
                    kind=ConflictKind.PARAMETERS,
                    subjects=(low_side[0].name, high_side[0].name),
                    locations=(_where(low_side[0]), _where(high_side[0])),
                    message=f"binding {low_side[0].name} requires {low_name} {_num(low)} but "
                    f"binding {high_side[0].name} allows at most {high[0]} {_num(high[1])} "
                    "on overlapping scope: no resource in both can satisfy both",
                    examples=_both_match(
                        low_side[1].spec.scope, high_side[1].spec.scope, resources
                    ),
                )
            )
    return out


def _exception_conflicts(
    strict: Bound, exempting: Bound, resources: Sequence[Document]
) -> list[Conflict]:
    """`strict` enforces the policy that `exempting` makes exceptions to on the same scope."""
    s_doc, s_binding = strict
    e_doc, e_binding = exempting
    if s_binding.spec.policy != e_binding.spec.policy:
        return []
    if s_binding.spec.enforcement is not Enforcement.STRICT:
        return []
    out = []
    for exc in e_binding.spec.exceptions:
        voided = scopes_overlap(exc.match, s_binding.spec.scope) and not any(
            scopes_overlap(exc.match, own.match) for own in s_binding.spec.exceptions
        )
        if voided:
            out.append(
                Conflict(
                    kind=ConflictKind.STRICT_VS_EXCEPTION,
                    subjects=(e_doc.name, s_doc.name),
                    locations=(_where(e_doc), _where(s_doc)),
                    message=f'exception "{exc.name}" of binding {e_doc.name} exempts resources '
                    f"from {s_binding.spec.policy}, but strict binding {s_doc.name} enforces "
                    "the same policy on them without that exception: it has no effect",
                    examples=_both_match(exc.match, s_binding.spec.scope, resources),
                )
            )
    return out


def _duplicates(bundle: Bundle) -> list[Conflict]:
    texts = {m.path: m.text for m in bundle.modules}
    out: list[Conflict] = []
    for dup in bundle.duplicates:
        out.append(
            Conflict(
                kind=ConflictKind.DUPLICATE_PACKAGE,
                subjects=(dup.package,),
                locations=dup.paths,
                message=f"package {dup.package} is declared in {len(dup.paths)} files "
                f"({', '.join(dup.paths)}): their rules merge into one policy",
            )
        )
        written: dict[str, list[str]] = {}
        for path in dup.paths:
            for rule in sorted(set(_RULE.findall(texts.get(path, "")))):
                written.setdefault(rule, []).append(path)
        for rule, paths in sorted(written.items()):
            if len(paths) > 1:
                out.append(
                    Conflict(
                        kind=ConflictKind.DUPLICATE_RULE,
                        subjects=(f"{dup.package}.{rule}",),
                        locations=tuple(paths),
                        message=f"rule {rule} of package {dup.package} is written in "
                        f"{', '.join(paths)}: a finding of either denies",
                    )
                )
    return out


def _num(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)
