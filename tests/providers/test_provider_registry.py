"""Finding the provider for a resource: built-ins, entry-point plugins, the kind mapping."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from reconciler.providers import base, registry
from reconciler.providers import file as file_provider

if TYPE_CHECKING:
    from tests.providers.conftest import MakeDocument

PLUGIN = """\
from reconciler.providers import base


class MemoryProvider:
    name = "memory"
    capabilities = base.Capabilities(waits=False)

    def __init__(self, settings):
        self.settings = settings
        self.objects = {}

    def observe(self, resource):
        return self.objects.get(resource.key)

    def normalise(self, resource_body, observed):
        return dict(resource_body, spec=observed)

    def apply(self, resource):
        self.objects[resource.key] = dict(resource.body["spec"])
        return self.objects[resource.key]

    def delete(self, resource):
        self.objects.pop(resource.key, None)
"""


def install_plugins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, entries: dict[str, str]
) -> None:
    """Make `entries` (name -> "module:attr") the installed `reconciler.providers` plugins."""
    (tmp_path / "memory_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    points = [
        importlib.metadata.EntryPoint(name=name, value=value, group=registry.GROUP)
        for name, value in entries.items()
    ]

    def entry_points(**selection: Any) -> list[importlib.metadata.EntryPoint]:
        assert selection == {"group": registry.GROUP}
        return points

    monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)


@pytest.fixture
def settings() -> base.ProviderSettings:
    return base.ProviderSettings()


def test_a_plugin_from_an_entry_point_manages_the_kinds_mapped_to_it(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    settings: base.ProviderSettings,
    make_document: MakeDocument,
) -> None:
    install_plugins(
        monkeypatch,
        tmp_path,
        {
            "memory": "memory_plugin:MemoryProvider",
            "file": "reconciler.providers.file:FileProvider",  # our own, listed in pyproject
        },
    )
    loaded = registry.Registry.load(settings)
    assert loaded.names == ("exec", "file", "http", "memory")
    widget = make_document("Widget", "w", {"size": 3}, api_version="example.com/v1")
    provider = loaded.resolve(widget, mapping={"Widget": "memory"})
    assert provider.name == "memory"
    assert provider.capabilities.waits is False
    assert provider.apply(widget) == {"size": 3}
    assert provider.observe(widget) == {"size": 3}


def test_api_version_and_kind_beat_kind_and_the_user_beats_the_defaults(
    settings: base.ProviderSettings, make_document: MakeDocument
) -> None:
    loaded = registry.Registry.load(settings, factories=registry.built_ins())
    ours = make_document("File", "a", {})
    theirs = make_document("File", "b", {}, api_version="example.com/v1")
    assert isinstance(loaded.resolve(ours, mapping={}), file_provider.FileProvider)
    mapping = {"example.com/v1/File": "http", "File": "exec"}
    assert loaded.resolve(theirs, mapping=mapping).name == "http"
    assert loaded.resolve(ours, mapping=mapping).name == "exec"


def test_an_unmapped_foreign_kind_has_no_provider(
    settings: base.ProviderSettings, make_document: MakeDocument
) -> None:
    loaded = registry.Registry.load(settings, factories=registry.built_ins())
    deployment = make_document(
        "Deployment",
        "web",
        {},
        api_version="apps/v1",
        namespace="prod",
        path="resources/web.yaml",
        line=4,
    )
    assert loaded.find(deployment, mapping={}) is None
    with pytest.raises(registry.UnknownProviderError) as caught:
        loaded.resolve(deployment, mapping={})
    assert str(caught.value) == (
        "resources/web.yaml:4 kind: no provider manages Deployment/prod/web: map kind "
        "Deployment (apps/v1) to one in reconciler.yaml spec.providers; known providers: "
        "exec, file, http"
    )


def test_a_kind_mapped_to_a_provider_that_is_not_installed_is_named(
    settings: base.ProviderSettings, make_document: MakeDocument
) -> None:
    loaded = registry.Registry.load(settings, factories=registry.built_ins())
    widget = make_document("Widget", "w", {}, api_version="example.com/v1")
    with pytest.raises(registry.UnknownProviderError) as caught:
        loaded.find(widget, mapping={"Widget": "widgets"})
    assert str(caught.value) == (
        "resources/managed.yaml:1 kind: Widget//w: kind Widget is mapped to provider "
        "'widgets', which is not installed; known providers: exec, file, http"
    )
    assert caught.value.known == ("exec", "file", "http")


def test_broken_and_clashing_plugins_name_themselves(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    install_plugins(monkeypatch, tmp_path, {"gone": "no_such_module:Provider"})
    with pytest.raises(registry.PluginError) as caught:
        registry.discover()
    assert str(caught.value) == (
        "provider plugin gone = 'no_such_module:Provider' could not be loaded: "
        "ModuleNotFoundError: No module named 'no_such_module'"
    )
    install_plugins(monkeypatch, tmp_path, {"file": "memory_plugin:MemoryProvider"})
    with pytest.raises(registry.PluginError) as caught:
        registry.discover()
    assert str(caught.value) == (
        "provider plugin file = 'memory_plugin:MemoryProvider' clashes with the provider "
        "already named file"
    )
