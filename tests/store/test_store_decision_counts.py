"""The `Store.decision_counts` contract: the decision log counted per policy, outcome and
time bucket, for the trend of violations over time."""

from __future__ import annotations

from datetime import timedelta

import pytest
import store_factories as f

from reconciler.policy.decisions import Outcome
from reconciler.store import interfaces


def test_counts_per_policy_outcome_and_bucket_leaving_out_older_and_empty_ones(
    store: interfaces.Store,
) -> None:
    store.append_decisions(
        [
            f.decision(policy="a", seconds=-1),  # before `since`: left out
            f.decision(policy="a", seconds=0),
            f.decision(policy="a", seconds=59.5, name="db"),
            f.decision(policy="a", seconds=60, outcome=Outcome.ALLOW),
            f.decision(policy="a", seconds=61),
            f.decision(policy="b", seconds=200, outcome=Outcome.WARN),
        ]
    )
    counts = store.decision_counts(since=f.at(0), bucket=timedelta(minutes=1))
    assert [(c.policy, c.outcome, c.bucket_start, c.count) for c in counts] == [
        ("a", Outcome.DENY, f.at(0), 2),
        ("a", Outcome.ALLOW, f.at(60), 1),
        ("a", Outcome.DENY, f.at(60), 1),
        ("b", Outcome.WARN, f.at(180), 1),
    ]


def test_an_empty_log_counts_nothing(store: interfaces.Store) -> None:
    assert store.decision_counts(since=f.at(0), bucket=timedelta(hours=1)) == []


def test_a_bucket_under_a_second_is_refused(store: interfaces.Store) -> None:
    with pytest.raises(ValueError, match="bucket must be at least one second"):
        store.decision_counts(since=f.at(0), bucket=timedelta(milliseconds=10))
