"""Reading YAML from a repository safely and fast, with problems that name file and line.

Documents are parsed by libyaml (`CSafeLoader`, about seven times faster than the pure-Python
parser). Input is untrusted, so before anything is built: files over a size limit are refused
from their listed size, binary and non-UTF-8 bytes are named by offset and line, nesting
deeper than a limit is refused (libyaml's composer recurses on the C stack and crashes the
process on very deep input), and documents whose aliases expand to too many nodes (the
"billion laughs") are refused while still a node graph. Timestamps stay strings and mapping
keys become strings, so every document is plain JSON-able data as Kubernetes reads it.
Lines of key paths cost a second, node-level parse and are computed only for problems.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from reconciler.errors import Problem, ProblemsError
from reconciler.source.revision import FileEntry

MiB = 1024 * 1024
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_UNSUPPORTED_TAGS = ("set", "omap", "pairs")
_LIBYAML_TOO_DEEP = "exceeded maximum nesting depth"  # its scanner error's `problem`


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Bounds on what one file may cost to read."""

    max_file_bytes: int = 5 * MiB
    max_depth: int = 1000  # collections nested in collections
    max_alias_nodes: int = 100_000  # nodes that alias expansion may add to one document


@dataclass(frozen=True, kw_only=True)
class YamlDoc:
    """One non-empty document of a file."""

    index: int  # position among the file's documents, counting empty ones
    line: int  # 1-based line where its content starts
    data: Any


@dataclass(frozen=True, kw_only=True)
class YamlFile:
    """What could be read from one file: its good documents and its problems."""

    documents: tuple[YamlDoc, ...]
    problems: tuple[Problem, ...] = ()


class _Loader(yaml.CSafeLoader):
    """libyaml safe loader producing JSON-like data (string keys, timestamps as text)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        mapping = super().construct_mapping(node, deep=deep)
        if all(type(key) is str for key in mapping):
            return mapping
        return {_json_key(key): value for key, value in mapping.items()}

    def construct_binary_text(self, node: yaml.ScalarNode) -> str:
        return str(self.construct_scalar(node))

    def refuse_tag(self, node: yaml.Node) -> None:
        raise yaml.constructor.ConstructorError(
            None,
            None,
            f"YAML tag {node.tag.replace('tag:yaml.org,2002:', '!!')} is not supported here",
            node.start_mark,
        )


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_constructor("tag:yaml.org,2002:binary", _Loader.construct_binary_text)
for _tag in _UNSUPPORTED_TAGS:
    _Loader.add_constructor(f"tag:yaml.org,2002:{_tag}", _Loader.refuse_tag)


def _json_key(key: Any) -> str:
    if isinstance(key, bool) or key is None:
        return "true" if key is True else "false" if key is False else "null"
    return str(key)


def size_problem(entry: FileEntry, *, limits: Limits) -> Problem | None:
    """A problem when the file is too big to read at all (decided from its listed size)."""
    if entry.size <= limits.max_file_bytes:
        return None
    return Problem(
        path=entry.path,
        message=f"file is {_size(entry.size)},"
        f" larger than the {_size(limits.max_file_bytes)} limit",
    )


def _size(n: int) -> str:
    if n >= MiB // 10:
        return f"{n / MiB:.1f} MiB"
    return f"{n / 1024:.1f} KiB" if n >= 1024 else f"{n} bytes"


def decode(data: bytes, *, path: str) -> str:
    """The UTF-8 text of a file; `ProblemsError` for binary or non-UTF-8 content."""
    nul = data.find(b"\0")
    if nul >= 0:
        raise _at(data, offset=nul, path=path, what="binary file (NUL byte")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _at(data, offset=exc.start, path=path, what="not UTF-8 text (invalid byte") from None


def _at(data: bytes, *, offset: int, path: str, what: str) -> ProblemsError:
    line = data.count(b"\n", 0, offset) + 1
    return ProblemsError([Problem(path=path, line=line, message=f"{what} at offset {offset})")])


def load_all(text: str, *, path: str, limits: Limits) -> YamlFile:
    """Every document of a YAML stream; problems instead of exceptions.

    Documents before a syntax error are kept; libyaml cannot resume after one.
    """
    depth_problem = depth_problem_of(text, path=path, limits=limits)
    if depth_problem is not None:
        return YamlFile(documents=(), problems=(depth_problem,))
    documents: list[YamlDoc] = []
    try:
        _construct(text, path=path, limits=limits, into=documents)
    except ProblemsError as exc:
        return YamlFile(documents=tuple(documents), problems=tuple(exc.problems))
    return YamlFile(documents=tuple(documents))


def load_one(text: str, *, path: str, limits: Limits | None = None) -> Any:
    """The one document of a file that holds a single one (None when it is empty), read
    like every repository file; `ProblemsError` names the file and line of a problem."""
    found = load_all(text, path=path, limits=limits or Limits())
    if found.problems:
        raise ProblemsError(found.problems)
    if len(found.documents) > 1:
        line = found.documents[1].line
        message = "holds more than one YAML document; only one is allowed here"
        raise ProblemsError([Problem(path=path, line=line, message=message)])
    return found.documents[0].data if found.documents else None


def dump(data: Any) -> str:
    """`data` as block-style YAML text, keys in their order, Unicode kept as written."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def _construct(text: str, *, path: str, limits: Limits, into: list[YamlDoc]) -> None:
    """Append each non-empty document to `into`; a problem stops at the document having it."""
    loader = _Loader(text)
    may_alias = "&" in text  # no anchor, no alias: skip the expansion count
    line = 1
    try:
        for index, node in enumerate(_nodes(loader)):
            line = _line(node)
            if may_alias:
                _check_aliases(node, path=path, line=line, limits=limits)
            data = loader.construct_document(node)
            if data is not None:
                into.append(YamlDoc(index=index, line=line, data=data))
    except ProblemsError:
        raise  # it is a ValueError too
    except yaml.YAMLError as exc:
        raise ProblemsError([_yaml_problem(exc, path=path)]) from None
    except (ValueError, OverflowError, RecursionError) as exc:
        # Scalars that resolve but do not convert (a 5000-digit int).
        message = f"cannot read a value: {exc}".split(";")[0].splitlines()[0]
        raise ProblemsError([Problem(path=path, line=line, message=message)]) from None
    finally:
        loader.dispose()


def _nodes(loader: _Loader) -> Iterator[yaml.Node]:
    while loader.check_node():
        node = loader.get_node()
        if node is not None:  # check_node said one is there
            yield node


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


def _yaml_problem(exc: yaml.YAMLError, *, path: str) -> Problem:
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return Problem(path=path, message=str(exc).splitlines()[0])
    message = str(exc.problem)
    if exc.context and exc.context_mark is not None:
        message += f" ({exc.context} at line {exc.context_mark.line + 1})"
    elif exc.context:
        message += f" ({exc.context})"
    return Problem(path=path, line=exc.problem_mark.line + 1, message=message)


def depth_problem_of(text: str, *, path: str, limits: Limits) -> Problem | None:
    """A problem naming the line where `text` (YAML, or JSON, which YAML's flow style
    reads) nests past `limits.max_depth`; None when it does not."""
    # Every collection needs one of these indicators, so their count bounds the depth and
    # the exact (slower) event scan runs only for big files.
    if sum(text.count(c) for c in "-:?[{") <= limits.max_depth:
        return None
    loader = _Loader(text)
    depth = 0
    try:
        while loader.check_event():
            event = loader.get_event()
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > limits.max_depth:
                    line = event.start_mark.line + 1 if event.start_mark else None
                    message = f"nested deeper than the limit of {limits.max_depth}"
                    return Problem(path=path, line=line, message=message)
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.MarkedYAMLError as exc:
        if exc.problem != _LIBYAML_TOO_DEEP or exc.problem_mark is None:
            return None  # the real parse reports it with its line
        # libyaml (from PyYAML 6.0.4) stops at a nesting limit of its own, as deep as ours,
        # often before the events above reach it (the scanner reads ahead).
        message = f"nested deeper than the limit of {limits.max_depth}"
        return Problem(path=path, line=exc.problem_mark.line + 1, message=message)
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()
    return None


def _check_aliases(root: yaml.Node, *, path: str, line: int, limits: Limits) -> None:
    """Refuse a document whose aliases expand to too many nodes, or refer to themselves."""
    sizes: dict[int, int] = {}
    active: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        children = _children(node)
        if done:
            active.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
        elif id(node) in active:
            message = "an alias refers to a node that contains it (recursive data)"
            raise ProblemsError([Problem(path=path, line=_line(node), message=message)])
        elif id(node) not in sizes:
            active.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in children)
    added = sizes[id(root)] - len(sizes)
    if added > limits.max_alias_nodes:
        message = (
            f"aliases expand to {added} more nodes, over the limit of {limits.max_alias_nodes}"
            " (an alias bomb?)"
        )
        raise ProblemsError([Problem(path=path, line=line, message=message)])


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def key_path(loc: Sequence[str | int]) -> str:
    """`("spec", "steps", 2, "timeout")` -> `spec.steps[2].timeout`."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out


class Locator:
    """Lines of key paths in one file's documents, from a node-level parse made on first use.

    The second parse is the price of exact lines: ask only for documents with a problem.
    """

    def __init__(self, text: str) -> None:
        self._text = text
        self._roots: list[yaml.Node] | None = None

    def line(self, *, index: int, loc: Sequence[str | int]) -> int | None:
        """The 1-based line of `loc` in document `index`, or of its deepest existing part."""
        if self._roots is None:
            self._roots = self._compose()
        if index >= len(self._roots):
            return None
        return _walk(self._roots[index], loc)

    def _compose(self) -> list[yaml.Node]:
        loader = _Loader(self._text)
        roots: list[yaml.Node] = []
        try:
            roots.extend(_nodes(loader))
        except yaml.YAMLError:
            pass  # documents before the error still have lines
        finally:
            loader.dispose()
        return roots


def locate(text: str, *, index: int, loc: Sequence[str | int]) -> int | None:
    """The 1-based line of key path `loc` in document `index` of `text` (a fresh parse)."""
    return Locator(text).line(index=index, loc=loc)


def _walk(node: yaml.Node, loc: Sequence[str | int]) -> int:
    line = node.start_mark.line + 1
    for part in loc:
        found = _child(node, part)
        if found is None:
            return line
        line, node = found
    return line


def _child(node: yaml.Node, part: str | int) -> tuple[int, yaml.Node] | None:
    if (
        isinstance(node, yaml.SequenceNode)
        and isinstance(part, int)
        and 0 <= part < len(node.value)
    ):
        item = node.value[part]
        return item.start_mark.line + 1, item
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return key.start_mark.line + 1, value
    return None
