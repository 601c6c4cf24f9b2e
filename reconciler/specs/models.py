"""pydantic models of the documents a repository holds.

Every YAML document has the Kubernetes envelope (`apiVersion`, `kind`, `metadata`, `spec`).
Keys are camelCase in YAML and snake_case in Python; unknown keys are errors in our own
kinds (a typo must not silently disable a rule) and allowed in foreign kinds, which are
kept as data. Workflow and Runbook models live in `specs/flows.py`.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from reconciler.specs import types
from reconciler.specs.decisions import DecisionSettings
from reconciler.specs.optimization import OptimizationSettings
from reconciler.specs.types import Model as Model

API_GROUP = "reconciler.dev"
API_VERSION = f"{API_GROUP}/v1"


class Metadata(Model):
    name: types.Name
    namespace: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)


class LabelExpression(Model):
    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] = Field(default_factory=list)


class LabelSelector(Model):
    """Kubernetes label selector: all `match_labels` and all `match_expressions` must hold."""

    match_labels: dict[str, str] = Field(default_factory=dict)
    match_expressions: list[LabelExpression] = Field(default_factory=list)


class Scope(Model):
    """Which resources something applies to; empty lists mean "any". Names are globs."""

    kinds: list[str] = Field(default_factory=list)
    namespaces: list[str] = Field(default_factory=list)
    excluded_namespaces: list[str] = Field(default_factory=list)
    names: list[str] = Field(default_factory=list)
    label_selector: LabelSelector | None = None


class Enforcement(StrEnum):
    """How a policy's findings gate a change."""

    STRICT = "strict"  # deny blocks the change
    ADVISORY = "advisory"  # deny is applied anyway, with a warning
    GRADUAL = "gradual"  # advisory until the deadline, strict after it
    MONITOR = "monitor"  # only recorded


class InputFormat(StrEnum):
    """The shape of `input` a policy expects."""

    RECONCILER = "reconciler"  # {"resource", "observed", "change", "revision", "parameters"}
    CONFTEST = "conftest"  # the resource document itself, as `conftest test` passes it


class RegoVersion(StrEnum):
    """The Rego syntax a module is read in."""

    V0 = "v0"  # OPA before 1.0: `deny[msg] { ... }`; keywords only by `import future.keywords`
    V1 = "v1"  # OPA 1.0 and later: `deny contains msg if { ... }`


class Gradual(Model):
    deadline: datetime


class PolicyException(Model):
    """Resources in `match` are exempt from the binding until `expires`."""

    name: str
    match: Scope
    reason: str = Field(min_length=1)
    expires: datetime | None = None


class RemediationOption(Model):
    """One thing a remediation may do: run a runbook or a workflow."""

    runbook: str | None = None
    workflow: str | None = None
    cost: float | None = Field(
        default=None, ge=0, description="What running it costs, in any unit the rules use."
    )

    @model_validator(mode="after")
    def _one_target(self) -> RemediationOption:
        if (self.runbook is None) == (self.workflow is None):
            raise ValueError("an option names exactly one of runbook or workflow")
        return self


class Remediation(Model):
    runbook: str | None = None
    workflow: str | None = None
    cost: float | None = Field(
        default=None, ge=0, description="What running the runbook or workflow above costs."
    )
    approval: Literal["auto", "required", "confidence", "always-ask", "never-automatic"] = Field(
        default="required",
        description="auto: no approval; required or always-ask: a human approves; confidence:"
        " the decision's confidence sets the level; never-automatic: an operator approves at"
        " best (docs/decisions.md).",
    )
    options: list[RemediationOption] = Field(
        default_factory=list,
        description="Alternatives to the runbook or workflow above, scored by the decision "
        "engine; the first one is tried first when scores tie.",
    )
    cooldown: types.PositiveDuration = Field(
        default="10m", description="Wait after an attempt before another for the same resource."
    )
    approvers: list[str] = Field(
        default_factory=list,
        description="Who may approve: token names or `role:<role>` (a token with at least that"
        " role). Empty: the role the decision's level asks for (admin or operator).",
    )
    timeout: types.PositiveDuration | None = Field(
        default=None, description="How long an approval waits (default: decisions.approvalTimeout)."
    )
    on_timeout: Literal["reject", "approve"] = Field(
        default="reject", description="What an unanswered approval becomes after `timeout`."
    )


class PolicyBindingSpec(Model):
    policy: str = Field(min_length=1, description="Rego package of the policy, without `data.`")
    input: InputFormat = InputFormat.RECONCILER
    scope: Scope = Field(default_factory=Scope)
    enforcement: Enforcement = Enforcement.STRICT
    gradual: Gradual | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)
    exceptions: list[PolicyException] = Field(default_factory=list)
    remediation: Remediation | None = None

    @model_validator(mode="after")
    def _gradual_needs_deadline(self) -> PolicyBindingSpec:
        if self.enforcement is Enforcement.GRADUAL and self.gradual is None:
            raise ValueError("enforcement gradual needs gradual.deadline")
        return self


class PolicyBinding(Model):
    api_version: Literal["reconciler.dev/v1"]
    kind: Literal["PolicyBinding"]
    metadata: Metadata
    spec: PolicyBindingSpec


class SettingsSpec(Model):
    """`reconciler.yaml`: repository-level settings, read again at every revision.

    `interval`, `auditInterval` and `selfHeal` give way to the daemon's configuration and
    command line (flag > daemon configuration > repository > default; docs/daemon.md).
    """

    interval: types.PositiveDuration = Field(
        default="5m",
        description="How often the daemon fetches and reconciles the source, new commit or "
        "not (drift correction). Overridden by `serve --interval` and `sources[].interval`.",
    )
    audit_interval: types.PositiveDuration = Field(
        default="10m",
        description="How often the daemon re-evaluates every policy over the observed state. "
        "Overridden by `serve --audit-interval` and `reconcile.auditInterval`.",
    )
    default_enforcement: Enforcement = Field(
        default=Enforcement.STRICT,
        description="Enforcement of policy bindings without `enforcement` and of Gatekeeper "
        "constraints without `enforcementAction`; not `gradual`, which needs a binding's "
        "deadline.",
    )
    self_heal: bool = Field(
        default=True,
        description="Put drifted objects back to what Git says (false: report drift only). "
        "Overridden by `serve --no-self-heal` and `reconcile.selfHeal`.",
    )
    prune: bool = Field(default=False, description="Delete objects that were removed from Git.")
    providers: dict[str, str] = Field(
        default_factory=dict, description="kind (or apiVersion/kind) -> provider name"
    )
    ignore_differences: list[dict[str, Any]] = Field(
        default_factory=list, description="Differences that never count as drift."
    )
    decisions: DecisionSettings = Field(
        default_factory=DecisionSettings,
        description="How the daemon scores its own decisions and how much it may do alone.",
    )
    optimization: OptimizationSettings = Field(
        default_factory=OptimizationSettings,
        description="What the daemon optimizes and how (docs/optimization.md).",
    )
    rego_versions: dict[str, RegoVersion] = Field(
        default_factory=dict,
        description="folder (e.g. policies/legacy) -> Rego version of the modules under it"
        " that import neither rego.v1 nor future.keywords",
    )

    @field_validator("default_enforcement")
    @classmethod
    def _default_is_not_gradual(cls, value: Enforcement) -> Enforcement:
        if value is Enforcement.GRADUAL:
            raise ValueError("cannot be gradual: a gradual binding needs its own deadline")
        return value


class RepoSettings(Model):
    api_version: Literal["reconciler.dev/v1"]
    kind: Literal["Settings"]
    metadata: Metadata
    spec: SettingsSpec = Field(default_factory=SettingsSpec)


def default_settings() -> RepoSettings:
    return RepoSettings.model_validate(
        {"apiVersion": API_VERSION, "kind": "Settings", "metadata": {"name": "default"}}
    )
