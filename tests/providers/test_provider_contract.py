"""One contract every provider keeps, run against each built-in provider on real state.

The file provider works on a temporary directory, the exec provider runs a real Python
program written below, the http provider talks to a real HTTP server on loopback.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from reconciler.providers import base, registry
from reconciler.providers import exec as exec_provider
from reconciler.providers import file as file_provider
from reconciler.providers import http as http_provider
from reconciler.specs.snapshot import Document

if TYPE_CHECKING:
    from tests.providers.conftest import JsonStore, MakeDocument

STORE_PROGRAM = """\
import json, pathlib, sys

request = json.load(sys.stdin)
resource = request["resource"]
name = resource["metadata"]["name"]
desired = resource["spec"].get("desired", {})
state = pathlib.Path("state")
state.mkdir(exist_ok=True)
(state / "last-request.json").write_text(json.dumps(request))
item = state / (name + ".json")
if desired.get("fail"):
    print("warming up", file=sys.stderr)
    print("cannot " + request["action"] + " " + name, file=sys.stderr)
    sys.exit(3)
if request["action"] == "observe":
    print(json.dumps({"observed": json.loads(item.read_text()) if item.exists() else None}))
elif request["action"] == "apply":
    item.write_text(json.dumps(dict(desired, pid=4242)))
    print(json.dumps({"ok": True}))
else:
    item.unlink(missing_ok=True)
    print(json.dumps({"ok": True}))
"""


@dataclass(frozen=True, kw_only=True)
class Harness:
    """A provider, its resources in two versions, and a resource that cannot be applied."""

    provider: base.Provider
    resource: Callable[[str, int], Document]
    broken: Document
    broken_message: str


def file_harness(tmp_path: Path, make_document: MakeDocument) -> Harness:
    root = tmp_path.resolve()
    settings = base.ProviderSettings(file=base.FileSettings(roots=(root,)))
    (root / "taken").mkdir()

    def resource(name: str, version: int) -> Document:
        spec = {
            "path": str(root / f"{name}.txt"),
            "content": f"version {version}\n",
            "mode": ["0640", "0600"][version - 1],
        }
        return make_document("File", name, spec)

    broken = make_document("File", "broken", {"path": str(root / "taken"), "content": "x"})
    return Harness(
        provider=file_provider.FileProvider(settings),
        resource=resource,
        broken=broken,
        broken_message=f"file provider: File//broken: {root}/taken is a directory",
    )


def exec_harness(tmp_path: Path, make_document: MakeDocument) -> Harness:
    (tmp_path / "providers").mkdir()
    (tmp_path / "providers" / "store.py").write_text(STORE_PROGRAM)
    settings = base.ProviderSettings(repository_dir=tmp_path)

    def resource(name: str, version: int) -> Document:
        desired = {"port": 8080 + version, "replicas": version, "labels": {"tier": "web"}}
        return make_document(
            "ExecResource", name, {"provider": "providers/store.py", "desired": desired}
        )

    broken = make_document(
        "ExecResource", "broken", {"provider": "providers/store.py", "desired": {"fail": True}}
    )
    return Harness(
        provider=exec_provider.ExecProvider(settings),
        resource=resource,
        broken=broken,
        broken_message="exec provider: ExecResource//broken: "
        "providers/store.py exited with status 3 during apply: cannot apply broken",
    )


def http_harness(store: JsonStore, make_document: MakeDocument) -> Harness:
    def resource(name: str, version: int) -> Document:
        body = {"replicas": version, "image": f"app:{version}", "labels": {"tier": "web"}}
        return make_document(
            "HttpResource", name, {"url": f"{store.base_url}/items/{name}", "body": body}
        )

    broken = make_document(
        "HttpResource", "broken", {"url": f"{store.base_url}/broken/1", "body": {"a": 1}}
    )
    message = (
        f"http provider: HttpResource//broken: PUT {store.base_url}/broken/1 returned "
        '500: {"error": "store is broken", "authorization": null}'
    )
    return Harness(
        provider=http_provider.HttpProvider(base.ProviderSettings()),
        resource=resource,
        broken=broken,
        broken_message=message,
    )


@pytest.fixture(params=["file", "exec", "http"])
def harness(request: pytest.FixtureRequest, tmp_path: Path, make_document: MakeDocument) -> Harness:
    if request.param == "file":
        return file_harness(tmp_path, make_document)
    if request.param == "exec":
        return exec_harness(tmp_path, make_document)
    return http_harness(request.getfixturevalue("json_store"), make_document)


def test_observing_what_was_never_applied_finds_nothing(harness: Harness) -> None:
    assert harness.provider.observe(harness.resource("web", 1)) is None


def test_applied_resource_observes_as_applied_and_normalises_to_the_desired_body(
    harness: Harness,
) -> None:
    resource = harness.resource("web", 1)
    applied = harness.provider.apply(resource)
    observed = harness.provider.observe(resource)
    assert observed == applied
    assert harness.provider.normalise(resource.body, observed) == resource.body


def test_applying_twice_changes_nothing(harness: Harness) -> None:
    resource = harness.resource("web", 1)
    first = harness.provider.apply(resource)
    second = harness.provider.apply(resource)
    assert second == first
    assert harness.provider.normalise(resource.body, second) == resource.body


def test_a_changed_spec_shows_as_drift_until_applied(harness: Harness) -> None:
    old, new = harness.resource("web", 1), harness.resource("web", 2)
    harness.provider.apply(old)
    before = harness.provider.observe(new)
    assert before is not None
    assert harness.provider.normalise(new.body, before) == old.body
    harness.provider.apply(new)
    after = harness.provider.observe(new)
    assert after is not None
    assert harness.provider.normalise(new.body, after) == new.body


def test_deleted_resource_is_gone_and_deleting_again_is_fine(harness: Harness) -> None:
    resource, other = harness.resource("web", 1), harness.resource("db", 1)
    harness.provider.apply(resource)
    harness.provider.apply(other)
    harness.provider.delete(resource)
    assert harness.provider.observe(resource) is None
    assert harness.provider.observe(other) is not None
    harness.provider.delete(resource)
    assert harness.provider.observe(resource) is None


def test_failures_name_the_provider_and_the_resource(harness: Harness) -> None:
    with pytest.raises(base.ProviderError) as caught:
        harness.provider.apply(harness.broken)
    assert str(caught.value) == harness.broken_message
    assert caught.value.key == harness.broken.key
    assert caught.value.provider == harness.provider.name


def test_every_built_in_is_registered_under_its_name(harness: Harness) -> None:
    assert registry.built_ins()[harness.provider.name] is type(harness.provider)
    assert harness.provider.capabilities == base.Capabilities(
        waits=harness.provider.name != "file",  # only the file provider works locally
    )


def test_the_exec_program_reads_the_request_envelope(
    tmp_path: Path, make_document: MakeDocument
) -> None:
    harness = exec_harness(tmp_path, make_document)
    resource = harness.resource("web", 1)
    harness.provider.observe(resource)
    request = json.loads((tmp_path / "state" / "last-request.json").read_text())
    assert request == {"action": "observe", "resource": resource.body}
