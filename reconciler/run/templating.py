"""Rendering `{{ expression }}` templates in step fields without letting values inject.

A template is an expression of `run.expressions` between double braces. In an argv each
element renders into exactly one element: a value is never re-split and never reaches a
shell — a template where an interpreter would parse it (a `shell: true` command line, the
script of `sh -c`, ...) is refused before rendering (`specs.shellcode`). Values holding a
NUL byte are refused everywhere (no argv or C string can carry one). Structured fields (an
http body, headers) render string leaves only; a leaf that is exactly one template keeps
the value's type.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from reconciler.errors import StalledError
from reconciler.run import expressions

_TEMPLATE = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


class TemplateError(StalledError, ValueError):
    """A template could not be rendered safely."""


def references(text: str) -> list[str]:
    """The expressions inside the templates of `text`, checked; `ExpressionError` if bad."""
    found = [m.group(1).strip() for m in _TEMPLATE.finditer(text)]
    for expression in found:
        expressions.parse(expression)
    return found


def to_text(value: Any) -> str:
    """How a value reads inside a string: strings as they are, the rest as JSON."""
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    if "\x00" in text:
        raise TemplateError("a rendered value contains a NUL byte")
    return text


def render(text: str, scope: Mapping[str, Any]) -> str:
    """`text` with each template replaced by its value."""

    def one(match: re.Match[str]) -> str:
        return to_text(expressions.evaluate(match.group(1).strip(), scope))

    rendered = _TEMPLATE.sub(one, text)
    if "\x00" in rendered:
        raise TemplateError("the rendered text contains a NUL byte")
    return rendered


def render_argv(argv: list[str], scope: Mapping[str, Any]) -> list[str]:
    """Each element rendered on its own: one element in, one element out."""
    return [render(arg, scope) for arg in argv]


def render_value(value: Any, scope: Mapping[str, Any]) -> Any:
    """A structure with its string leaves rendered; a lone template keeps its value's type."""
    if isinstance(value, str):
        whole = _TEMPLATE.fullmatch(value.strip())
        if whole and value.count("{{") == 1:
            result = expressions.evaluate(whole.group(1).strip(), scope)
            to_text(result)  # refuses NUL
            return result
        return render(value, scope)
    if isinstance(value, Mapping):
        return {render(str(k), scope): render_value(v, scope) for k, v in value.items()}
    if isinstance(value, list):
        return [render_value(item, scope) for item in value]
    return value
