"""Editing a repository's YAML the way a person would: one value changed, every comment,
key order, quoting and blank line kept. The only importer of ruamel.yaml (its round-trip
mode is what keeps them), so a swap of the library touches this file alone."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from reconciler.errors import UsageError


class EditFailed(UsageError):
    """The document or the field to change is not where the optimization says."""


@dataclass(frozen=True, kw_only=True)
class Edit:
    """One change to a document: `field` (dotted keys) set to `value`, or with `append`
    `value` added to the list there (the list made when absent). With `create`, missing
    mappings on the way to `field` are made; without it a missing one is an error."""

    field: str
    value: Any
    append: bool = False
    create: bool = False


def set_field(text: str, *, path: str, index: int, field: str, value: Any) -> tuple[str, Any]:
    """`text` with `field` (dotted keys) of its `index`-th document set to `value`, and the
    value it had; the rest of the text is unchanged."""
    text, olds = edit(text, path=path, index=index, edits=[Edit(field=field, value=value)])
    return text, olds[0]


def edit(text: str, *, path: str, index: int, edits: Sequence[Edit]) -> tuple[str, list[Any]]:
    """`text` with `edits` made, in order, to its `index`-th document, and the value each
    field had before; the rest of the text is unchanged."""
    yaml = _yaml()
    try:
        # Keep the file's indentation: mappings' and block sequences' ("key:\n  - item" or
        # "key:\n- item"); ruamel writes one style for the whole stream.
        mapping, dash = _indents(text)
        yaml.indent(mapping=mapping, sequence=dash + 2, offset=dash)
        documents = list(yaml.load_all(text))
    except YAMLError as exc:
        raise EditFailed(f"{path}: not YAML: {exc}") from None
    if not 0 <= index < len(documents):
        raise EditFailed(f"{path}: no document #{index}")
    olds = [_apply(documents[index], e, path=path) for e in edits]
    out = io.StringIO()
    yaml.explicit_start = text.lstrip().startswith("---")
    yaml.dump_all(documents, out)
    return out.getvalue(), olds


def holds(text: str, *, path: str, index: int, edits: Sequence[Edit]) -> bool:
    """Whether the `index`-th document of `text` already has every edit made: each field at
    its value, each appended value in its list. False for text that is not YAML, a missing
    document or a missing field."""
    try:
        documents = list(_yaml().load_all(text))
    except YAMLError:
        return False
    if not 0 <= index < len(documents):
        return False
    for change in edits:
        try:
            parent, key = _parent(documents[index], change.field, path=path)
        except EditFailed:
            return False
        value = parent.get(key)
        if change.append:
            if not (isinstance(value, list) and change.value in value):
                return False
        elif value != change.value:
            return False
    return True


def _apply(document: Any, change: Edit, *, path: str) -> Any:
    parent, key = _parent(document, change.field, path=path, create=change.create)
    old = parent.get(key)
    if not change.append:
        parent[key] = change.value
        return old
    if old is None:
        parent[key] = CommentedSeq()
    elif not isinstance(old, list):
        raise EditFailed(f"{path}: {change.field}: not a list in the document")
    before = list(old or [])
    parent[key].append(change.value)
    return before


def _parent(document: Any, field: str, *, path: str, create: bool = False) -> tuple[Any, str]:
    """The mapping holding the last key of `field`; a number key indexes a sequence
    (`spec.steps.2.retry.backoff`); `create` adds missing mappings on the way."""
    keys = field.split(".")
    node = document
    for depth, key in enumerate(keys[:-1]):
        child = _child(node, key)
        if child is None and create and hasattr(node, "get"):
            child = node[key] = CommentedMap()
        if not (hasattr(child, "get") or isinstance(child, list)):
            where = ".".join(keys[: depth + 1])
            raise EditFailed(f"{path}: {where}: not a mapping or list in the document")
        node = child
    if not hasattr(node, "get"):
        raise EditFailed(f"{path}: {field}: the document is not a mapping")
    return node, keys[-1]


def _child(node: Any, key: str) -> Any:
    if isinstance(node, list):
        return node[int(key)] if key.isdigit() and int(key) < len(node) else None
    return node.get(key) if hasattr(node, "get") else None


def _indents(text: str) -> tuple[int, int]:
    """(mapping indent, dash offset) as the text writes them; (2, 0) when it does not say."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    width = [len(ln) - len(ln.lstrip(" ")) for ln in lines]
    keys = [w for ln, w in zip(lines, width, strict=True) if w and not ln.lstrip().startswith("-")]
    dash = next(
        (
            width[i] - width[i - 1]
            for i in range(1, len(lines))
            if lines[i].lstrip().startswith("- ") and lines[i - 1].rstrip().endswith(":")
        ),
        0,
    )
    return min(keys, default=2), max(dash, 0)


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long line the person wrote on one line
    return yaml
