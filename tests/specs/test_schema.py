"""JSON Schema per kind, generated from the models that validate the documents."""

from __future__ import annotations

import pytest

from reconciler.errors import UsageError
from reconciler.specs import kinds, schema


def test_kinds_lists_our_own_kinds_sorted() -> None:
    assert schema.kinds() == [
        "ExecResource",
        "File",
        "HttpResource",
        "PolicyBinding",
        "Runbook",
        "Settings",
        "Workflow",
    ]


@pytest.mark.parametrize("kind", sorted(kinds.KINDS))
def test_each_schema_uses_the_yaml_key_names(kind: str) -> None:
    result = schema.json_schema(kind)
    assert result["type"] == "object"
    assert {"apiVersion", "kind", "metadata"} <= set(result["properties"])
    assert result["additionalProperties"] is False


def test_the_workflow_schema_describes_durations_and_step_kinds() -> None:
    result = schema.json_schema("Workflow")
    step = result["$defs"]["Step"]["properties"]
    assert step["timeout"]["anyOf"][0]["pattern"] == r"^(\d+(\.\d+)?(ms|s|m|h|d))+$"
    assert "dependsOn" in step
    assert result["$defs"]["StepKind"]["enum"][0] == "command"
    assert "for" in result["$defs"]["MetricTrigger"]["properties"]


def test_an_unknown_kind_is_a_usage_error_listing_the_known_ones() -> None:
    with pytest.raises(UsageError) as caught:
        schema.json_schema("Deployment")
    assert str(caught.value) == (
        "unknown kind 'Deployment'; known kinds: ExecResource, File, HttpResource, PolicyBinding,"
        " Runbook, Settings, Workflow"
    )
