"""Field types shared by the spec models, so a duration means the same everywhere.

A `Duration` stays the string the user wrote (so a spec round-trips and error messages can
quote it) but is checked when the spec is loaded; `seconds` and `timedelta_of` convert it
for the code that runs things. Units: `ms`, `s`, `m`, `h`, `d`, combinable (`1h30m`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

DURATION_PATTERN = r"^(\d+(\.\d+)?(ms|s|m|h|d))+$"
_DURATION = re.compile(DURATION_PATTERN)
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
DURATION_MESSAGE = 'must be a duration like "30s"'
NAME_PATTERN = r"^[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?$"


def is_duration(text: str) -> bool:
    """True when `text` is a duration such as "30s", "1h30m" or "250ms"."""
    return len(text) <= 64 and _DURATION.fullmatch(text) is not None


def seconds(duration: str) -> float:
    """The length of a duration in seconds; `ValueError` when it is not a duration."""
    if not is_duration(duration):
        raise ValueError(f"{duration!r}: {DURATION_MESSAGE}")
    return sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _PART.findall(duration))


def timedelta_of(duration: str) -> timedelta:
    """The length of a duration as a `timedelta`."""
    return timedelta(seconds=seconds(duration))


def _check_duration(value: Any) -> str:
    if isinstance(value, str) and is_duration(value):
        return value
    raise PydanticCustomError("duration", DURATION_MESSAGE)


def _check_positive_duration(value: Any) -> str:
    duration = _check_duration(value)
    if seconds(duration) > 0:
        return duration
    raise PydanticCustomError("duration", DURATION_MESSAGE)


_DURATION_SCHEMA = WithJsonSchema(
    {"type": "string", "pattern": DURATION_PATTERN, "examples": ["30s", "1h30m"]}
)

Duration = Annotated[str, BeforeValidator(_check_duration), _DURATION_SCHEMA]
"""A length of time written like "30s", "5m", "1h30m", "250ms" or "2d"."""

PositiveDuration = Annotated[str, BeforeValidator(_check_positive_duration), _DURATION_SCHEMA]
"""A `Duration` longer than nothing ("0s" is refused): a timeout."""

_CRON = re.compile(r"^\S+( \S+){4,5}$")


def _check_cron(value: Any) -> str:
    if isinstance(value, str) and _CRON.fullmatch(value.strip()):
        return value
    raise PydanticCustomError("cron", 'must be a cron expression like "0 2 * * *"')


Cron = Annotated[
    str,
    BeforeValidator(_check_cron),
    WithJsonSchema({"type": "string", "examples": ["0 2 * * *"]}),
]
"""Five (or six, with seconds) cron fields; the scheduler checks the fields themselves."""

Name = Annotated[str, Field(min_length=1, max_length=253, pattern=NAME_PATTERN)]
"""A name users refer to (a step, a variable): letters, digits, `-`, `_`, `.`."""


class Model(BaseModel):
    """Base of our own kinds: camelCase aliases, no unknown keys, immutable."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )
