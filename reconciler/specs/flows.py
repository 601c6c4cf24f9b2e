"""pydantic models of the Workflow and Runbook kinds, and the checks that span their steps.

The models say what a valid spec looks like field by field (a command step needs
`command`, an http step needs `http`, a variable's default has the variable's type);
`step_issues` checks what spans steps (unique names, `dependsOn` naming real steps, no
cycles) and is run by the loader after the model validated. Running them lives elsewhere.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator
from pydantic_core import PydanticCustomError

from reconciler.specs import models, shellcode, types


def _regex(value: str | None) -> str | None:
    """`value` when it compiles as a regular expression (None passes)."""
    if value is not None:
        try:
            re.compile(value)
        except re.error as exc:
            raise PydanticCustomError(
                "pattern", "must be a regular expression: {error}", {"error": str(exc)}
            ) from None
    return value


class StepKind(StrEnum):
    """What a step does; each kind but `reconcile` needs the key of the same name."""

    COMMAND = "command"
    HTTP = "http"
    WAIT = "wait"
    DECISION = "decision"
    APPROVAL = "approval"
    SUBFLOW = "subflow"
    RUNBOOK = "runbook"
    RECONCILE = "reconcile"
    POLICY = "policy"


_OPTIONAL_PAYLOAD = frozenset({StepKind.RECONCILE})


class Retry(models.Model):
    """Exponential backoff: `backoff`, doubled per attempt up to `maxBackoff`.

    `on` lists when a failed attempt is retried, each an expression over `exitCode`
    (None unless a command ran), `timeout` (the attempt timed out) and `failed` (always
    true), e.g. `[timeout, "exitCode == 75"]`; empty means any failure.
    """

    max_attempts: int = Field(default=1, ge=1, le=100)
    backoff: types.Duration = "1s"
    max_backoff: types.Duration | None = None
    jitter: bool = True
    on: list[str] = Field(default_factory=list)


class HttpRequest(models.Model):
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url: str = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    expect_status: list[int] = Field(default_factory=lambda: [200])


class Wait(models.Model):
    """Wait `duration`, or until the expression `until` is true, checked every `interval`."""

    duration: types.Duration | None = None
    until: str | None = Field(default=None, min_length=1)
    interval: types.Duration = "5s"

    @model_validator(mode="after")
    def _duration_or_until(self) -> Wait:
        if (self.duration is None) == (self.until is None):
            raise PydanticCustomError("wait", "must have exactly one of: duration, until")
        return self


class DecisionOption(models.Model):
    name: types.Name
    description: str = ""
    next: list[str] = Field(default_factory=list, description="steps to run when chosen")


class DecisionSpec(models.Model):
    """Either branch on the expression `when` (`then` steps run when it is true, `else`
    steps when false; the other branch is skipped), or score the options (Rego rules of
    `policy` + outcome history) and pick one."""

    policy: str | None = Field(
        default=None,
        description="package of the rules scoring `options`"
        " (default: reconciler.decisions.workflow)",
    )
    options: list[DecisionOption] = Field(default_factory=list)
    approval: Literal["auto", "required", "confidence", "always-ask", "never-automatic"] = Field(
        default="confidence", description="how `options` decisions are approved (docs/decisions.md)"
    )
    when: str | None = Field(default=None, min_length=1)
    then: list[str] = Field(default_factory=list)
    else_: list[str] = Field(default_factory=list, alias="else")

    @model_validator(mode="after")
    def _when_or_options(self) -> DecisionSpec:
        if (self.when is None) == (not self.options):
            raise PydanticCustomError("decision", "must have exactly one of: when, options")
        return self


class Approval(models.Model):
    message: str = ""
    approvers: list[str] = Field(
        default_factory=list,
        description="token names or `role:<role>` (any token with at least that role); empty:"
        " anyone allowed to answer approvals",
    )
    timeout: types.Duration | None = Field(
        default=None, description="from the step's first start, kept across restarts"
    )
    on_timeout: Literal["reject", "approve"] = Field(
        default="reject", description="the answer an approval gets when `timeout` passes"
    )
    escalate: list[str] = Field(
        default_factory=list, description="notified when half the timeout has passed"
    )


class Subflow(models.Model):
    workflow: types.Name
    inputs: dict[str, Any] = Field(default_factory=dict)


class RunbookCall(models.Model):
    name: types.Name
    variables: dict[str, Any] = Field(default_factory=dict)


class Reconcile(models.Model):
    source: str | None = Field(default=None, description="the source to sync; None: all")
    scope: models.Scope = Field(default_factory=models.Scope)


class PolicyCheck(models.Model):
    policy: str = Field(min_length=1, description="Rego package, without `data.`")
    input: dict[str, Any] = Field(default_factory=dict)
    allow: list[str] = Field(default_factory=list, description="steps run only when allowed")
    deny: list[str] = Field(default_factory=list, description="steps run only when denied")


class JsonCheck(models.Model):
    """A value of the command's JSON stdout: `path` like `$.status` or `$.items[0].id`,
    which must exist (`exists: true`), be absent (`exists: false`) or equal `equals`."""

    path: str = Field(pattern=r"^\$(\.[A-Za-z_][A-Za-z0-9_-]*|\[\d+\])*$")
    equals: Any = None
    exists: bool | None = None


class Expect(models.Model):
    """Checks on a finished command; `stdout`/`stderr` are substrings to find,
    `stdoutRegex` a regular expression to search for, `json` checks on stdout as JSON."""

    exit_code: int | None = 0
    stdout: str | None = None
    stderr: str | None = None
    stdout_regex: str | None = None
    json_: list[JsonCheck] = Field(default_factory=list, alias="json")

    @field_validator("stdout_regex", mode="after")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        return _regex(value)


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _no_code_templates(command: list[str] | None) -> list[str] | None:
    """A template where an interpreter would parse it as code is refused (specs.shellcode)."""
    for index, why in shellcode.splices(command or [], shell=False):
        raise PydanticCustomError(
            "shell_code",
            "command[{index}]: a template in {why} would run as code; pass the value as an"
            ' argument after the script ("$1") or in env',
            {"index": index, "why": why},
        )
    return command


def _no_shell_templates(shell: bool, info: ValidationInfo) -> bool:
    command = info.data.get("command") or []
    for index, _ in shellcode.splices(command, shell=shell) if shell else []:
        raise PydanticCustomError(
            "shell_code",
            "command[{index}] holds a template, which the shell would parse as code: keep"
            ' the command line fixed and pass values in env ("$NAME")',
            {"index": index},
        )
    return shell


def _env_names(env: dict[str, str]) -> dict[str, str]:
    for name in env:
        if not _ENV_NAME.match(name):
            raise PydanticCustomError(
                "env", "{name!r} is not an environment variable name", {"name": name}
            )
        if shellcode.forbidden_env(name):
            raise PydanticCustomError(
                "env", "{name} changes which code runs and may not be set", {"name": name}
            )
    return env


class Step(models.Model):
    """One node of the DAG. The key named by `kind` holds what the step does."""

    name: types.Name
    kind: StepKind = StepKind.COMMAND
    depends_on: list[str] = Field(default_factory=list)
    command: list[str] | None = Field(default=None, min_length=1, validate_default=True)
    shell: bool = Field(default=False, description="run the command line through /bin/sh")
    env: dict[str, str] = Field(
        default_factory=dict,
        description="environment of the command; values may hold templates (data, never code)",
    )
    http: HttpRequest | None = Field(default=None, validate_default=True)
    wait: Wait | None = Field(default=None, validate_default=True)
    decision: DecisionSpec | None = Field(default=None, validate_default=True)
    approval: Approval | None = Field(default=None, validate_default=True)
    subflow: Subflow | None = Field(default=None, validate_default=True)
    runbook: RunbookCall | None = Field(default=None, validate_default=True)
    reconcile: Reconcile | None = Field(default=None, validate_default=True)
    policy: PolicyCheck | None = Field(default=None, validate_default=True)
    timeout: types.Duration | None = None
    retry: Retry | None = None
    idempotent: bool = False
    always: bool = Field(default=False, description="run even when a dependency failed")
    expect: Expect | None = Field(
        default=None, description="checks on a command step's result (default: exit code 0)"
    )

    _code = field_validator("command", mode="after")(_no_code_templates)
    _shell = field_validator("shell", mode="after")(_no_shell_templates)
    _env = field_validator("env", mode="after")(_env_names)

    @field_validator(*(kind.value for kind in StepKind), mode="after")
    @classmethod
    def _payload_fits_kind(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("kind")
        if kind is None:  # `kind` itself was invalid and is reported
            return value
        if value is None and info.field_name == kind and kind not in _OPTIONAL_PAYLOAD:
            raise PydanticCustomError("required", "required when kind is {kind}", {"kind": kind})
        if value is not None and info.field_name != kind:
            field = str(info.field_name)
            raise PydanticCustomError("kind", "only allowed when kind is {field}", {"field": field})
        return value


class GitTrigger(models.Model):
    paths: list[str] = Field(default_factory=list, description="globs; empty means any change")


class WebhookTrigger(models.Model):
    name: str | None = None


class MetricTrigger(models.Model):
    query: str = Field(min_length=1, description="PromQL")
    op: Literal["<", "<=", ">", ">=", "==", "!="]
    value: float
    for_: types.Duration | None = Field(default=None, alias="for")


class AnomalyTrigger(models.Model):
    """Start when the newest sample of a series is out of line with its recent past
    (a robust z-score against the lookback window; docs/workflows.md)."""

    query: str = Field(min_length=1, description="PromQL")
    lookback: types.PositiveDuration = Field(
        default="1h", description="the baseline: samples over this long before the newest"
    )
    step: types.PositiveDuration = Field(default="1m", description="the sampling step")
    threshold: float = Field(default=3.5, gt=0, description="modified z-score to cross")
    direction: Literal["above", "below", "both"] = "above"
    for_: types.Duration | None = Field(default=None, alias="for")


class ViolationTrigger(models.Model):
    binding: types.Name


class ManualTrigger(models.Model):
    pass


class IncidentTrigger(models.Model):
    """Start when an incident tool reports a new incident that matches (docs/workflows.md,
    "Incident triggers"); every condition given must hold."""

    source: Literal["pagerduty", "opsgenie"] | None = Field(
        default=None, description="the tool; unset: either"
    )
    service: list[str] = Field(
        default_factory=list,
        description="service names or ids (Opsgenie: the alert's entity); empty: any",
    )
    title: str | None = Field(
        default=None, description="a regular expression searched in the title"
    )
    urgency: list[str] = Field(
        default_factory=list,
        description="PagerDuty `high` / `low`, Opsgenie `P1`..`P5`; empty: any",
    )

    _title = field_validator("title", mode="after")(_regex)


class Trigger(models.Model):
    """What starts a workflow; each item has exactly one key."""

    cron: types.Cron | None = None
    interval: types.Duration | None = None
    git: GitTrigger | None = None
    webhook: WebhookTrigger | None = None
    metric: MetricTrigger | None = None
    anomaly: AnomalyTrigger | None = None
    violation: ViolationTrigger | None = None
    manual: ManualTrigger | None = None
    incident: IncidentTrigger | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Trigger:
        if len(self.model_fields_set) != 1:
            names = ", ".join(type(self).model_fields)
            raise PydanticCustomError(
                "trigger", "must have exactly one of: {names}", {"names": names}
            )
        return self


class WorkflowSpec(models.Model):
    description: str = ""
    triggers: list[Trigger] = Field(default_factory=list)
    max_parallelism: int = Field(default=4, ge=1)
    timeout: types.Duration | None = None
    steps: list[Step] = Field(min_length=1)
    on_failure: list[Step] = Field(default_factory=list)


class Workflow(models.Model):
    api_version: Literal["reconciler.dev/v1"]
    kind: Literal["Workflow"]
    metadata: models.Metadata
    spec: WorkflowSpec


class RunbookType(StrEnum):
    INCIDENT = "incident"
    DEPLOYMENT = "deployment"
    MAINTENANCE = "maintenance"
    DISASTER_RECOVERY = "disaster-recovery"
    SCALING = "scaling"
    BACKUP = "backup"
    SECURITY = "security"


class VariableType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"


_TYPE_CHECKS: dict[VariableType, tuple[tuple[type, ...], str]] = {
    VariableType.STRING: ((str,), "a string"),
    VariableType.INTEGER: ((int,), "an integer"),
    VariableType.NUMBER: ((int, float), "a number"),
    VariableType.BOOLEAN: ((bool,), "true or false"),
}


class Variable(models.Model):
    name: types.Name
    type: VariableType = VariableType.STRING
    description: str = ""
    required: bool = False
    pattern: str | None = None
    default: Any = None

    @field_validator("pattern", mode="after")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        return _regex(value)

    @field_validator("default", mode="before")
    @classmethod
    def _default_has_type(cls, value: Any, info: ValidationInfo) -> Any:
        kind = info.data.get("type")
        if value is None or kind is None:
            return value
        accepted, words = _TYPE_CHECKS[kind]
        is_bool = isinstance(value, bool)
        if not isinstance(value, accepted) or (is_bool and kind is not VariableType.BOOLEAN):
            raise PydanticCustomError("default", "must be {words}", {"words": words})
        return value


class Rollback(models.Model):
    command: list[str] = Field(min_length=1)
    shell: bool = False
    env: dict[str, str] = Field(default_factory=dict)
    timeout: types.Duration | None = None

    _code = field_validator("command", mode="after")(_no_code_templates)
    _shell = field_validator("shell", mode="after")(_no_shell_templates)
    _env = field_validator("env", mode="after")(_env_names)


class RunbookStep(Step):
    rollback: Rollback | None = None


class DangerousCommands(models.Model):
    """Allowing commands the safety policy flags is an override that must say why."""

    allow: bool = False
    reason: str = Field(default="", validate_default=True)

    @field_validator("reason", mode="after")
    @classmethod
    def _override_has_reason(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("allow") and not value.strip():
            raise PydanticCustomError("reason", "required when allow is true")
        return value


class RunbookSpec(models.Model):
    type: RunbookType
    description: str = ""
    variables: list[Variable] = Field(default_factory=list)
    timeout: types.Duration | None = None
    steps: list[RunbookStep] = Field(min_length=1)
    dangerous_commands: DangerousCommands = Field(default_factory=DangerousCommands)


class Runbook(models.Model):
    api_version: Literal["reconciler.dev/v1"]
    kind: Literal["Runbook"]
    metadata: models.Metadata
    spec: RunbookSpec


Loc = tuple[str | int, ...]


def step_issues(document: Any) -> list[tuple[Loc, str]]:
    """Problems spanning the steps of a Workflow or Runbook document, as (key path, message).

    Works on the document as parsed, so these are reported even when a field is invalid.
    """
    spec = document.get("spec") if isinstance(document, dict) else None
    if not isinstance(spec, dict):
        return []
    issues: list[tuple[Loc, str]] = []
    seen: dict[str, str] = {}
    for field in ("steps", "onFailure"):
        steps = _named_steps(spec.get(field))
        for index, (name, _) in steps.items():
            where = f"spec.{field}[{index}]"
            if name in seen:
                message = f'duplicate step "{name}", first at {seen[name]}'
                issues.append((("spec", field, index, "name"), message))
            seen.setdefault(name, where)
        issues += _dependency_issues(field, steps)
    return issues


def _named_steps(steps: Any) -> dict[int, tuple[str, list[Any]]]:
    """index -> (name, dependsOn) of the steps that have a string name."""
    if not isinstance(steps, list):
        return {}
    named: dict[int, tuple[str, list[Any]]] = {}
    for index, step in enumerate(steps):
        if isinstance(step, dict) and isinstance(step.get("name"), str):
            depends = step.get("dependsOn")
            named[index] = (step["name"], depends if isinstance(depends, list) else [])
    return named


def _dependency_issues(
    field: str, steps: dict[int, tuple[str, list[Any]]]
) -> list[tuple[Loc, str]]:
    names = {name for name, _ in steps.values()}
    issues: list[tuple[Loc, str]] = []
    graph: dict[str, list[str]] = {}
    for index, (name, depends) in steps.items():
        for dep_index, dep in enumerate(depends):
            if isinstance(dep, str) and dep not in names:
                issues.append((("spec", field, index, "dependsOn", dep_index), f'no step "{dep}"'))
        graph.setdefault(name, []).extend(d for d in depends if isinstance(d, str) and d in names)
    cycle = find_cycle(graph)
    if cycle:
        issues.append((("spec", field), "cycle: " + " -> ".join(cycle)))
    return issues


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """One cycle of `graph` (node -> the nodes it depends on), closed: `[a, b, a]`."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in graph:
        if state.get(start):
            continue
        path: list[str] = [start]
        iters = [iter(graph[start])]
        state[start] = 1
        while iters:
            nxt = next(iters[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iters.pop()
            elif state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                iters.append(iter(graph.get(nxt, [])))
    return None
