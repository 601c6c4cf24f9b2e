"""Field-level differences between two JSON-like documents, and applying them back.

The planner turns "desired vs observed" into a list of `DiffItem`s that people read (plan
output, PR simulation), policies read (`input.change.diff`) and providers may apply. Values
are JSON-like: dicts with string keys, lists, str, int, float, bool, None. Every level is
compared with `==` first, so the common case (nothing changed) costs one C-level comparison.

Rules:
- Dicts are compared key by key, keys in sorted order; a missing key is `add`/`remove`.
- Lists are compared by index: common indices recurse, extra new items are `add`s at their
  index, missing items are `remove`s from the highest index down (so items apply in order).
- Named lists, like Kubernetes' strategic merge on `containers`: when every item of both
  lists is a dict with a string `name`, names are unique in each list, and the names kept in
  both appear in the same relative order, items are matched by name. The path then holds the
  name as a `Name` (a `str`), rendered `spec.containers[name=web].image`; removed and
  changed items are named, added items carry their index in the new list. Otherwise
  (e.g. reordered names) the lists are compared by index.
- A change of type (dict to list, str to int, ...) is one `replace` of the whole value.
- Values Python holds equal are equal: `1 == 1.0 == True`. NaN is not JSON and never equal.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reconciler import errors

PathPart = str | int
Path = tuple[PathPart, ...]
_PLAIN_KEY = re.compile(r"[A-Za-z_$][\w$-]*")


class Name(str):
    """A path part naming an item of a named list (a `str`, so paths stay `str | int`)."""

    __slots__ = ()


class Op(StrEnum):
    """What a `DiffItem` does at its path."""

    ADD = "add"
    REMOVE = "remove"
    REPLACE = "replace"


@dataclass(frozen=True, kw_only=True)
class DiffItem:
    """One field-level difference: `old` is absent (None) for add, `new` for remove."""

    op: Op
    path: Path
    old: Any = None
    new: Any = None

    @property
    def dotted(self) -> str:
        """The path for people: `spec.containers[0].image`, `spec.containers[name=web]`."""
        return render(self.path)

    def as_json(self) -> dict[str, Any]:
        """The item as policies see it in `input.change.diff`."""
        return {"op": str(self.op), "path": self.dotted, "old": self.old, "new": self.new}

    def __str__(self) -> str:
        if self.op is Op.ADD:
            return f"+ {self.dotted}: {self.new!r}"
        if self.op is Op.REMOVE:
            return f"- {self.dotted}: {self.old!r}"
        return f"~ {self.dotted}: {self.old!r} -> {self.new!r}"


class ApplyError(errors.TransientError, LookupError):
    """A diff no longer fits the document it is applied to (it changed since): re-observe."""

    def __init__(self, *, item: DiffItem, reason: str) -> None:
        super().__init__(f"cannot {item.op} {item.dotted or '(root)'}: {reason}")
        self.item = item


def render(path: Sequence[PathPart]) -> str:
    """Dotted rendering: `spec.containers[0].image`, `spec.containers[name=web]`,
    `metadata.annotations["reconciler.dev/wave"]` (keys that are not plain words are quoted)."""
    out: list[str] = []
    for part in path:
        if isinstance(part, int):
            out.append(f"[{part}]")
        elif isinstance(part, Name):
            out.append(f"[name={part!s}]")
        elif _PLAIN_KEY.fullmatch(part):
            out.append(f".{part}" if out else part)
        else:
            out.append(f"[{json.dumps(part)}]")
    return "".join(out)


def diff(old: Any, new: Any) -> tuple[DiffItem, ...]:
    """Every difference that turns `old` into `new`, in a deterministic order."""
    if old == new:
        return ()
    return tuple(_diff(old, new, ()))


def _diff(old: Any, new: Any, path: Path) -> Iterator[DiffItem]:
    if isinstance(old, dict) and isinstance(new, dict):
        yield from _diff_dicts(old, new, path)
    elif isinstance(old, list) and isinstance(new, list):
        names = _named_match(old, new)
        if names is None:
            yield from _diff_lists(old, new, path)
        else:
            yield from _diff_named(old, new, path, names)
    else:
        yield DiffItem(op=Op.REPLACE, path=path, old=old, new=new)


def _diff_dicts(old: dict[str, Any], new: dict[str, Any], path: Path) -> Iterator[DiffItem]:
    for key in sorted(old.keys() | new.keys()):
        if key not in new:
            yield DiffItem(op=Op.REMOVE, path=(*path, key), old=old[key])
        elif key not in old:
            yield DiffItem(op=Op.ADD, path=(*path, key), new=new[key])
        elif old[key] != new[key]:
            yield from _diff(old[key], new[key], (*path, key))


def _diff_lists(old: list[Any], new: list[Any], path: Path) -> Iterator[DiffItem]:
    for index, (a, b) in enumerate(zip(old, new, strict=False)):
        if a != b:
            yield from _diff(a, b, (*path, index))
    for index in range(len(old) - 1, len(new) - 1, -1):
        yield DiffItem(op=Op.REMOVE, path=(*path, index), old=old[index])
    for index in range(len(old), len(new)):
        yield DiffItem(op=Op.ADD, path=(*path, index), new=new[index])


def _diff_named(
    old: list[Any], new: list[Any], path: Path, names: tuple[list[str], list[str]]
) -> Iterator[DiffItem]:
    old_names, new_names = names
    by_name = dict(zip(old_names, old, strict=True))
    kept = set(new_names)
    for name, item in zip(old_names, old, strict=True):
        if name not in kept:
            yield DiffItem(op=Op.REMOVE, path=(*path, Name(name)), old=item)
    added = []
    for index, (name, item) in enumerate(zip(new_names, new, strict=True)):
        if name not in by_name:
            added.append(DiffItem(op=Op.ADD, path=(*path, index), new=item))
        elif by_name[name] != item:
            yield from _diff(by_name[name], item, (*path, Name(name)))
    yield from added


def _named_match(old: list[Any], new: list[Any]) -> tuple[list[str], list[str]] | None:
    """Names of both lists when they can be matched by name (see the module rules)."""
    old_names, new_names = item_names(old), item_names(new)
    if old_names is None or new_names is None:
        return None
    both = set(old_names) & set(new_names)
    if [n for n in old_names if n in both] != [n for n in new_names if n in both]:
        return None
    return old_names, new_names


def item_names(items: list[Any]) -> list[str] | None:
    """The `name` of every item when all items are dicts with unique string names."""
    if not items:
        return None
    names = []
    for item in items:
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            return None
        names.append(name)
    return names if len(set(names)) == len(names) else None


def apply(observed: Any, items: Sequence[DiffItem]) -> Any:
    """`observed` with `items` applied in order; `observed` itself is left unchanged.

    Containers on the changed paths are copied; unchanged subtrees are shared with
    `observed`, and added values are copied, so the result is safe to read but callers who
    mutate it should deep-copy it first. Keys of `observed` that the diff does not mention
    are kept: applying a diff of normalised documents to the raw observed one keeps the
    fields its provider added.
    """
    root: list[Any] = [observed]
    copied: set[int] = set()
    for item in items:
        _apply_one(root, item=item, copied=copied)
    return root[0]


def _apply_one(root: list[Any], *, item: DiffItem, copied: set[int]) -> None:
    parent: Any = root
    part: PathPart = 0
    for next_part in item.path:
        parent = _writable_child(parent, part=part, copied=copied, item=item)
        part = next_part
    if isinstance(parent, dict):
        _apply_in_dict(parent, part=part, item=item)
    elif isinstance(parent, list):
        _apply_in_list(parent, part=part, item=item)
    else:
        raise ApplyError(item=item, reason=f"parent is a {type(parent).__name__}")


def _writable_child(parent: Any, *, part: PathPart, copied: set[int], item: DiffItem) -> Any:
    position = _locate(parent, part=part, item=item)
    child = parent[position]
    if id(child) not in copied and isinstance(child, dict | list):
        child = copy.copy(child)
        parent[position] = child
        copied.add(id(child))
    return child


def _locate(parent: Any, *, part: PathPart, item: DiffItem) -> Any:
    """The subscript of `part` in `parent`: a key, an index, or the index of a name."""
    if isinstance(parent, dict) and isinstance(part, str) and part in parent:
        return part
    if isinstance(parent, list) and isinstance(part, int) and 0 <= part < len(parent):
        return part
    if isinstance(parent, list) and isinstance(part, str):
        for index, element in enumerate(parent):
            if isinstance(element, dict) and element.get("name") == part:
                return index
    raise ApplyError(item=item, reason=f"no {part!r} there")


def _apply_in_dict(parent: dict[str, Any], *, part: PathPart, item: DiffItem) -> None:
    if item.op is Op.REMOVE:
        del parent[_locate(parent, part=part, item=item)]
    elif item.op is Op.REPLACE:
        parent[_locate(parent, part=part, item=item)] = copy.deepcopy(item.new)
    elif isinstance(part, str):
        parent[part] = copy.deepcopy(item.new)
    else:
        raise ApplyError(item=item, reason="a dict key must be a string")


def _apply_in_list(parent: list[Any], *, part: PathPart, item: DiffItem) -> None:
    if item.op is Op.ADD:
        if not isinstance(part, int) or not 0 <= part <= len(parent):
            raise ApplyError(item=item, reason=f"index {part!r} is out of range")
        parent.insert(part, copy.deepcopy(item.new))
    elif item.op is Op.REMOVE:
        del parent[_locate(parent, part=part, item=item)]
    else:
        parent[_locate(parent, part=part, item=item)] = copy.deepcopy(item.new)
