"""Saved learners: the state of each optimization learner by name, as JSON text.

A learner (`reconciler.optimize.learner`) is saved after it learns and loaded when the
daemon starts, so what it learnt — and its random generator's position, which keeps its
choices deterministic — survives a restart. `sql.learners` holds the table and queries.
"""

from __future__ import annotations

from typing import Protocol


class Learners(Protocol):
    """The store's role for saved learners."""

    def save_learner(self, name: str, state: str) -> None:
        """Keep `state` as the learner `name`'s, replacing what was saved before."""
        ...

    def load_learner(self, name: str) -> str | None:
        """The saved state of the learner `name`; None when none was saved."""
        ...
