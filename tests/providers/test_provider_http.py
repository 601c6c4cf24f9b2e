"""The http provider against a real HTTP server on loopback: auth, redaction, methods."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from reconciler.providers import base
from reconciler.providers import http as http_provider
from tests.providers.conftest import raised

if TYPE_CHECKING:
    from tests.providers.conftest import JsonStore, MakeDocument

TOKEN = "s3cret-token-value"


@pytest.fixture
def provider() -> http_provider.HttpProvider:
    return http_provider.HttpProvider(base.ProviderSettings())


def test_a_bearer_token_from_the_environment_is_sent_and_never_shown(
    provider: http_provider.HttpProvider,
    json_store: JsonStore,
    make_document: MakeDocument,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STORE_TOKEN", TOKEN)
    json_store.token = TOKEN
    auth = {"bearerTokenEnv": "STORE_TOKEN"}
    good = make_document(
        "HttpResource",
        "web",
        {"url": f"{json_store.base_url}/items/web", "body": {"a": 1}, "auth": auth},
    )
    assert provider.apply(good) == {"a": 1, "id": "web"}
    assert json_store.requests[-1][2]["Authorization"] == f"Bearer {TOKEN}"
    broken = make_document(
        "HttpResource",
        "web",
        {"url": f"{json_store.base_url}/broken/web", "body": {"a": 1}, "auth": auth},
    )
    assert raised(provider.apply, broken, error=base.ProviderError) == (
        f"http provider: HttpResource//web: PUT {json_store.base_url}/broken/web returned 500: "
        '{"error": "store is broken", "authorization": "Bearer ***"}'
    )


def test_a_header_from_a_file_is_sent_and_a_rejected_one_is_redacted(
    provider: http_provider.HttpProvider,
    json_store: JsonStore,
    make_document: MakeDocument,
    tmp_path: Path,
) -> None:
    json_store.token, json_store.header_name = TOKEN, "X-Api-Key"
    secret = tmp_path / "api-key"
    secret.write_text(f"{TOKEN}\n")
    auth = {"headerFromFile": {"name": "X-Api-Key", "path": str(secret)}}
    resource = make_document(
        "HttpResource", "web", {"url": f"{json_store.base_url}/items/web", "auth": auth}
    )
    assert provider.observe(resource) is None
    assert json_store.requests[-1][2]["X-Api-Key"] == TOKEN
    secret.write_text("wrong-key-material")
    assert raised(provider.observe, resource, error=base.ProviderError) == (
        f"http provider: HttpResource//web: GET {json_store.base_url}/items/web returned 401: "
        '{"error": "unauthorised", "got": "***"}'
    )


def test_a_missing_token_variable_is_named(
    provider: http_provider.HttpProvider,
    json_store: JsonStore,
    make_document: MakeDocument,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("STORE_TOKEN", raising=False)
    resource = make_document(
        "HttpResource",
        "web",
        {"url": f"{json_store.base_url}/items/web", "auth": {"bearerTokenEnv": "STORE_TOKEN"}},
    )
    assert raised(provider.observe, resource, error=base.ProviderError) == (
        "http provider: HttpResource//web: environment variable STORE_TOKEN "
        "(spec.auth.bearerTokenEnv) is not set"
    )
    assert json_store.requests == []


def test_patch_merges_into_what_the_server_holds(
    provider: http_provider.HttpProvider, json_store: JsonStore, make_document: MakeDocument
) -> None:
    json_store.items["web"] = {"id": "web", "replicas": 1, "owner": "ops"}
    resource = make_document(
        "HttpResource",
        "web",
        {"url": f"{json_store.base_url}/items/web", "method": "PATCH", "body": {"replicas": 3}},
    )
    assert provider.apply(resource) == {"id": "web", "replicas": 3, "owner": "ops"}
    assert [r[0] for r in json_store.requests] == ["PATCH"]


def test_a_slow_server_times_out(
    provider: http_provider.HttpProvider, json_store: JsonStore, make_document: MakeDocument
) -> None:
    json_store.slow_seconds = 0.5
    resource = make_document(
        "HttpResource", "web", {"url": f"{json_store.base_url}/slow/web", "timeout": "100ms"}
    )
    assert raised(provider.observe, resource, error=base.ProviderTimeout) == (
        f"http provider: HttpResource//web: GET {json_store.base_url}/slow/web timed out after 0.1s"
    )


def test_credentials_in_the_url_are_redacted(
    provider: http_provider.HttpProvider, make_document: MakeDocument
) -> None:
    resource = make_document("HttpResource", "web", {"url": "http://admin:hunter2@127.0.0.1:9/x"})
    message = raised(provider.observe, resource, error=base.ProviderError)
    assert "hunter2" not in message
    assert message == (
        "http provider: HttpResource//web: GET http://***@127.0.0.1:9/x failed: "
        "[Errno 111] Connection refused"
    )


def test_the_auth_spec_must_choose_one_source(
    provider: http_provider.HttpProvider, make_document: MakeDocument
) -> None:
    resource = make_document("HttpResource", "web", {"url": "ftp://x", "auth": {}})
    assert raised(provider.observe, resource, error=base.ProviderSpecError) == "\n".join(
        [
            "resources/managed.yaml:1 spec.auth: set exactly one of bearerTokenEnv"
            " or headerFromFile (HttpResource//web, http provider)",
            "resources/managed.yaml:1 spec.url: must be an http:// or https:// URL "
            "(HttpResource//web, http provider)",
        ]
    )
