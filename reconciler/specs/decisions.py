"""How the daemon decides on its own: `decisions:` in `reconciler.yaml`.

The repository carries these so that the autonomy a team grants the daemon is reviewed
and versioned like any other change. `reconciler/decide/` reads them.
"""

from __future__ import annotations

from datetime import time

from pydantic import Field, model_validator

from reconciler.specs.types import Model, PositiveDuration


class Weights(Model):
    """How the two parts of an option's score combine.

    `rules` is what the repository's rule score is worth in observed outcomes: the score
    becomes the prior mean of a Beta distribution with `rules` pseudo-outcomes, and every
    recorded outcome in the same context moves it. `history` scales the recorded outcomes
    (1: each counts as one; 0: history is ignored).
    """

    rules: float = Field(default=4.0, gt=0, description="Pseudo-outcomes a rule score is worth.")
    history: float = Field(default=1.0, ge=0, description="Weight of each recorded outcome.")


class Thresholds(Model):
    """Confidence at or above which each level applies (below `operator`: a human)."""

    operator: float = Field(default=0.70, ge=0, le=1, description="An operator approves.")
    notify: float = Field(default=0.85, ge=0, le=1, description="Automatic, with an event.")
    autonomous: float = Field(default=0.95, ge=0, le=1, description="Automatic, silently.")

    @model_validator(mode="after")
    def _ordered(self) -> Thresholds:
        if not self.operator <= self.notify <= self.autonomous:
            raise ValueError("thresholds must be operator <= notify <= autonomous")
        return self


class Window(Model):
    """A weekly time window in UTC, e.g. a maintenance window."""

    name: str = Field(min_length=1)
    days: list[int] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4, 5, 6],
        description="Weekdays, 0 = Monday ... 6 = Sunday.",
    )
    start: time
    end: time


class DecisionSettings(Model):
    """`spec.decisions` of `reconciler.yaml`."""

    weights: Weights = Field(default_factory=Weights)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    business_hours: Window = Field(
        default_factory=lambda: Window(
            name="business-hours", days=[0, 1, 2, 3, 4], start=time(9), end=time(17)
        ),
        description="When people are at work; a context outside it is `off-hours`.",
    )
    maintenance_windows: list[Window] = Field(
        default_factory=list, description="Windows in which changes are expected."
    )
    signals: dict[str, str] = Field(
        default_factory=dict,
        description="PromQL queries read when a decision is taken (the daemon's"
        " prometheus.url), e.g. `load` or `errorRate`: the first sample's value of each is in"
        " the context's facts.signals for the rules to weigh.",
    )
    concurrency: int = Field(
        default=3, ge=1, description="Remediation runs open at once; more violations wait."
    )
    approval_timeout: PositiveDuration = Field(
        default="1h", description="How long a decision waits for its approval by default."
    )
