"""JSON Schema of each of our own kinds, for editors and `reconciler schema KIND`.

The schema is generated from the same pydantic model that validates the documents, with
the YAML (camelCase) key names, so the two can never disagree.
"""

from __future__ import annotations

from typing import Any

from reconciler.errors import UsageError
from reconciler.specs import kinds as kinds_registry


def kinds() -> list[str]:
    """Our own kinds, sorted."""
    return sorted(kinds_registry.KINDS)


def json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of documents of `kind`; `UsageError` naming the known kinds otherwise."""
    model = kinds_registry.KINDS.get(kind)
    if model is None:
        raise UsageError(f"unknown kind {kind!r}; known kinds: {', '.join(kinds())}")
    schema = model.model_json_schema(by_alias=True)
    schema["title"] = kind  # the kind users write, not the Python model's name
    return schema
