"""One error root for the whole package, with kinds that say how to handle a failure.

Callers branch on the kind, never on the message: a `StalledError` needs a change in Git
(retrying will not help), a `TransientError` is retried with backoff, a `WaitingError`
carries the delay after which a retry may succeed. User-facing problems in a revision are
collected as `Problem` records (file, line, key path, message) so one report lists them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True, order=True)
class Problem:
    """One user-facing problem in a file: rendered as `path:line key.path: message`."""

    path: str
    line: int | None = None
    key: str = ""
    message: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where} {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


def sort_key(problem: Problem) -> tuple[str, int, str, str]:
    """Order problems by file, then line (file-level problems first), key and message."""
    return (problem.path, problem.line or 0, problem.key, problem.message)


class ReconcilerError(Exception):
    """Root of every error this package raises on purpose."""


class StalledError(ReconcilerError):
    """The input is wrong: only a change to the spec, policy or settings can fix it."""


class TransientError(ReconcilerError):
    """A passing failure (network, lock, timeout): retry with backoff."""


class WaitingError(ReconcilerError):
    """Not ready yet; retry after `retry_after` seconds."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProblemsError(StalledError, ValueError):
    """A revision (or a single file) holds one or more user-facing problems."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems: Sequence[Problem] = tuple(sorted(problems, key=sort_key))
        super().__init__("\n".join(str(p) for p in self.problems))


class SourceError(TransientError, OSError):
    """A repository could not be opened, cloned or fetched."""


class RevisionNotFound(StalledError, LookupError):
    """A branch, tag or commit named by the user does not exist in the repository."""


class SignatureError(StalledError, PermissionError):
    """A revision is unsigned or signed by a key that is not trusted."""


class PolicyError(StalledError, ValueError):
    """Rego could not be parsed, compiled or evaluated."""


class UsageError(StalledError, ValueError):
    """The command line or settings are wrong."""
