"""Run variables: declared, typed, checked once for every path that starts a run.

A runbook declares its variables; `resolve` turns what a caller gave (command-line text
from `--var k=v`, a workflow step's rendered values, a remediation's violation) into typed
values: text is coerced to the declared type (`"3"` for an integer is 3), defaults fill
in, and every problem is reported at once. A declared variable given no value and without
a default is rendered as the empty string (`scope`); a name nobody declared is an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.errors import UsageError
from reconciler.specs import flows

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


class VariableError(UsageError):
    """A variable given on the command line (or its default) is missing or wrong."""


def coerce(variable: flows.Variable, value: Any) -> Any:
    """`value` (command-line text or a YAML value) as the variable's type; `ValueError` says why."""
    kind = variable.type
    if kind is flows.VariableType.STRING:
        result: Any = value if isinstance(value, str) else _text(value)
    elif kind is flows.VariableType.BOOLEAN:
        result = _boolean(value)
    elif kind is flows.VariableType.INTEGER:
        result = _number(value, int, "an integer")
    else:
        result = _number(value, float, "a number")
    text = _text(result)
    if "\0" in text:
        raise ValueError("must not contain a NUL character")
    if variable.pattern is not None and re.search(variable.pattern, text) is None:
        raise ValueError(f'"{text}" does not match pattern "{variable.pattern}"')
    return result


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
        return value.lower() in _TRUE
    raise ValueError(f'must be true or false, got "{_text(value)}"')


def _number(value: Any, kind: type[int] | type[float], words: str) -> Any:
    if isinstance(value, bool):
        raise ValueError(f'must be {words}, got "{_text(value)}"')
    if isinstance(value, int | float) and (kind is float or isinstance(value, int)):
        return value
    try:
        return kind(str(value).strip())
    except ValueError:
        raise ValueError(f'must be {words}, got "{_text(value)}"') from None


def resolve(variables: Sequence[flows.Variable], given: Mapping[str, Any]) -> dict[str, Any]:
    """The value of every declared variable: given, else its default; every problem at once."""
    declared = {v.name: v for v in variables}
    messages = [
        f'unknown variable "{name}" (declared: {", ".join(declared) or "none"})'
        for name in given
        if name not in declared
    ]
    values: dict[str, Any] = {}
    for variable in variables:
        raw = given.get(variable.name, variable.default)
        if raw is None:
            if variable.required:
                messages.append(f'variable "{variable.name}": required (--var {variable.name}=...)')
            continue
        try:
            values[variable.name] = coerce(variable, raw)
        except ValueError as exc:
            messages.append(f'variable "{variable.name}": {exc}')
    if messages:
        raise VariableError("\n".join(messages))
    return values


def scope(variables: Sequence[flows.Variable], values: Mapping[str, Any]) -> dict[str, Any]:
    """What templates see as `vars`: every declared variable, "" for those without a value."""
    return {v.name: "" for v in variables} | dict(values)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)
