from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reconciler import conditions as c

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def cond(type_: str, status: c.ConditionStatus, at: datetime, reason: str = "R") -> c.Condition:
    return c.Condition(
        type=type_,
        status=status,
        reason=reason,
        message="m",
        observed_revision="abc",
        last_transition_time=at,
    )


def test_set_condition_keeps_transition_time_when_status_is_unchanged() -> None:
    first = c.set_condition((), cond(c.Type.DRIFTED, c.ConditionStatus.TRUE, T0))
    again = c.set_condition(first, cond(c.Type.DRIFTED, c.ConditionStatus.TRUE, T0 + timedelta(1)))
    assert [x.last_transition_time for x in again] == [T0]
    flipped = c.set_condition(
        again, cond(c.Type.DRIFTED, c.ConditionStatus.FALSE, T0 + timedelta(2))
    )
    assert [x.last_transition_time for x in flipped] == [T0 + timedelta(2)]


def test_ready_is_false_naming_the_first_failure_and_true_without_failures() -> None:
    failing = (cond(c.Type.POLICY_DENIED, c.ConditionStatus.TRUE, T0, c.Reason.DENIED_BY_POLICY),)
    summary = c.summarise_ready(failing, revision="abc", at=T0)
    ready = next(x for x in summary if x.type == c.Type.READY)
    assert (ready.status, ready.reason) == (c.ConditionStatus.FALSE, c.Reason.DENIED_BY_POLICY)
    cleared = c.summarise_ready(
        c.remove_condition(summary, c.Type.POLICY_DENIED), revision="abc", at=T0
    )
    assert [(x.type, x.status) for x in cleared] == [(c.Type.READY, c.ConditionStatus.TRUE)]
