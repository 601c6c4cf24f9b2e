"""conftest's file builtins for Rego unit tests, reading only the repository under test.

conftest gives tests `parse_config(parser, text)`, `parse_config_file(path)` and
`parse_combined_config_files(paths)`, and resolves their paths against the folder of the
Rego file that calls them. regorus does not tell an extension which module called it, so
here paths resolve against the folder of the test file being run (where conftest's own
examples call them). Files are read from the repository's tree, never from the host: a path
that leaves the repository or names no file in it is an evaluation error naming the path.
YAML (every document; one document gives a value, several a list), JSON and TOML parse.
"""

from __future__ import annotations

import json
import posixpath
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import ProblemsError
from reconciler.source.revision import Tree
from reconciler.specs import yamlio

Reader = Callable[[str], bytes | None]


class ConfigFileError(ValueError):
    """A file builtin could not give a value; regorus reports it as the call's error."""


@dataclass(kw_only=True)
class ConfigFiles:
    """The builtins for one test run; `folder` is the folder of the test being run."""

    read: Reader
    folder: str = ""
    _limits: yamlio.Limits = field(default_factory=yamlio.Limits)

    def register(self, add: Callable[[str, int, Callable[..., Any]], None]) -> None:
        add("parse_config", 2, self.parse_config)
        add("parse_config_file", 1, self.parse_config_file)
        add("parse_combined_config_files", 1, self.parse_combined_config_files)

    def parse_config(self, parser: str, text: str) -> Any:
        return _single(self._parse(parser, text, path=f"<{parser}>"))

    def parse_config_file(self, path: str) -> Any:
        where = self._resolve(path)
        return _single(self._parse(_parser_for(where), self._text(where), path=where))

    def parse_combined_config_files(self, paths: list[str]) -> list[dict[str, Any]]:
        combined = []
        for path in paths:
            where = self._resolve(path)
            for doc in self._parse(_parser_for(where), self._text(where), path=where):
                combined.append({"path": where, "contents": doc})
        return combined

    def _resolve(self, path: str) -> str:
        if not isinstance(path, str) or path.startswith("/"):
            raise ConfigFileError(f"{path!r}: must be a path relative to the test's folder")
        where = posixpath.normpath(posixpath.join(self.folder, path))
        if where == ".." or where.startswith("../"):
            raise ConfigFileError(f"{path}: leaves the repository")
        return where

    def _text(self, where: str) -> str:
        data = self.read(where)
        if data is None:
            raise ConfigFileError(f"{where}: no such file in the repository")
        try:
            return yamlio.decode(data, path=where)
        except ProblemsError as exc:
            raise ConfigFileError(str(exc)) from None

    def _parse(self, parser: str, text: str, *, path: str) -> list[Any]:
        try:
            if parser == "json":
                return [json.loads(text)]
            if parser == "toml":
                return [tomllib.loads(text)]
        except ValueError as exc:
            raise ConfigFileError(f"{path}: {exc}") from None
        if parser != "yaml":
            raise ConfigFileError(f"{path}: unknown parser {parser!r} (yaml, json or toml)")
        read = yamlio.load_all(text, path=path, limits=self._limits)
        if read.problems:
            raise ConfigFileError("; ".join(str(p) for p in read.problems))
        return [doc.data for doc in read.documents]


def _parser_for(path: str) -> str:
    ext = posixpath.splitext(path)[1].lower()
    return {".json": "json", ".toml": "toml", ".yml": "yaml", ".yaml": "yaml"}.get(ext, "yaml")


def _single(docs: list[Any]) -> Any:
    return docs[0] if len(docs) == 1 else docs


def tree_reader(tree: Tree) -> Reader:
    """A reader of `tree`'s files by repository path (the listing is taken once)."""
    entries = {entry.path: entry for entry in tree.entries()}

    def read(path: str) -> bytes | None:
        entry = entries.get(path)
        return None if entry is None else tree.read(entry)

    return read
