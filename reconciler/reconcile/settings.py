"""Daemon settings (`reconciler serve --config daemon.yaml`), in nested, documented groups.

Everything the daemon reads from outside is here and passed in explicitly; nothing reads
the environment later except the secret names configured here (tokens are looked up when
used, so the settings can be printed and logged).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from reconciler.errors import Problem, ProblemsError
from reconciler.source.settings import SourceSettings
from reconciler.specs.types import Duration
from reconciler.store.retention import RetentionSettings


class _Group(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, alias_generator=to_camel
    )


class DaemonSource(SourceSettings):
    """A Git source plus how the daemon follows it."""

    name: str = Field(min_length=1, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    interval: Duration = "1m"
    """Poll (remote) and drift-check interval."""
    jitter: Duration = "5s"
    suspend: bool = False


class HttpSettings(_Group):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)


class WebhookSettings(_Group):
    github_secret_env: str | None = None
    """Environment variable holding the GitHub webhook secret."""
    gitlab_token_env: str | None = None
    generic_token_env: str | None = None


class BackoffSettings(_Group):
    base: Duration = "1s"
    max: Duration = "5m"


class ReconcileSettings(_Group):
    self_heal: bool = True
    """Correct drift on the interval; when false, drift is only reported."""
    audit_interval: Duration = "10m"
    """Re-evaluate policies over observed state and record violations."""
    backoff: BackoffSettings = BackoffSettings()
    provider_concurrency: int = Field(default=8, ge=1, le=256)


class DaemonSettings(_Group):
    data_dir: Path = Path(".reconciler")
    sources: list[DaemonSource] = Field(default_factory=list)
    http: HttpSettings = HttpSettings()
    webhooks: WebhookSettings = WebhookSettings()
    reconcile: ReconcileSettings = ReconcileSettings()
    retention: RetentionSettings = RetentionSettings()


def load(path: Path) -> DaemonSettings:
    """Read a settings file; every problem is reported with the file and key path."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ProblemsError([Problem(path=str(path), message=str(exc).splitlines()[0])]) from None
    try:
        return DaemonSettings.model_validate(raw)
    except ValidationError as exc:
        raise ProblemsError(
            Problem(path=str(path), key=".".join(str(p) for p in err["loc"]), message=err["msg"])
            for err in exc.errors()
        ) from None
