"""The result of one reconcile pass, shared by the controller's modules.

It lives apart so that the modules that build it (`passes`), record it (`records`,
`recording`) and return it (`controller`) all import it from below, and none of them
imports another to reach it.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.reconcile import resources


@dataclass(frozen=True, kw_only=True)
class PassResult:
    revision: str
    outcomes: tuple[resources.Outcome, ...]
    orphans: tuple[str, ...]
    error: str | None = None
    settled: int = 0  # objects in sync without an outcome of their own (not planned)
    incremental: bool = False  # only what changed since the previous revision was reconciled
    # Documents of the revision that stand in violation of a policy outside the gate.
    violations: int = 0

    def count(self, result: resources.Result) -> int:
        found = sum(1 for o in self.outcomes if o.result is result)
        return found + (self.settled if result is resources.Result.UNCHANGED else 0)
