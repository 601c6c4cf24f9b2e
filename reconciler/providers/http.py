"""The `http` provider: HttpResources are JSON objects behind a REST API.

`GET url` observes (404 means absent), `PUT` or `PATCH url` with `spec.body` applies,
`DELETE url` deletes. Credentials come from an environment variable or a file at request
time, never from the spec itself, and every message that could carry them (an error
body echoing a header, a URL with a password) is redacted before it leaves this module.
Requests go through `reconciler.httpclient`, which loads its HTTP client only once a
request is made, so loading the provider registry (every CLI verb that plans) does not.
Redirects are not followed: a 3xx answer is an error, like any other non-2xx but a 404.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from reconciler import httpclient
from reconciler.providers import base, validation
from reconciler.source.settings import redact_text
from reconciler.specs import kinds, types
from reconciler.specs.snapshot import Document

NAME = "http"
_EXCERPT = 200


class HttpProvider:
    """JSON objects behind a REST API, one URL per resource."""

    name = NAME
    capabilities = base.Capabilities()

    def __init__(self, settings: base.ProviderSettings) -> None:
        self._settings = settings

    def observe(self, resource: Document) -> dict[str, Any] | None:
        response = self._request(resource, method="GET")
        if response.status == 404:
            return None
        return self._object(resource, response)

    def normalise(self, resource_body: dict[str, Any], observed: dict[str, Any]) -> dict[str, Any]:
        desired: dict[str, Any] = dict(resource_body.get("spec") or {})
        desired["body"] = base.project(desired.get("body", {}), observed)
        return base.with_spec(resource_body, desired)

    def apply(self, resource: Document) -> dict[str, Any]:
        spec = self._spec(resource)
        response = self._request(resource, method=spec.method, body=spec.body)
        if response.body and isinstance(_json(response), dict):
            return self._object(resource, response)
        after = self.observe(resource)
        if after is None:
            raise self._error(resource, f"{spec.method} succeeded, but GET then found nothing")
        return after

    def delete(self, resource: Document) -> None:
        self._request(resource, method="DELETE")

    def _spec(self, resource: Document) -> kinds.HttpResourceSpec:
        return validation.parse_spec(kinds.HttpResourceSpec, provider=NAME, resource=resource)

    def _request(
        self, resource: Document, *, method: str, body: dict[str, Any] | None = None
    ) -> httpclient.Response:
        spec = self._spec(resource)
        headers, secrets = self._headers(resource, spec)
        try:
            response = httpclient.request(
                method,
                spec.url,
                headers=headers,
                json=body,
                timeout=self._timeout(spec),
                follow_redirects=False,
                secrets=secrets,
            )
        except httpclient.Timeout as error:
            detail = str(error)
            raise base.ProviderTimeout(provider=NAME, key=resource.key, detail=detail) from None
        except httpclient.HttpFailed as error:
            raise self._error(resource, str(error)) from None
        if response.ok or (response.status == 404 and method in ("GET", "DELETE")):
            return response
        excerpt = " ".join(response.text.split())[:_EXCERPT]
        detail = f"{method} {spec.url} returned {response.status}: {excerpt}"
        raise self._error(resource, redact_text(detail, secrets=secrets))

    def _headers(
        self, resource: Document, spec: kinds.HttpResourceSpec
    ) -> tuple[dict[str, str], tuple[str, ...]]:
        """Request headers, and the secret values in them that messages must never show."""
        headers = {"Accept": "application/json", **spec.headers}
        auth = spec.auth
        if auth is None:
            return headers, ()
        if auth.bearer_token_env is not None:
            token = os.environ.get(auth.bearer_token_env)
            if not token:
                raise self._error(
                    resource,
                    f"environment variable {auth.bearer_token_env} "
                    "(spec.auth.bearerTokenEnv) is not set",
                )
            headers["Authorization"] = f"Bearer {token}"
            return headers, (token,)
        assert auth.header_from_file is not None  # the model requires one of the two
        secret = self._read_secret(resource, auth.header_from_file.path)
        headers[auth.header_from_file.name] = secret
        return headers, (secret,)

    def _read_secret(self, resource: Document, path: str) -> str:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as error:
            raise self._error(
                resource, f"cannot read {path} (spec.auth.headerFromFile.path): {error.strerror}"
            ) from None

    def _object(self, resource: Document, response: httpclient.Response) -> dict[str, Any]:
        value = _json(response)
        if not isinstance(value, dict):
            shown = redact_text(f"{response.method} {response.url}")
            raise self._error(resource, f"{shown} returned no JSON object")
        return value

    def _timeout(self, spec: kinds.HttpResourceSpec) -> float:
        if spec.timeout is None:
            return self._settings.http.timeout
        return types.seconds(spec.timeout)

    def _error(self, resource: Document, detail: str) -> base.ProviderError:
        return base.ProviderError(provider=NAME, key=resource.key, detail=detail)


def _json(response: httpclient.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
