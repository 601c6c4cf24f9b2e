"""Open the repository a verb works on: a plain directory (uncommitted work included), or a
revision of a Git repository given by URL or path."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from reconciler.errors import UsageError
from reconciler.source import git, tree
from reconciler.source.revision import Tree


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reconciler" / "repos"


def open_tree(args: argparse.Namespace) -> Tree:
    """The tree named by `dir`, or by `--repo` + `--rev` (+ `--subpath`)."""
    if args.repo:
        cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
        source = git.GitSource.open(args.repo, cache_dir=cache)
        source.fetch()
        revision = source.resolve(args.rev)
        return source.tree(revision, subpath=args.subpath)
    root = Path(args.dir)
    if not root.is_dir():
        raise UsageError(f"{root}: not a directory")
    return tree.DirectoryTree(root, subpath=args.subpath)
