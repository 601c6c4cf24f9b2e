"""Which provider manages a resource: the built-ins plus providers installed as plugins.

Plugins register a factory (usually the provider class; it is called with the
`ProviderSettings`) under the entry-point group `reconciler.providers`; the entry point's
name is the provider's name. A repository maps kinds to provider names in
`reconciler.yaml` (`spec.providers`, keys `kind` or `apiVersion/kind`, the longer key
winning); `DEFAULT_MAPPING` covers our own kinds. Foreign kinds nobody maps are data for
policies only: `find` returns None for them, `resolve` raises.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType

from reconciler.children import ChildLedger
from reconciler.errors import Problem, ProblemsError, StalledError
from reconciler.providers import base
from reconciler.providers import exec as exec_provider
from reconciler.providers import file as file_provider
from reconciler.providers import http as http_provider
from reconciler.specs.snapshot import Document

GROUP = "reconciler.providers"
DEFAULT_MAPPING: Mapping[str, str] = MappingProxyType(
    {
        "File": file_provider.NAME,
        "ExecResource": exec_provider.NAME,
        "HttpResource": http_provider.NAME,
    }
)

ProviderFactory = Callable[[base.ProviderSettings], base.Provider]


class PluginError(StalledError, RuntimeError):
    """An installed provider plugin cannot be loaded or clashes with another provider."""


class UnknownProviderError(ProblemsError, LookupError):
    """No installed provider manages a resource's kind."""

    def __init__(self, *, resource: Document, detail: str, known: tuple[str, ...]) -> None:
        message = f"{detail}; known providers: {', '.join(known)}"
        super().__init__(
            [Problem(path=resource.path, line=resource.line, key="kind", message=message)]
        )
        self.kind = resource.kind
        self.known = known


def built_ins() -> dict[str, ProviderFactory]:
    """The providers shipped with the package, by name."""
    return {
        file_provider.NAME: file_provider.FileProvider,
        exec_provider.NAME: exec_provider.ExecProvider,
        http_provider.NAME: http_provider.HttpProvider,
    }


def discover() -> dict[str, ProviderFactory]:
    """Built-ins plus every factory registered under the `reconciler.providers` group."""
    factories = built_ins()
    shipped = {name: f"{f.__module__}:{f.__qualname__}" for name, f in factories.items()}
    for entry in importlib.metadata.entry_points(group=GROUP):
        if shipped.get(entry.name) == entry.value:
            continue  # our own package's entry point for a built-in
        if entry.name in factories:
            raise PluginError(
                f"provider plugin {entry.name} = {entry.value!r} clashes with "
                f"the provider already named {entry.name}"
            )
        factories[entry.name] = _load(entry)
    return factories


class Registry:
    """Provider instances by name, and the lookup of the one managing a resource."""

    def __init__(self, providers: Mapping[str, base.Provider]) -> None:
        self._providers = dict(providers)

    @classmethod
    def load(
        cls,
        settings: base.ProviderSettings,
        *,
        factories: Mapping[str, ProviderFactory] | None = None,
    ) -> Registry:
        """Every discovered provider (or those of `factories`), built with `settings`."""
        chosen = discover() if factories is None else factories
        return cls({name: factory(settings) for name, factory in chosen.items()})

    def serve_programs(self, root: Path | None) -> None:
        """Tell the providers that run repository programs where the served revision's are."""
        for provider in self._providers.values():
            serve = getattr(provider, "serve_programs", None)
            if serve is not None:
                serve(root)

    def watch_children(self, ledger: ChildLedger, *, source: str) -> None:
        """Tell the providers that start child processes where to enter them."""
        for provider in self._providers.values():
            watch = getattr(provider, "watch_children", None)
            if watch is not None:
                watch(ledger, source=source)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._providers))

    def find(self, resource: Document, *, mapping: Mapping[str, str]) -> base.Provider | None:
        """The provider managing `resource`, or None when its kind is mapped to none."""
        name = provider_name(resource, mapping=mapping)
        if name is None:
            return None
        if name not in self._providers:
            raise UnknownProviderError(
                resource=resource,
                detail=f"{resource.key}: kind {resource.kind} is mapped to provider {name!r}, "
                "which is not installed",
                known=self.names,
            )
        return self._providers[name]

    def resolve(self, resource: Document, *, mapping: Mapping[str, str]) -> base.Provider:
        """The provider managing `resource`; `UnknownProviderError` when there is none."""
        provider = self.find(resource, mapping=mapping)
        if provider is None:
            detail = (
                f"no provider manages {resource.key}: map kind {resource.kind} "
                f"({resource.api_version}) to one in reconciler.yaml spec.providers"
            )
            raise UnknownProviderError(resource=resource, detail=detail, known=self.names)
        return provider


def provider_name(resource: Document, *, mapping: Mapping[str, str]) -> str | None:
    """The provider name for `resource`: `apiVersion/kind`, then `kind`, then the defaults."""
    for key in (f"{resource.api_version}/{resource.kind}", resource.kind):
        if key in mapping:
            return mapping[key]
    return DEFAULT_MAPPING.get(resource.kind)


def _load(entry: importlib.metadata.EntryPoint) -> ProviderFactory:
    try:
        factory = entry.load()
    except Exception as error:  # a broken plugin must name itself, whatever it raised
        raise PluginError(
            f"provider plugin {entry.name} = {entry.value!r} could not be "
            f"loaded: {type(error).__name__}: {error}"
        ) from error
    if not callable(factory):
        raise PluginError(f"provider plugin {entry.name} = {entry.value!r} is not callable")
    return factory  # type: ignore[no-any-return]
