"""A small, safe expression language for decisions, waits, retry conditions and templates.

Expressions are parsed with Python's `ast` and evaluated by walking a whitelist of nodes:
literals, names, `a.b` and `a["b"]` lookups into dicts and lists, comparisons (including
`in`), `and`/`or`/`not`, unary minus and `len(x)`. Nothing is ever passed to `eval`, no
attribute of a Python object is reachable (a dot is a dict key lookup), and the size of an
expression is bounded. Step names may contain `-` and `.`, which Python would read as
operators, so `steps.check-usage.outputs` is rewritten to `steps["check-usage"].outputs`
before parsing.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.errors import StalledError

MAX_LENGTH = 2000
_STEP_REF = re.compile(r"\bsteps\.([A-Za-z0-9][-A-Za-z0-9_.]*?)\.(outputs|status|error)\b")
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: lambda a, b: bool(a == b),
    ast.NotEq: lambda a, b: bool(a != b),
    ast.Lt: lambda a, b: bool(a < b),
    ast.LtE: lambda a, b: bool(a <= b),
    ast.Gt: lambda a, b: bool(a > b),
    ast.GtE: lambda a, b: bool(a >= b),
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}


class ExpressionError(StalledError, ValueError):
    """An expression is malformed, uses something outside the language, or names nothing."""

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(f"expression {text!r}: {reason}")
        self.text = text
        self.reason = reason


def parse(text: str) -> ast.expr:
    """The checked syntax tree of `text`; `ExpressionError` when it is not in the language."""
    if len(text) > MAX_LENGTH:
        raise ExpressionError(text[:40] + "...", f"longer than {MAX_LENGTH} characters")
    source = _STEP_REF.sub(lambda m: f'steps["{m.group(1)}"].{m.group(2)}', text.strip())
    try:
        tree = ast.parse(source, mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(text, f"syntax error: {exc.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ExpressionError(text, f"{type(node).__name__} is not allowed")
        if isinstance(node, ast.Call) and not _is_len(node):
            raise ExpressionError(text, "only len(x) may be called")
    return tree


def evaluate(text: str, scope: Mapping[str, Any]) -> Any:
    """The value of `text` with the top-level names of `scope` (`steps`, `vars`, ...)."""
    return _Evaluator(text, scope).visit(parse(text))


def truthy(text: str, scope: Mapping[str, Any]) -> bool:
    return bool(evaluate(text, scope))


def _is_len(node: ast.Call) -> bool:
    return (
        isinstance(node.func, ast.Name)
        and node.func.id == "len"
        and len(node.args) == 1
        and not node.keywords
    )


_ALLOWED = (
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.Attribute,
    ast.Subscript,
    ast.Compare,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.List,
    ast.Tuple,
    ast.Call,
    *_COMPARE,
)


class _Evaluator:
    def __init__(self, text: str, scope: Mapping[str, Any]) -> None:
        self.text = text
        self.scope = scope

    def fail(self, reason: str) -> ExpressionError:
        return ExpressionError(self.text, reason)

    def visit(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.Attribute):
            return self._lookup(self.visit(node.value), node.attr)
        if isinstance(node, ast.Subscript):
            return self._lookup(self.visit(node.value), self.visit(node.slice))
        if isinstance(node, ast.BoolOp):
            return self._bool_op(node)
        if isinstance(node, ast.UnaryOp):
            value = self.visit(node.operand)
            return (not value) if isinstance(node.op, ast.Not) else self._negate(value)
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.List | ast.Tuple):
            return [self.visit(item) for item in node.elts]
        if isinstance(node, ast.Call):
            return self._len(self.visit(node.args[0]))
        raise self.fail(f"{type(node).__name__} is not allowed")

    def _name(self, name: str) -> Any:
        if name in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[name]
        if name not in self.scope:
            raise self.fail(f"unknown name {name!r}")
        return self.scope[name]

    def _lookup(self, container: Any, key: Any) -> Any:
        if isinstance(container, Mapping):
            if key not in container:
                raise self.fail(f"no key {key!r}")
            return container[key]
        if isinstance(container, list) and isinstance(key, int) and not isinstance(key, bool):
            if -len(container) <= key < len(container):
                return container[key]
            raise self.fail(f"index {key} out of range")
        raise self.fail(f"cannot look up {key!r} in {type(container).__name__}")

    def _bool_op(self, node: ast.BoolOp) -> Any:
        is_and = isinstance(node.op, ast.And)
        value: Any = is_and
        for operand in node.values:
            value = self.visit(operand)
            if bool(value) != is_and:
                return value
        return value

    def _negate(self, value: Any) -> Any:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return -value
        raise self.fail("unary minus needs a number")

    def _compare(self, node: ast.Compare) -> bool:
        left = self.visit(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.visit(comparator)
            try:
                if not _COMPARE[type(op)](left, right):
                    return False
            except TypeError as exc:
                raise self.fail(str(exc)) from None
            left = right
        return True

    def _len(self, value: Any) -> int:
        if isinstance(value, str | list | dict):
            return len(value)
        raise self.fail(f"len() of {type(value).__name__}")
