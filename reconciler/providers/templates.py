"""A tiny, safe template renderer for File contents: `{{ vars.name }}` and nothing else.

Templates come from Git and are rendered by the daemon, so they must not run code: the only
construct is a reference to a value of `spec.vars` (dotted for nested maps). Strings are
inserted as they are, other values as JSON (`true`, `3`, `["a"]`). Anything else between
`{{` and `}}` is an error, never silently copied through.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_REFERENCE = re.compile(r"^vars((?:\.[A-Za-z_][A-Za-z0-9_-]*)+)$")


class TemplateError(ValueError):
    """A template references something it may not, or a variable that is not set."""


def render(template: str, variables: Mapping[str, Any]) -> str:
    """`template` with every `{{ vars.x.y }}` replaced by the value at `variables[x][y]`."""

    def substitute(match: re.Match[str]) -> str:
        return _text(_lookup(match.group(1).strip(), variables))

    return _PLACEHOLDER.sub(substitute, template)


def _lookup(reference: str, variables: Mapping[str, Any]) -> Any:
    parsed = _REFERENCE.match(reference)
    if parsed is None:
        raise TemplateError(f"{{{{ {reference} }}}} is not a reference like {{{{ vars.name }}}}")
    value: Any = variables
    for part in parsed.group(1).split(".")[1:]:
        if not isinstance(value, Mapping) or part not in value:
            raise TemplateError(f"{{{{ {reference} }}}}: spec.vars has no {part!r}")
        value = value[part]
    return value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
