"""Runbook variables on the command line (`--var k=v`), their templates and their display.

Values are typed and checked by `run.variables` and substituted by `run.templating`, the
same code the engine uses for every run; here is only what the `runbook` verbs add.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from reconciler.run.variables import VariableError

PLACEHOLDER = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_VAR_REF = re.compile(r"^vars\.([A-Za-z0-9_][-A-Za-z0-9_.]*)$")


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """`["a=1", "b=x=y"]` -> `{"a": "1", "b": "x=y"}`; `VariableError` for an item without `=`."""
    values: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise VariableError(f'--var "{item}": must be NAME=VALUE')
        values[name] = value
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


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def display(value: Any) -> str:
    """How a variable's value is shown in plans and reports."""
    return _text(value)
