"""Policy recommendations in an optimization run: what `policies.py` reads from the
decision history, proposed through the one proposal path (`proposals.submit`: a commit on
a branch, its simulation, a decision of type `recommendation`), under the approval of
`optimization.recommendations.approval` (by default a human merges every policy change)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from reconciler.decide.records import DecisionRecord
from reconciler.errors import ReconcilerError
from reconciler.optimize import policies, proposals
from reconciler.specs.snapshot import Snapshot

TYPE = "recommendation"


@dataclass(frozen=True, kw_only=True)
class Recommended:
    proposals: tuple[DecisionRecord, ...] = ()
    skipped: tuple[str, ...] = ()
    flagged: tuple[str, ...] = ()


def run(snap: Snapshot, *, ws: proposals.Workspace) -> Recommended:
    """Propose every recommendation of `snap`'s `optimization.recommendations` (none when
    the repository does not ask for them)."""
    settings = ws.settings.recommendations
    if settings is None:
        return Recommended()
    found = policies.recommend(snap, store=ws.store, settings=settings, now=ws.clock.now())
    ws = replace(ws, settings=ws.settings.model_copy(update={"approval": settings.approval}))
    made, skipped = [], list(found.skipped)
    for change in found.changes:
        try:
            made.append(proposals.submit(change, ws=ws, type=TYPE))
        except ReconcilerError as exc:
            skipped.append(f"{change.subject}: {exc}")
    return Recommended(proposals=tuple(made), skipped=tuple(skipped), flagged=found.flagged)
