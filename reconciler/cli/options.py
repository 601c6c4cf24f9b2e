"""Options several verbs share: where the repository comes from, and the output format."""

from __future__ import annotations

import argparse


def add_source_options(parser: argparse.ArgumentParser) -> None:
    """Where the repository comes from: a directory (default), or a Git URL/path and revision."""
    parser.add_argument("dir", nargs="?", help="repository directory (default: .)")
    parser.add_argument("--repo", help="Git URL or path to read a commit from instead of DIR")
    parser.add_argument(
        "--rev", help="branch, tag or commit with --repo (default: HEAD of a path, main of a URL)"
    )
    parser.add_argument("--subpath", default="", help="folder inside the repository")
    parser.add_argument(
        "--cache-dir", help="where --repo URLs are cloned (default: ~/.cache/reconciler/repos)"
    )


def add_format(parser: argparse.ArgumentParser, *choices: str) -> None:
    parser.add_argument("--format", choices=choices, default=choices[0], help="output format")
