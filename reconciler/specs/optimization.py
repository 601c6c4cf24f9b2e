"""What the daemon may optimize: `optimization:` in `reconciler.yaml`.

The repository names each optimization (the Prometheus query it reads, the resource
field it changes, the metric that must not get worse) so that what the daemon tunes is
reviewed and versioned like any other change. `reconciler/optimize/` reads them
(docs/optimization.md).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from reconciler.specs.types import Duration, Model, PositiveDuration


class Weights(Model):
    """How much each objective counts when candidate values are compared."""

    cost: float = Field(default=1.0, ge=0, description="Weight of the value's cost.")
    performance: float = Field(
        default=1.0, ge=0, description="Weight of the share of samples near the value."
    )
    reliability: float = Field(
        default=1.0, ge=0, description="Weight of the share of samples above the value."
    )


class Target(Model):
    """The resource document an optimization edits."""

    kind: str = Field(min_length=1)
    name: str = Field(min_length=1)
    namespace: str | None = None


class Objective(Model):
    """The metric the regression test watches after a change lands."""

    query: str = Field(min_length=1, description="PromQL whose value must not get worse.")
    higher_is_worse: bool = True


class Sizing(Model):
    """Size a resource field from a utilisation percentile plus headroom."""

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9-]*$")
    resource: Target
    field: str = Field(
        min_length=1, description="Dotted path in the document, e.g. spec.desired.cpu."
    )
    query: str = Field(min_length=1, description="PromQL of the utilisation series.")
    lookback: PositiveDuration = "1h"
    step: PositiveDuration = "15s"
    percentile: float = Field(default=95, gt=0, le=100)
    headroom: float = Field(default=0.2, ge=0, description="Added above the percentile.")
    precision: int = Field(default=3, ge=0, le=9, description="Decimal places written.")
    min_change: float = Field(
        default=0.05, ge=0, description="Relative change below which nothing is proposed."
    )
    objective: Objective


class Interval(Model):
    """Tune the repository's reconcile `interval` from the daemon's own reconcile runs."""

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9-]*$")
    source: str = Field(min_length=1, description="The daemon source whose runs are read.")
    busy: float = Field(
        default=0.05, gt=0, le=1, description="Share of the time passes may take (p95)."
    )
    min: PositiveDuration = "30s"
    max: PositiveDuration = "1h"
    runs: int = Field(default=100, ge=3, description="Newest finished runs read.")
    min_change: float = Field(default=0.1, ge=0)
    objective: Objective


class Scaling(Model):
    """Tune an autoscaler's target utilisation and replica bounds from Prometheus series of
    its utilisation, its replicas and the latency it serves."""

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9-]*$")
    resource: Target
    target_field: str = Field(
        default="spec.targetUtilization", min_length=1, description="Dotted path of the target."
    )
    percent: bool = Field(
        default=False, description="The target is written in percent (70), not a share (0.7)."
    )
    min_field: str | None = Field(default="spec.minReplicas", description="None: not tuned.")
    max_field: str | None = Field(default="spec.maxReplicas", description="None: not tuned.")
    utilisation: str = Field(min_length=1, description="PromQL: mean utilisation, 0..1.")
    replicas: str = Field(min_length=1, description="PromQL: the replicas running.")
    latency: str = Field(min_length=1, description="PromQL: the latency served.")
    latency_objective: float = Field(gt=0, description="In the latency query's unit.")
    targets: list[float] = Field(
        default_factory=lambda: [0.5, 0.6, 0.7, 0.8, 0.9],
        min_length=1,
        description="Candidate target utilisations (shares).",
    )
    headroom: float = Field(default=0.2, ge=0, description="Above the peak demand, for max.")
    lookback: PositiveDuration = "1h"
    step: PositiveDuration = "15s"
    min_change: float = Field(default=0.05, ge=0)
    objective: Objective

    @field_validator("targets")
    @classmethod
    def _shares(cls, value: list[float]) -> list[float]:
        if any(not 0 < t <= 1 for t in value):
            raise ValueError("each target is a share of utilisation in (0, 1]")
        return sorted(set(value))


class WorkflowRuns(Model):
    """Tune a workflow's retry backoff (per step with a `retry`) and its `maxParallelism`
    from the daemon's own runs of it."""

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9-]*$")
    workflow: str = Field(min_length=1, description="metadata.name of the Workflow.")
    runs: int = Field(default=100, ge=3, description="Newest finished runs read.")
    min_change: float = Field(default=0.1, ge=0)
    objective: Objective


class Audit(Model):
    """Tune the repository's `auditInterval` from how often drift was found."""

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9-]*$")
    source: str = Field(min_length=1, description="The daemon source whose drift is read.")
    lookback: PositiveDuration = Field(default="7d", description="History of drift read.")
    standing: float = Field(
        default=0.1, gt=0, description="Drifts allowed to stand undetected, on average."
    )
    min: PositiveDuration = "1m"
    max: PositiveDuration = "6h"
    min_change: float = Field(default=0.1, ge=0)
    objective: Objective


class Learning(Model):
    """Let the learner choose among an optimizer's candidates from recorded outcomes."""

    enabled: bool = False
    seed: int = 0


class Regression(Model):
    """The before/after test run after an optimization lands."""

    window: PositiveDuration = Field(default="1h", description="Length of each window.")
    step: PositiveDuration = "15s"
    alpha: float = Field(default=0.01, gt=0, lt=1)
    min_effect: float = Field(default=0.05, ge=0)


class Recommendations(Model):
    """Policy recommendations read from the decision history (docs/optimization.md)."""

    window: PositiveDuration = Field(
        default="7d", description="How far back the decision history is read."
    )
    promote_below: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="A binding is promoted (monitor -> advisory -> gradual -> strict) when "
        "the share of its decisions in the window that were violations stayed below this.",
    )
    min_decisions: int = Field(
        default=20, ge=1, description="Decisions a binding needs in the window to be promoted."
    )
    ramp: PositiveDuration = Field(
        default="7d", description="The deadline of a binding promoted to gradual: now + this."
    )
    exception_after: int = Field(
        default=3,
        ge=1,
        description="An exception is proposed for a resource that violated in the window at "
        "least this often and whose remediation a human approved every time, at least this "
        "often.",
    )
    exception_for: PositiveDuration = Field(
        default="30d", description="How long a proposed exception lasts (its `expires`)."
    )
    approval: Literal["confidence", "auto", "required", "always-ask", "never-automatic"] = Field(
        default="required",
        description="The decision's approval override for recommendations: by default a "
        "human merges every change to the policies.",
    )


class PullRequests(Model):
    """Where proposals of a remote source are opened as pull (merge) requests."""

    forge: Literal["github", "gitlab"]
    repository: str = Field(
        min_length=1, description="owner/name on GitHub; the project's path or id on GitLab."
    )


class OptimizationSettings(Model):
    """`spec.optimization` of `reconciler.yaml`."""

    interval: Duration = Field(
        default="0s", description="How often optimization runs (0s: only on demand)."
    )
    approval: Literal["confidence", "auto", "required", "always-ask", "never-automatic"] = Field(
        default="confidence",
        description="The decision's approval override (docs/decisions.md): `auto` lets "
        "the daemon commit proposals without a strict denial to the watched branch.",
    )
    weights: Weights = Field(default_factory=Weights)
    regression: Regression = Field(default_factory=Regression)
    pull_requests: PullRequests | None = Field(
        default=None,
        description="For a remote source: where proposals are opened for review (the "
        "daemon's forges.<forge> gives the API and its token).",
    )
    sizing: list[Sizing] = Field(default_factory=list)
    intervals: list[Interval] = Field(default_factory=list)
    scaling: list[Scaling] = Field(default_factory=list)
    workflows: list[WorkflowRuns] = Field(default_factory=list)
    audits: list[Audit] = Field(default_factory=list)
    learning: Learning = Field(default_factory=Learning)
    recommendations: Recommendations | None = Field(
        default=None,
        description="Recommend policy changes from the decision history (absent: none).",
    )
