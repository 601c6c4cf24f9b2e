"""Workflow and Runbook specs: the documented formats validate, mistakes get short messages."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import yaml

from reconciler.specs import flows, kinds, types

WORKFLOW = """\
apiVersion: reconciler.dev/v1
kind: Workflow
metadata: {name: nightly-backup}
spec:
  description: Back up the config files every night.
  triggers:
    - cron: "0 2 * * *"
    - interval: 6h
    - git: {paths: ["resources/**"]}
    - webhook: {}
    - metric: {query: 'up{job="app"}', op: "<", value: 1, for: 5m}
    - violation: {binding: require-owner-labels}
    - manual: {}
  maxParallelism: 4
  timeout: 30m
  steps:
    - name: archive
      kind: command
      command: ["tar", "czf", "/tmp/backup.tgz", "/tmp/reconciler-example"]
      shell: false
      timeout: 5m
      retry: {maxAttempts: 3, backoff: 5s, maxBackoff: 1m, jitter: true}
      idempotent: true
    - name: verify
      dependsOn: [archive]
      command: ["tar", "tzf", "/tmp/backup.tgz"]
    - name: notify
      kind: http
      dependsOn: [verify]
      http:
        {method: POST, url: "http://127.0.0.1:9/hook",
         body: {status: "{{ steps.verify.status }}"}, expectStatus: [200]}
      always: true
  onFailure: [{name: alert, command: ["logger", "backup failed"]}]
"""

RUNBOOK = """\
apiVersion: reconciler.dev/v1
kind: Runbook
metadata: {name: disk-full}
spec:
  type: incident
  description: Free disk space on a host whose disk is full.
  variables:
    - {name: host, type: string, required: true, pattern: "^[a-z0-9.-]+$"}
    - {name: threshold, type: integer, default: 90}
  steps:
    - name: check-usage
      command: ["df", "-h", "{{ vars.host }}"]
      expect: {exitCode: 0, stdout: "Filesystem"}
      timeout: 30s
    - name: clean-tmp
      dependsOn: [check-usage]
      command: ["find", "/tmp", "-mtime", "+7", "-delete"]
      rollback: {command: ["true"]}
      retry: {maxAttempts: 2, backoff: 2s}
  dangerousCommands: {allow: false, reason: ""}
"""


def issues(kind: str, doc: dict[str, Any]) -> list[tuple[str, str]]:
    model, found = kinds.validate(kind, doc)
    assert (model is None) == bool(found)
    return [(".".join(map(str, loc)), message) for loc, message in found]


def changed(text: str, path: tuple[Any, ...], value: Any) -> Any:
    """The document in `text` with the value at `path` replaced by `value`."""
    doc = yaml.safe_load(text)
    target = doc
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return doc


def test_the_documented_workflow_validates() -> None:
    doc = yaml.safe_load(WORKFLOW)
    model, found = kinds.validate("Workflow", doc)
    assert found == [] and flows.step_issues(doc) == []
    assert isinstance(model, flows.Workflow)
    spec = model.spec
    assert [s.kind for s in spec.steps] == ["command", "command", "http"]
    assert spec.steps[0].retry == flows.Retry(
        max_attempts=3, backoff="5s", max_backoff="1m", jitter=True
    )
    assert spec.steps[2].http is not None and spec.steps[2].http.expect_status == [200]
    assert spec.triggers[4].metric == flows.MetricTrigger(
        query='up{job="app"}', op="<", value=1, for_="5m"
    )
    assert spec.on_failure[0].command == ["logger", "backup failed"]
    assert types.seconds(spec.timeout or "") == 1800


def test_the_documented_runbook_validates() -> None:
    doc = yaml.safe_load(RUNBOOK)
    model, found = kinds.validate("Runbook", doc)
    assert found == [] and flows.step_issues(doc) == []
    assert isinstance(model, flows.Runbook)
    assert model.spec.type is flows.RunbookType.INCIDENT
    assert model.spec.variables[1].default == 90
    assert model.spec.steps[1].rollback == flows.Rollback(command=["true"])


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            ("spec", "steps", 0, "timeout"),
            "5 min",
            ("spec.steps.0.timeout", 'must be a duration like "30s"'),
        ),
        (
            ("spec", "steps", 0, "timeout"),
            300,
            ("spec.steps.0.timeout", 'must be a duration like "30s"'),
        ),
        (
            ("spec", "steps", 0, "kind"),
            "ssh",
            (
                "spec.steps.0.kind",
                "must be one of: command, http, wait, decision, approval, subflow, runbook,"
                " reconcile, policy",
            ),
        ),
        (("spec", "steps", 2, "http"), None, ("spec.steps.2.http", "required when kind is http")),
        (
            ("spec", "steps", 1, "wait"),
            {"duration": "1s"},
            ("spec.steps.1.wait", "only allowed when kind is wait"),
        ),
        (
            ("spec", "steps", 0, "retry", "maxAttempts"),
            0,
            ("spec.steps.0.retry.maxAttempts", "must be >= 1"),
        ),
        (
            ("spec", "triggers", 0, "interval"),
            "6h",
            (
                "spec.triggers.0",
                "must have exactly one of: cron, interval, git, webhook, metric, anomaly,"
                " violation, manual, incident",
            ),
        ),
        (
            ("spec", "triggers", 0, "cron"),
            "daily",
            ("spec.triggers.0.cron", 'must be a cron expression like "0 2 * * *"'),
        ),
        (
            ("spec", "triggers", 4, "metric", "op"),
            "~",
            ("spec.triggers.4.metric.op", "must be one of: <, <=, >, >=, ==, !="),
        ),
        (("spec", "steps", 0, "command"), "tar czf x", ("spec.steps.0.command", "must be a list")),
        (("spec", "steps", 0, "comand"), ["x"], ("spec.steps.0.comand", "unknown key")),
        (("spec", "steps"), [], ("spec.steps", "must not be empty")),
        (
            ("metadata", "name"),
            "Bad Name!",
            ("metadata.name", "must match ^[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$"),
        ),
    ],
)
def test_workflow_mistakes_get_one_short_message(
    path: tuple[Any, ...], value: Any, expected: tuple[str, str]
) -> None:
    assert issues("Workflow", changed(WORKFLOW, path, value)) == [expected]


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            ("spec", "type"),
            "outage",
            (
                "spec.type",
                "must be one of: incident, deployment, maintenance,"
                " disaster-recovery, scaling, backup, security",
            ),
        ),
        (
            ("spec", "variables", 1, "default"),
            "ninety",
            ("spec.variables.1.default", "must be an integer"),
        ),
        (
            ("spec", "variables", 1, "default"),
            True,
            ("spec.variables.1.default", "must be an integer"),
        ),
        (
            ("spec", "variables", 1, "type"),
            "float",
            ("spec.variables.1.type", "must be one of: string, integer, number, boolean"),
        ),
        (
            ("spec", "variables", 0, "pattern"),
            "([",
            (
                "spec.variables.0.pattern",
                "must be a regular expression: unterminated character set at position 1",
            ),
        ),
        (
            ("spec", "dangerousCommands", "allow"),
            True,
            ("spec.dangerousCommands.reason", "required when allow is true"),
        ),
        (
            ("spec", "steps", 0, "expect", "exitCode"),
            "zero",
            ("spec.steps.0.expect.exitCode", "must be an integer"),
        ),
    ],
)
def test_runbook_mistakes_get_one_short_message(
    path: tuple[Any, ...], value: Any, expected: tuple[str, str]
) -> None:
    assert issues("Runbook", changed(RUNBOOK, path, value)) == [expected]


@pytest.mark.parametrize(
    ("kind", "value"),
    [("number", 1.5), ("number", 2), ("boolean", False), ("string", "x"), ("integer", -3)],
)
def test_variable_defaults_of_the_right_type_are_kept(kind: str, value: Any) -> None:
    variable = flows.Variable.model_validate({"name": "v", "type": kind, "default": value})
    assert variable.default == value


def test_step_issues_name_duplicates_missing_dependencies_and_cycles() -> None:
    doc = {
        "spec": {
            "steps": [
                {"name": "a", "dependsOn": ["c"]},
                {"name": "b", "dependsOn": ["a", "ghost"]},
                {"name": "c", "dependsOn": ["b"]},
                {"name": "a"},
            ],
            "onFailure": [{"name": "b"}, {"name": "self", "dependsOn": ["self"]}],
        }
    }
    assert flows.step_issues(doc) == [
        (("spec", "steps", 3, "name"), 'duplicate step "a", first at spec.steps[0]'),
        (("spec", "steps", 1, "dependsOn", 1), 'no step "ghost"'),
        (("spec", "steps"), "cycle: a -> c -> b -> a"),
        (("spec", "onFailure", 0, "name"), 'duplicate step "b", first at spec.steps[1]'),
        (("spec", "onFailure"), "cycle: self -> self"),
    ]


@pytest.mark.parametrize(
    "doc", [None, [], {"spec": []}, {"spec": {"steps": "x"}}, {"spec": {"steps": [1, {"name": 2}]}}]
)
def test_step_issues_ignore_shapes_the_models_report(doc: Any) -> None:
    assert flows.step_issues(doc) == []


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("250ms", 0.25), ("2d", 172800), ("1.5h", 5400)],
)
def test_durations_convert(text: str, seconds: float) -> None:
    assert types.is_duration(text)
    assert types.seconds(text) == seconds
    assert types.timedelta_of(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "30", "5 m", "1y", "-5s", "m", "1h 30m", "5s" * 40])
def test_bad_durations_are_refused(text: str) -> None:
    assert not types.is_duration(text)
    with pytest.raises(ValueError, match='must be a duration like "30s"'):
        types.seconds(text)
