"""Real git repositories for tests, made with the git command line.

`make_repo(path, files)` creates a repository with one commit and returns its sha;
`commit(path, files, delete=...)` adds the next one. File values are text, bytes or a
`Symlink`. Git runs with a fixed identity and date and without the user's or the system's
configuration, so every test sees the same git.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

DATE = "2026-01-01T00:00:00+00:00"
AUTHOR = "Test Author <author@example.com>"


@dataclass(frozen=True)
class Symlink:
    """A symbolic link to write instead of a file; `target` is the link text."""

    target: str


@dataclass(frozen=True)
class Executable:
    """A file to write with its executable bits set (git records mode 100755)."""

    text: str


FileContent = str | bytes | Symlink | Executable


def git_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "Test Author",
        "GIT_AUTHOR_EMAIL": "author@example.com",
        "GIT_COMMITTER_NAME": "Test Author",
        "GIT_COMMITTER_EMAIL": "author@example.com",
        "GIT_AUTHOR_DATE": DATE,
        "GIT_COMMITTER_DATE": DATE,
    }
    return {**env, **(extra or {})}


def git(repo_path: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    """Run git in `repo_path`; its stdout, stripped. Raises with stderr on failure."""
    done = subprocess.run(
        ["git", *args], cwd=repo_path, env=git_env(env), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout.strip()


def write_files(root: Path, files: Mapping[str, FileContent]) -> None:
    """Write `files` (POSIX paths relative to `root`) into a folder, making parents."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink() or path.exists():
            path.unlink()
        if isinstance(content, Symlink):
            path.symlink_to(content.target)
        elif isinstance(content, Executable):
            path.write_text(content.text)
            path.chmod(0o755)
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def make_repo(
    path: Path, files: Mapping[str, FileContent], *, message: str = "initial", branch: str = "main"
) -> str:
    """A new repository at `path` with `files` committed on `branch`; the commit's sha."""
    path.mkdir(parents=True, exist_ok=True)
    git(path, "init", "--quiet", f"--initial-branch={branch}")
    return commit(path, files, message=message)


def commit(
    repo_path: Path,
    files: Mapping[str, FileContent],
    *,
    delete: Iterable[str] = (),
    message: str = "change",
    sign: bool = False,
    config: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Commit `files` (and the removal of `delete`) to the current branch; the new sha.

    `sign` adds `-S`; `config` are `-c key=value` options (e.g. `gpg.format=ssh`), `env`
    extra environment (e.g. `GNUPGHOME`).
    """
    write_files(repo_path, files)
    for name in delete:
        target = repo_path / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        else:
            target.unlink()
    git(repo_path, "add", "--all", env=env)
    options = [arg for key, value in (config or {}).items() for arg in ("-c", f"{key}={value}")]
    signing = ["-S"] if sign else []
    git(repo_path, *options, "commit", "--quiet", "--allow-empty", *signing, "-m", message, env=env)
    return git(repo_path, "rev-parse", "HEAD")


def tag(repo_path: Path, name: str, *, message: str | None = None, rev: str = "HEAD") -> None:
    """A lightweight tag, or an annotated one when `message` is given."""
    annotated = ["-a", "-m", message] if message is not None else []
    git(repo_path, "tag", *annotated, name, rev)
