"""Reading a resource's `spec` into its typed model, with user-facing errors.

The spec of each resource kind is modelled once, in `reconciler.specs.kinds`, where the
loader validates it too; `parse_spec` validates `resource.body["spec"]` against that model
and turns every validation error into a `Problem` at the resource's file and line with the
key path (`spec.auth.bearerTokenEnv`) naming the provider, so a bad spec reads like any
other load error.
"""

from __future__ import annotations

from typing import Any, TypeVar

import pydantic
from pydantic import BaseModel

from reconciler.providers import base
from reconciler.specs.snapshot import Document

SpecT = TypeVar("SpecT", bound=BaseModel)


def parse_spec(model: type[SpecT], *, provider: str, resource: Document) -> SpecT:
    """`resource.body["spec"]` validated as `model`, or `ProviderSpecError` naming each key."""
    raw: Any = resource.body.get("spec")
    try:
        return model.model_validate(raw if raw is not None else {})
    except pydantic.ValidationError as error:
        problems = [
            base.spec_problem(
                provider=provider,
                resource=resource,
                key=_key_path(item["loc"]),
                message=_message(item["msg"]),
            )
            for item in error.errors()
        ]
        raise base.ProviderSpecError(
            provider=provider, resource=resource, problems=problems
        ) from None


def spec_error(
    *, provider: str, resource: Document, key: str, message: str
) -> base.ProviderSpecError:
    """A `ProviderSpecError` with one problem at `key`."""
    problem = base.spec_problem(provider=provider, resource=resource, key=key, message=message)
    return base.ProviderSpecError(provider=provider, resource=resource, problems=[problem])


def _key_path(loc: tuple[int | str, ...]) -> str:
    path = "spec"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _message(msg: str) -> str:
    return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
