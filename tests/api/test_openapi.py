"""The OpenAPI document against the live server: schemathesis generates requests for every
documented JSON endpoint and checks each answer against the document (status documented,
content type, body schema) and that none is a server error. Runs on loopback against a real
daemon holding real data: the demo repository reconciled, a workflow run with an approval."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from reconciler.api import openapi
from tests import gitrepo
from tests.api import live

SKIPPED = ("/stream", "/suspend")
"""The stream never ends; suspending would stop the daemon the other calls look at."""
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def served_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[live.Live]:
    tmp = tmp_path_factory.mktemp("openapi")
    repo = tmp / "repo"
    live.demo_repo(repo, out=tmp / "out")
    gitrepo.commit(
        repo,
        {
            "workflows/hello.yaml": (
                "apiVersion: reconciler.dev/v1\nkind: Workflow\nmetadata: {name: hello}\n"
                "spec: {triggers: [{manual: {}}], steps: [{name: hi, command: ['true']}]}\n"
            )
        },
    )
    settings = live.settings_for(
        tmp / "data", {"name": "demo", "path": str(repo), "ref": "main", "interval": "1h"}
    )
    with live.serve(settings) as running:
        running.wait_for(lambda: running.passes("demo") >= 1, "the first reconcile")
        yield running


@pytest.fixture(scope="module")
def api_schema(served_api: live.Live) -> Any:
    return schemathesis.openapi.from_url(f"{served_api.base_url}/api/v1/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@hypothesis.settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(hypothesis.HealthCheck),
)
def test_every_endpoint_answers_as_documented(case: Any) -> None:
    if case.path.endswith(SKIPPED):
        return
    case.call_and_validate(checks=CHECKS)


def test_the_document_is_served_and_names_every_json_endpoint(served_api: live.Live) -> None:
    served = served_api.get("/api/v1/openapi.json").json()
    assert served["openapi"] == "3.0.3"
    routes = {getattr(r, "path", "") for r in served_api.server._server.config.app.routes}
    json_routes = {
        p.replace("{key:path}", "{key}").replace("{run_id:path}", "{run_id}")
        for p in routes
        if p.startswith(("/api/", "/webhooks/", "/healthz", "/readyz"))
    }
    assert json_routes - set(served["paths"]) == set()
    assert set(openapi.document()["components"]["schemas"]) <= set(served["components"]["schemas"])


def test_every_secured_operation_documents_401_and_403() -> None:
    for path, item in openapi.document()["paths"].items():
        for method, operation in item.items():
            if operation.get("security") == []:
                continue
            assert {"401", "403"} <= set(operation["responses"]), f"{method} {path}"


def test_the_document_validates_as_openapi_3() -> None:
    schemathesis.openapi.from_dict(openapi.document()).validate()
