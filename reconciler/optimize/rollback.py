"""After an optimization lands: was its objective metric worse afterwards?

Once a landed proposal's regression window (`optimization.regression.window`) has passed,
the window before it landed and the window after are read from Prometheus and compared by
`regression.compare` (one-sided Mann-Whitney U plus a minimum effect). No regression: the
proposal is kept and its decision succeeded. A regression: its decision failed, and the
revert — the field set back to its old value — is proposed like any optimization (branch,
simulation, decision; committed when the level allows and nothing strictly denies it).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from reconciler.decide import ledger
from reconciler.decide.records import DecisionRecord, Outcome
from reconciler.events import EventType
from reconciler.optimize import learning, lifecycle, proposals, regression
from reconciler.optimize.records import State, announce, change_of, state_of, with_facts
from reconciler.run import triggers
from reconciler.specs import types


def check(
    record: DecisionRecord, *, ws: proposals.Workspace, prometheus: triggers.Prometheus
) -> DecisionRecord | None:
    """The revert's decision when `record` landed and regressed; None otherwise (the
    record is settled as kept when its window passed without a regression)."""
    if state_of(record) is not State.LANDED:
        return None
    settings = ws.settings.regression
    window = timedelta(seconds=types.seconds(settings.window))
    landed = datetime.fromisoformat(record.context.facts["landedAt"])
    now = ws.clock.now()
    if now < landed + window:
        return None
    change = change_of(record)
    step = types.seconds(settings.step)
    before = _series(prometheus, change.metric, start=landed - window, end=landed, step=step)
    after = _series(prometheus, change.metric, start=landed, end=landed + window, step=step)
    try:
        verdict = regression.compare(
            before,
            after,
            higher_is_worse=change.higher_is_worse,
            alpha=settings.alpha,
            min_effect=settings.min_effect,
        )
    except ValueError as exc:
        _save(ws, with_facts(record, note=f"regression test not run: {exc}"))
        return None
    learnt = change.learner
    reward = learning.feedback(ws.store, learnt, verdict) if learnt else None
    measured = {
        "reward": reward,
        "regressed": verdict.regressed,
        "pValue": verdict.p_value,
        "effect": verdict.effect,
        "beforeMedian": verdict.before_median,
        "afterMedian": verdict.after_median,
        "reason": verdict.reason,
        "before": before,
        "after": after,
    }
    if not verdict.regressed:
        kept = with_facts(record, state=State.KEPT.value, regression=measured)
        _save(ws, ledger.settled(kept, Outcome.SUCCEEDED, at=now, note=verdict.reason))
        return None
    revert = proposals.submit(
        change.reverted(
            reason=f"{change.metric} regressed after {change.subject}: {verdict.reason}"
        ),
        ws=ws,
        type="optimization-revert",
        revert_of=record.id,
    )
    state = State.REVERTED if revert.context.facts["state"] == State.LANDED else State.REGRESSED
    failed = with_facts(record, state=state.value, regression=measured, revert=revert.id)
    _save(ws, ledger.settled(failed, Outcome.FAILED, at=now, note=verdict.reason))
    return revert


def _series(
    prometheus: triggers.Prometheus, query: str, *, start: datetime, end: datetime, step: float
) -> list[float]:
    """The first series of `query` between `start` and `end` (none: empty)."""
    found = prometheus.query_window(query, start=start.timestamp(), end=end.timestamp(), step=step)
    return found[0] if found else []


def _save(ws: proposals.Workspace, record: DecisionRecord) -> None:
    lifecycle.save(ws.store, record, at=ws.clock.now())
    if record.settled_at is not None:
        announce(
            ws.bus,
            EventType.DECISION_SETTLED,
            record,
            at=ws.clock.now(),
            message=f"{record.outcome.value}: {record.note}",
        )
