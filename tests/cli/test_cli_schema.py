"""`reconciler schema`: the list of our kinds, a JSON Schema per kind that accepts the
example's documents and rejects a broken one, and a clear error for an unknown kind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.cli.conftest import Cli

KINDS = ["ExecResource", "File", "PolicyBinding", "Runbook", "Settings", "Workflow"]


def example_documents(repo: Path, kind: str) -> list[dict[str, Any]]:
    found = []
    for path in sorted(repo.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == kind:
                found.append(doc)
    return found


def test_schema_lists_the_kinds(cli: Cli) -> None:
    done = cli("schema")
    assert (done.code, done.err) == (0, "")
    assert done.lines == sorted(done.lines)
    assert set(KINDS) <= set(done.lines)


@pytest.mark.parametrize("kind", ["PolicyBinding", "Workflow", "Runbook", "Settings"])
def test_a_kind_schema_accepts_the_example(cli: Cli, shared_example: Path, kind: str) -> None:
    done = cli("schema", kind)
    assert done.code == 0
    schema = json.loads(done.out)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["kind"]["const"] == kind
    assert schema["properties"]["apiVersion"]["const"] == "reconciler.dev/v1"
    assert {"apiVersion", "kind", "metadata"} <= set(schema["required"])
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    docs = example_documents(shared_example, kind)
    assert docs
    for doc in docs:
        assert [e.message for e in validator.iter_errors(doc)] == []


def test_the_binding_schema_rejects_an_unknown_enforcement(cli: Cli, shared_example: Path) -> None:
    validator = jsonschema.Draft202012Validator(json.loads(cli("schema", "PolicyBinding").out))
    binding = example_documents(shared_example, "PolicyBinding")[0]
    binding["spec"]["enforcement"] = "sometimes"
    assert [e.message for e in validator.iter_errors(binding)] == [
        "'sometimes' is not one of ['strict', 'advisory', 'gradual', 'monitor']"
    ]


def test_an_unknown_kind_is_one_line(cli: Cli) -> None:
    done = cli("schema", "Nope")
    assert (done.code, done.out) == (1, "")
    known = ", ".join(cli("schema").lines)
    assert done.err == f"error: unknown kind 'Nope'; known kinds: {known}\n"
