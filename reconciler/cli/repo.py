"""Open the repository a verb works on: a plain directory (uncommitted work included), or a
revision of a Git repository given by URL or path."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from reconciler.errors import UsageError
from reconciler.source import git, tree
from reconciler.source.revision import Tree
from reconciler.source.settings import SourceSettings


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reconciler" / "repos"


def open_tree(args: argparse.Namespace) -> Tree:
    """The tree named by `dir`, or by `--repo` + `--rev` (+ `--subpath`)."""
    if args.repo:
        cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
        where = {"url": args.repo} if is_url(args.repo) else {"path": Path(args.repo)}
        config = SourceSettings(ref=args.rev, subpath=args.subpath, cache_dir=cache, **where)
        source = git.GitSource.open(config)
        source.fetch()
        return source.tree(source.resolve())
    root = Path(args.dir)
    if not root.is_dir():
        raise UsageError(f"{root}: not a directory")
    return tree.DirectoryTree(root, subpath=args.subpath)


def is_url(location: str) -> bool:
    """`file://`, `https://`, `ssh://` ... or scp-like `git@host:org/repo.git`."""
    return "://" in location or (":" in location and "@" in location.split(":", 1)[0])
