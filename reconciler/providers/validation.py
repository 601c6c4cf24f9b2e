"""Reading a resource's `spec` into a provider's typed model, with user-facing errors.

Each built-in provider declares its spec as a frozen pydantic model; `parse_spec`
validates `resource.body["spec"]` against it and turns every validation error into a
`Problem` at the resource's file and line with the key path (`spec.auth.bearerTokenEnv`),
so a bad spec reads like any other load error.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import pydantic
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from reconciler.providers import base
from reconciler.specs.snapshot import Document

DURATION_MESSAGE = 'must be a duration like "30s"'
_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$")

SpecT = TypeVar("SpecT", bound=BaseModel)


class Spec(BaseModel):
    """Base of provider spec models: camelCase keys, no unknown keys, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


def parse_duration(text: str) -> float:
    """Seconds in a duration such as "30s", "5m", "1h30m" or "250ms"."""
    match = _DURATION.match(text.strip())
    if not text.strip() or match is None:
        raise ValueError(DURATION_MESSAGE)
    hours, minutes, seconds, millis = (int(g or 0) for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds + millis / 1000


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
