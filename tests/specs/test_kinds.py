"""The resource kinds at validate time: every spec a built-in provider accepts loads, and a
spec it refuses is refused when the revision is loaded, with the provider's words."""

from __future__ import annotations

import pytest

from reconciler.specs import loader
from tests.specs.conftest import MemoryTree

HEAD = "apiVersion: reconciler.dev/v1\nkind: {kind}\nmetadata: {{name: {name}}}\nspec:\n"


def load(kind: str, name: str, spec: str) -> list[str]:
    """The problems of a revision holding one resource of `kind` whose spec is `spec`."""
    text = HEAD.format(kind=kind, name=name) + spec
    snap = loader.load(MemoryTree({f"resources/{name}.yaml": text}))
    return [str(problem) for problem in snap.problems]


@pytest.mark.parametrize(
    ("kind", "spec"),
    [
        pytest.param(
            "File",
            "  path: /etc/motd\n  template: 'hello {{ vars.team }}'\n  vars: {team: web}\n",
            id="templated-file",
        ),
        pytest.param("File", "  path: /etc/legacy.conf\n  state: absent\n", id="absent-file"),
        pytest.param(
            "File", "  path: /var/cache/app\n  directory: true\n  mode: '0750'\n", id="directory"
        ),
        pytest.param(
            "ExecResource",
            "  provider: providers/svc.py\n  desired: {port: 8080}\n  timeout: 1m30s\n",
            id="exec-resource",
        ),
        pytest.param(
            "HttpResource",
            "  url: https://api.example.com/items/web\n  method: PATCH\n  body: {size: 2}\n"
            "  headers: {X-Team: web}\n  auth: {bearerTokenEnv: API_TOKEN}\n  timeout: 5s\n",
            id="http-resource",
        ),
    ],
)
def test_every_spec_a_provider_supports_validates(kind: str, spec: str) -> None:
    assert load(kind, "x", spec) == []


@pytest.mark.parametrize(
    ("kind", "spec", "expected"),
    [
        pytest.param(
            "File",
            "  path: /etc/motd\n  content: hi\n  mode: 0644\n",
            [
                'resources/x.yaml:7 spec.mode: must be a quoted octal string like "0644" '
                "(YAML reads 0644 unquoted as a number)"
            ],
            id="unquoted-mode",
        ),
        pytest.param(
            "File",
            "  path: ../etc/motd\n  content: hi\n",
            [
                "resources/x.yaml:5 spec.path: must be an absolute path, or a relative one "
                'without ".." (inside the daemon\'s <data-dir>/files)'
            ],
            id="relative-path-leading-out",
        ),
        pytest.param(
            "File",
            "  path: /etc/motd\n  content: hi\n  template: hi\n",
            ["resources/x.yaml:4 spec: set content or template, not both"],
            id="content-and-template",
        ),
        pytest.param(
            "File",
            "  path: /etc/motd\n",
            ["resources/x.yaml:4 spec: set content or template"],
            id="present-without-content",
        ),
        pytest.param(
            "File",
            "  path: /var/cache/app\n  directory: true\n  content: hi\n",
            ["resources/x.yaml:4 spec: a directory has no content"],
            id="directory-with-content",
        ),
        pytest.param(
            "ExecResource",
            "  provider: p.py\n  timeout: 0s\n",
            ['resources/x.yaml:6 spec.timeout: must be a duration like "30s"'],
            id="zero-timeout",
        ),
        pytest.param(
            "HttpResource",
            "  url: ftp://x\n  auth: {}\n  method: POST\n",
            [
                "resources/x.yaml:5 spec.url: must be an http:// or https:// URL",
                "resources/x.yaml:6 spec.auth: set exactly one of bearerTokenEnv or headerFromFile",
                "resources/x.yaml:7 spec.method: must be one of: PUT, PATCH",
            ],
            id="http-resource",
        ),
    ],
)
def test_a_spec_a_provider_refuses_fails_validation(
    kind: str, spec: str, expected: list[str]
) -> None:
    assert load(kind, "x", spec) == expected
