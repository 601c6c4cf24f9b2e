"""The interface every provider implements, its settings, and the errors it raises.

The planner diffs a resource's desired document against what a provider observed, so the
interface is small: `observe` reads the real state (or reports it absent), `normalise`
maps that state into the shape of the desired document (a freshly applied resource diffs
clean), `apply` makes the real state match, `delete` removes it. Providers are blocking;
the daemon calls them from a worker thread, never on its event loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, field_validator
from pydantic.alias_generators import to_camel

from reconciler.errors import Problem, ProblemsError, TransientError
from reconciler.specs.snapshot import Document


@dataclass(frozen=True, kw_only=True)
class Capabilities:
    """How the daemon should call a provider."""

    # Observing waits on other processes or the network, so overlapping calls in threads
    # pays. A provider doing quick local work says False: threads would only fight over
    # the GIL (10k file observations took 0.39 s inline and 1.5 s on 8 threads).
    waits: bool = True


class Provider(Protocol):
    """Observes and changes the real state behind resources of some kinds.

    Every method takes the whole resource document (`Document`); its `body["spec"]` is the
    provider-specific part. Bad specs raise `ProviderSpecError` (fix the spec, no retry);
    failures of the world raise `ProviderError` (retry with backoff).
    """

    @property
    def name(self) -> str:
        """The name the registry and the repository settings know this provider by."""
        ...

    @property
    def capabilities(self) -> Capabilities: ...

    def observe(self, resource: Document) -> dict[str, Any] | None:
        """The real state of `resource` as a JSON-able dict, or None when it does not exist."""
        ...

    def normalise(self, resource_body: dict[str, Any], observed: dict[str, Any]) -> dict[str, Any]:
        """`observed` in the shape of `resource_body`: equal to it when nothing drifted.

        Only what the desired document declares is compared: fields the real state has but
        the spec does not mention are left out, so they never show up as drift.
        """
        ...

    def apply(self, resource: Document) -> dict[str, Any]:
        """Make the real state match `resource`; return the state observed afterwards."""
        ...

    def delete(self, resource: Document) -> None:
        """Remove the real state behind `resource`; deleting what is absent is not an error."""
        ...


class ProviderError(TransientError):
    """The provider could not observe or change a resource; retry with backoff."""

    def __init__(self, *, provider: str, key: str, detail: str) -> None:
        super().__init__(f"{provider} provider: {key}: {detail}")
        self.provider = provider
        self.key = key
        self.detail = detail


class ProviderTimeout(ProviderError):
    """The provider did not finish within its timeout."""


class ProviderSpecError(ProblemsError):
    """A resource's spec cannot be handled as written: only a change in Git fixes it."""

    def __init__(self, *, provider: str, resource: Document, problems: list[Problem]) -> None:
        super().__init__(problems)
        self.provider = provider
        self.key = resource.key


def spec_problem(*, provider: str, resource: Document, key: str, message: str) -> Problem:
    """A `Problem` at `resource`'s file and line naming the resource and the provider."""
    return Problem(
        path=resource.path,
        line=resource.line,
        key=key,
        message=f"{message} ({resource.key}, {provider} provider)",
    )


class _Settings(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class FileSettings(_Settings):
    """Settings of the `file` provider."""

    roots: tuple[Path, ...] = ()
    """Absolute directories File resources may live in; empty allows any absolute path."""
    managed_dir: Path | None = None
    """Where relative File paths resolve (the daemon's `<data-dir>/files`); always allowed,
    and nothing may lead out of it. None: relative paths are refused."""

    @field_validator("roots")
    @classmethod
    def _absolute(cls, roots: tuple[Path, ...]) -> tuple[Path, ...]:
        relative = [str(root) for root in roots if not root.is_absolute()]
        if relative:
            raise ValueError(f"roots must be absolute directories: {', '.join(relative)}")
        return roots


class ExecSettings(_Settings):
    """Settings of the `exec` provider."""

    timeout: float = 30.0
    """Seconds a provider program may run when the resource sets no `spec.timeout`."""


class HttpSettings(_Settings):
    """Settings of the `http` provider."""

    timeout: float = 10.0
    """Seconds a request may take when the resource sets no `spec.timeout`."""


class ProviderSettings(_Settings):
    """Everything the built-in providers need from the daemon, passed in explicitly."""

    repository_dir: Path | None = None
    """The checked-out repository; relative program paths of ExecResources resolve here."""
    file: FileSettings = FileSettings()
    exec: ExecSettings = ExecSettings()
    http: HttpSettings = HttpSettings()


def project(desired: Any, observed: Any) -> Any:
    """`observed` cut down to the keys `desired` declares, recursively through dicts.

    Keys missing from `observed` stay missing, so the diff reports them as removed.
    """
    if isinstance(desired, dict) and isinstance(observed, dict):
        return {k: project(v, observed[k]) for k, v in desired.items() if k in observed}
    return observed


def with_spec(resource_body: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """A copy of `resource_body` whose `spec` is replaced by `spec`."""
    return {**resource_body, "spec": spec}
