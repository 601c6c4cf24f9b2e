"""The records of a decision: its context, its options, their scores, the choice and the
level of approval it needs. Plain frozen data, stored as JSON and shown as they are."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Level(StrEnum):
    """How much the daemon may do alone, from the lowest to the highest."""

    HUMAN = "human"  # a human with the required role approves
    OPERATOR = "operator"  # an operator approves
    NOTIFY = "notify"  # done automatically, with a notification event
    AUTONOMOUS = "autonomous"  # done automatically


class Outcome(StrEnum):
    """What became of a decision."""

    PENDING = "pending"  # waiting for an approval or for its run
    SUCCEEDED = "succeeded"  # the chosen option ran and the problem is gone
    FAILED = "failed"  # the chosen option ran and did not fix the problem
    REJECTED = "rejected"  # a human said no
    EXPIRED = "expired"  # nobody answered in time; the default action was taken
    SKIPPED = "skipped"  # not started (deduplicated, cooling down, at capacity)


@dataclass(frozen=True)
class Option:
    """One thing the decision may choose: `kind` is runbook, workflow or action."""

    kind: str
    target: str

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.target}"


@dataclass(frozen=True)
class Context:
    """What the decision is about and the circumstances it is taken in.

    `bucket` is the part of the context that outcomes are grouped by: an option's history
    in the same bucket is the evidence for it.
    """

    type: str
    subject: str
    kind: str = ""
    binding: str = ""
    policy: str = ""
    window: str = ""
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def bucket(self) -> str:
        return "|".join((self.type, self.kind, self.window))


@dataclass(frozen=True)
class Score:
    """One option's score, its two parts kept apart with their reasons.

    `rule` is the repository's score (None: no rule scored it) and `prior` the mean it
    gave the Beta prior; `successes`/`failures` are the recorded outcomes in the bucket;
    `combined` is the posterior mean, the estimated chance that the option succeeds.
    """

    option: Option
    rule: float | None
    rule_reasons: tuple[str, ...]
    prior: float
    successes: float
    failures: float
    combined: float
    history_reason: str


@dataclass(frozen=True)
class Choice:
    """The scored options, the option chosen and how sure the daemon is of it.

    `confidence` is the estimated chance that `chosen` succeeds; `margin` its lead over
    the next option, `evidence` the outcomes recorded for it, `p_best` the chance that it
    really is the best option (sampled from the posteriors).
    """

    scores: tuple[Score, ...]
    chosen: Option | None
    confidence: float
    margin: float
    evidence: float
    p_best: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DecisionRecord:
    """Everything about one decision, as stored and shown: its context, the scored
    options and choice, the level, who approved it and how it turned out, with an
    explanation generated from those fields."""

    id: str
    at: str
    context: Context
    options: tuple[Option, ...]
    choice: Choice
    level: Level
    approval: str
    explanation: str
    rule_problem: str | None = None
    approver: str | None = None
    outcome: Outcome = Outcome.PENDING
    run_id: str | None = None
    settled_at: str | None = None
    note: str = ""  # how the outcome was established (confirmation, rejection, timeout)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
