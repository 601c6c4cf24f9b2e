"""`notifications:` of the daemon settings: channels, routes, rate limit, dedupe, retries.

Secrets never live in the file: a channel names the environment variable holding its
secret (`secretEnv`), read when a message is sent, so the settings can be printed and
logged (docs/notifications.md).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from reconciler.notify import notices
from reconciler.notify.notices import Severity
from reconciler.specs.types import Duration, PositiveDuration


class _Group(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, alias_generator=to_camel
    )


class ChannelType(StrEnum):
    SLACK = "slack"  # a Slack-compatible incoming webhook: `{"text", "blocks"}`
    WEBHOOK = "webhook"  # JSON signed with HMAC-SHA256 (`X-Reconciler-Signature`)
    EMAIL = "email"  # SMTP, STARTTLS when asked


class SmtpSettings(_Group):
    host: str = Field(min_length=1)
    port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = False
    """Upgrade the connection with STARTTLS (the server's certificate is verified)."""
    username: str | None = None
    """Log in as this user, with the password from the channel's `secretEnv`."""
    sender: str = Field(min_length=3)
    to: list[str] = Field(min_length=1)


class Channel(_Group):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][-_.A-Za-z0-9]*$")
    type: ChannelType
    url: str | None = Field(default=None, pattern=r"^https?://")
    """Where Slack messages and webhooks are posted. A Slack webhook URL is itself a secret:
    leave `url` out and put the URL in the variable `secretEnv` names instead."""
    smtp: SmtpSettings | None = None
    secret_env: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """Environment variable holding the secret: the webhook's HMAC key (required), the SMTP
    password, or a Slack webhook URL."""
    timeout: PositiveDuration = "10s"

    @model_validator(mode="after")
    def _complete(self) -> Self:
        needs = {
            ChannelType.SLACK: self.url or self.secret_env,
            ChannelType.WEBHOOK: self.url and self.secret_env,
            ChannelType.EMAIL: self.smtp,
        }
        if not needs[self.type]:
            raise ValueError(_MISSING[self.type])
        return self


_MISSING = {
    ChannelType.SLACK: "a slack channel needs `url` or `secretEnv` (holding the URL)",
    ChannelType.WEBHOOK: "a webhook channel needs `url` and `secretEnv` (its signing key)",
    ChannelType.EMAIL: "an email channel needs `smtp`",
}


class Route(_Group):
    """Which notifications go to which channels; a notification matching several routes is
    sent once to each channel they name."""

    events: list[str] = Field(default_factory=list)
    """Event types (docs/notifications.md); empty: every type."""
    sources: list[str] = Field(default_factory=list)
    """Source names; empty: any source, and events that belong to none (runs, decisions)."""
    severity: Severity = Severity.INFO
    """The least severity sent."""
    channels: list[str] = Field(min_length=1)


class RateLimit(_Group):
    per_channel: int = Field(default=30, ge=1)
    """Messages a channel is sent per minute; more wait in the outbox for the next minute."""


class RetrySettings(_Group):
    backoff: PositiveDuration = "5s"
    """Delay after the first failed attempt, doubled after each (with jitter)."""
    max_backoff: PositiveDuration = "10m"
    attempts: int = Field(default=12, ge=1)
    """Attempts before a notification is abandoned (kept in the outbox as failed)."""


class NotificationSettings(_Group):
    channels: list[Channel] = Field(default_factory=list)
    routes: list[Route] = Field(default_factory=list)
    rate_limit: RateLimit = RateLimit()
    dedupe_window: Duration = "10m"
    """The same event type, object and message within this window is sent once."""
    retry: RetrySettings = RetrySettings()

    @model_validator(mode="after")
    def _known_names(self) -> Self:
        names = [c.name for c in self.channels]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"channel names must be unique: {', '.join(twice)}")
        for index, route in enumerate(self.routes):
            unknown = [c for c in route.channels if c not in names]
            if unknown:
                raise ValueError(f"routes[{index}].channels: no channel named {unknown[0]}")
            types = [e for e in route.events if e not in notices.SEVERITY]
            if types:
                known = ", ".join(notices.SEVERITY)
                raise ValueError(f"routes[{index}].events: {types[0]} is not one of {known}")
        return self
