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
        if args.dir is not None:
            raise UsageError(f"give either a directory ({args.dir}) or --repo, not both")
        return commit_tree(args)
    if args.rev is not None or args.cache_dir is not None:
        raise UsageError("--rev and --cache-dir need --repo")
    root = Path(args.dir or ".")
    if not root.is_dir():
        raise UsageError(f"{root}: not a directory")
    return tree.DirectoryTree(root, subpath=args.subpath)


def commit_tree(args: argparse.Namespace) -> Tree:
    """A commit of a local repository (read in place) or of a remote one (mirrored)."""
    remote = is_url(args.repo)
    # A mirror has no checked-out branch, so a URL defaults to the usual default branch.
    rev = args.rev or ("main" if remote else "HEAD")
    cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    where = {"url": args.repo} if remote else {"path": Path(args.repo)}
    config = SourceSettings(ref=rev, subpath=args.subpath, cache_dir=cache, **where)
    source = git.GitSource.open(config)
    source.fetch()
    return source.tree(source.resolve())


def is_url(location: str) -> bool:
    """`file://`, `https://`, `ssh://` ... or scp-like `git@host:org/repo.git`."""
    return "://" in location or (":" in location and "@" in location.split(":", 1)[0])
