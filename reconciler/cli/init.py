"""`reconciler init DIR`: start a new repository from the bundled example, with a first commit."""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from reconciler import assets
from reconciler.errors import UsageError
from reconciler.source import git

_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc")


def declare(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", help="directory to create (must not exist or be empty)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    target = Path(args.dir)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"{target}: already exists and is not an empty directory")
    shutil.copytree(assets.template_dir(), target, ignore=_SKIP, dirs_exist_ok=True)
    sha = git.init_and_commit(target, message="Initial commit from reconciler init")
    print(f"created {target} at {sha[:12]}")
    print(f"next: reconciler validate {target}; reconciler eval {target}; reconciler test {target}")
    return 0
