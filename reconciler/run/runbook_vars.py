"""Runbook variables: typed values from `--var k=v`, and their substitution into commands.

Substitution is the injection boundary, so it is deliberately dumb: `{{ vars.x }}` inside one
argv element becomes the value's text inside that same element, never re-split and never
seen by a shell. With `shell: true` the value is `shlex.quote`d first, so the shell reads it
as one word. A NUL character cannot be passed in an argv element and is refused outright;
every other character (`;`, `$(...)`, backquotes, newlines) is passed through as data.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler.errors import UsageError
from reconciler.specs import runs

PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_VAR_REF = re.compile(r"^vars\.([A-Za-z0-9_][-A-Za-z0-9_.]*)$")
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


class VariableError(UsageError):
    """A variable given on the command line (or its default) is missing or wrong."""


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """`["a=1", "b=x=y"]` -> `{"a": "1", "b": "x=y"}`; `VariableError` for an item without `=`."""
    values: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise VariableError(f'--var "{item}": must be NAME=VALUE')
        values[name] = value
    return values


def coerce(variable: runs.Variable, value: Any) -> Any:
    """`value` (command-line text or a YAML value) as the variable's type; `ValueError` says why."""
    kind = variable.type
    if kind is runs.VariableType.STRING:
        result: Any = value if isinstance(value, str) else _text(value)
    elif kind is runs.VariableType.BOOLEAN:
        result = _boolean(value)
    elif kind is runs.VariableType.INTEGER:
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


def resolve(variables: Sequence[runs.Variable], given: Mapping[str, Any]) -> dict[str, Any]:
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


def template_issues(text: str, declared: Iterable[str]) -> list[str]:
    """What is wrong with the `{{ ... }}` placeholders of one string."""
    known = set(declared)
    issues: list[str] = []
    for match in PLACEHOLDER.finditer(text):
        ref = _VAR_REF.fullmatch(match.group(1))
        if ref is None:
            issues.append(f'unsupported template "{match.group(0)}" (use {{{{ vars.NAME }}}})')
        elif ref.group(1) not in known:
            issues.append(f'unknown variable "{ref.group(1)}"')
    return issues


def render(text: str, values: Mapping[str, Any], *, shell: bool = False) -> str:
    """`text` with each `{{ vars.x }}` replaced by the value (quoted for a shell when `shell`).

    A variable without a value renders as the empty string (quoted: `''`).
    """

    def value_of(match: re.Match[str]) -> str:
        ref = _VAR_REF.fullmatch(match.group(1))
        if ref is None:
            return match.group(0)
        value = _text(values.get(ref.group(1), ""))
        if "\0" in value:
            raise VariableError(f'variable "{ref.group(1)}": must not contain a NUL character')
        return shlex.quote(value) if shell else value

    return PLACEHOLDER.sub(value_of, text)


def render_argv(argv: Sequence[str], values: Mapping[str, Any], *, shell: bool) -> tuple[str, ...]:
    """Each element rendered on its own: the result has exactly as many elements as `argv`."""
    return tuple(render(item, values, shell=shell) for item in argv)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def display(value: Any) -> str:
    """How a variable's value is shown in plans and reports."""
    return _text(value)
