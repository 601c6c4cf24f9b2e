"""Daemon settings (`reconciler serve --config daemon.yaml`), in nested, documented groups.

Everything the daemon reads from outside is here and passed in explicitly; nothing reads
the environment later except the secret names configured here (tokens are looked up when
used, so the settings can be printed and logged).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from reconciler.errors import Problem, ProblemsError, UsageError
from reconciler.notify.settings import NotificationSettings
from reconciler.run.triggers import PrometheusSettings
from reconciler.source.settings import SourceSettings
from reconciler.specs import kinds, yamlio
from reconciler.specs.types import Duration, PositiveDuration
from reconciler.store.retention import RetentionSettings


class _Group(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, alias_generator=to_camel
    )


class UnknownSource(LookupError):
    """A source name that no configured source has."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        super().__init__(f'no source named "{name}" (known: {", ".join(sorted(known))})')


class DaemonSource(SourceSettings):
    """A Git source plus how the daemon follows it."""

    name: str = Field(min_length=1, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    interval: PositiveDuration | None = None
    """Poll (remote) and drift-check interval; unset: the repository's `interval` (5m)."""
    jitter: Duration = "5s"
    suspend: bool = False


class TlsSettings(_Group):
    """HTTPS for the API and the dashboard (docs/daemon.md, "TLS")."""

    cert_file: Path
    """PEM certificate chain, leaf first."""
    key_file: Path
    """PEM private key of the certificate."""
    reload_interval: PositiveDuration = "10s"
    """How often the two files are checked; a changed pair is loaded for new connections."""


class HttpSettings(_Group):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    allowed_hosts: list[str] = Field(default_factory=list)
    """`Host` names served besides loopback names, IP literals and `host` (DNS rebinding:
    any other name is refused with 421); `"*"` serves every name."""
    max_body_bytes: int = Field(default=1024 * 1024, ge=1)
    """Largest request body of the API and the dashboard, counted while it streams (413)."""
    max_webhook_bytes: int = Field(default=25 * 1024 * 1024, ge=1)
    """Largest webhook body (GitHub caps payloads at 25 MB)."""
    max_header_bytes: int = Field(default=16 * 1024, ge=1024)
    """Largest request line plus headers; a larger one closes the connection."""
    header_timeout: PositiveDuration = "10s"
    """A connection whose request headers are not complete by then is closed."""
    keep_alive_timeout: PositiveDuration = "5s"
    """An idle kept-alive connection is closed after this long."""
    max_connections: int = Field(default=1000, ge=1)
    """Open connections (and requests in flight) served at once; more get 503."""
    tls: TlsSettings | None = None
    """Serve HTTPS with this certificate and key. Unset: plain HTTP."""


class FileProviderOptions(_Group):
    roots: list[Path] = Field(default_factory=list)
    """Absolute directories File resources may live in. Empty (the default): only relative
    paths, under `<data-dir>/files`."""


class TimeoutOptions(_Group):
    timeout: float | None = Field(default=None, gt=0)
    """Seconds a call may take when the resource sets no `spec.timeout`."""


class ProviderOptions(_Group):
    """`providers:` of the daemon settings: what the built-in providers may do."""

    file: FileProviderOptions = FileProviderOptions()
    exec: TimeoutOptions = TimeoutOptions()
    http: TimeoutOptions = TimeoutOptions()


class WebhookSettings(_Group):
    github_secret_env: str | None = None
    """Environment variable holding the GitHub webhook secret."""
    gitlab_token_env: str | None = None
    generic_token_env: str | None = None
    pagerduty_secret_env: str | None = None
    """Environment variable holding the PagerDuty v3 webhook subscription's signing secret."""
    opsgenie_token_env: str | None = None
    """Environment variable holding the token Opsgenie's webhook integration sends (a custom
    header `X-Reconciler-Token`, or `Authorization: Bearer`)."""


class Role(StrEnum):
    """What a token may do; each role may do everything the ones before it may."""

    METRICS = "metrics"  # only scrape /metrics (a Prometheus server's token)
    VIEWER = "viewer"  # read the API, the dashboard and the metrics
    OPERATOR = "operator"  # also sync, suspend, resume and answer approvals
    ADMIN = "admin"  # also whatever administers the daemon itself


class AuthToken(_Group):
    name: str = Field(min_length=1)
    """Who holds the token; recorded as the actor (e.g. the approver of a step)."""
    role: Role
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """Hex SHA-256 of the token (`reconciler token hash`); the token itself is never kept."""


class AuthSettings(_Group):
    """Bearer tokens for the API and the dashboard. With no tokens at all the daemon is open,
    which is allowed on a loopback address only unless `allowAnonymous` says otherwise."""

    tokens: list[AuthToken] = Field(default_factory=list)
    public_read: bool = False
    """Let anyone read (GET) the API and the dashboard; changes still need a token."""
    allow_anonymous: bool = False
    """Serve without tokens on a non-loopback address (everyone may do everything)."""


class BackoffSettings(_Group):
    base: Duration = "1s"
    max: Duration = "5m"


class ReconcileSettings(_Group):
    self_heal: bool | None = None
    """Correct drift on the interval; when false, drift is only reported. Unset: the
    repository's `selfHeal` (true)."""
    audit_interval: PositiveDuration | None = None
    """Re-evaluate policies over observed state and record violations. Unset: the
    repository's `auditInterval` (10m)."""
    backoff: BackoffSettings = BackoffSettings()
    provider_concurrency: int = Field(default=8, ge=1, le=256)
    evaluation_workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1, le=256)
    """Processes evaluating a large batch of documents (cold start, audits, a revision whose
    policies changed); 1: every evaluation in the daemon's own process."""
    orphan_wait: Duration = "30s"
    """At start-up, how long a provider or step process left running by a previous daemon
    (killed, say) is given to finish its work before its process group is killed; nothing
    is re-planned until then."""


class AnchorSettings(_Group):
    """Where the audit chain's head is committed (docs/audit.md, "Anchoring")."""

    repository: Path
    """An existing Git repository (bare or not) the daemon may write to."""
    interval: PositiveDuration = "1h"
    """How often the head is anchored; also once when the daemon stops."""


class AuditSettings(_Group):
    anchor: AnchorSettings | None = None
    """Anchor the audit chain's head in a Git repository. Unset: no anchoring."""


class SimulationSettings(_Group):
    """Pull-request simulations the daemon runs on webhooks (docs/simulate.md)."""

    max_concurrent: int = Field(default=1, ge=1, le=64)
    """Simulations running at once; later ones wait in a queue."""
    cpu_seconds: float = Field(default=10.0, gt=0)
    """CPU time each stage of the sandbox may use."""
    wall_seconds: float = Field(default=120.0, gt=0)
    """Wall-clock time one simulation's sandbox may take before it is killed."""
    memory_mib: int = Field(default=2048, ge=256)
    """Address space of the sandbox process."""
    output_mib: int = Field(default=16, ge=1)
    """Most the sandbox may write to its error output, and the longest message it may send."""
    max_queued: int = Field(default=32, ge=1)
    """Simulations waiting to run; past it the oldest waiting one is superseded."""
    max_report_kib: int = Field(default=1024, ge=16)
    """Largest stored report (JSON and Markdown together); a larger one is cut, marked."""
    max_reports_mib: int = Field(default=256, ge=1)
    """All stored reports together; the oldest finished simulations lose theirs first."""


class ForgeApi(_Group):
    api_url: str
    """Base URL of the forge's REST API."""
    token_env: str | None = None
    """Environment variable holding the API token; unset: nothing is posted."""


class ForgeSettings(_Group):
    """Where simulation reports are posted: check runs and comments, statuses and notes."""

    github: ForgeApi = ForgeApi(api_url="https://api.github.com")
    gitlab: ForgeApi = ForgeApi(api_url="https://gitlab.com/api/v4")


@dataclass(frozen=True, kw_only=True)
class Flags:
    """What `reconciler serve`'s command line sets; it wins over the settings file and the
    repository (docs/daemon.md, "Which setting wins")."""

    interval: str | None = None
    audit_interval: str | None = None
    self_heal: bool | None = None


NO_FLAGS = Flags()


class StoreSettings(_Group):
    """Where the daemon keeps its state (docs/daemon.md, "Store")."""

    url: str | None = None
    """`postgresql://user@host:5432/db` for a PostgreSQL database several daemons share.
    Unset: `reconciler.db` (SQLite) in the data directory."""
    url_env: str | None = None
    """Name of an environment variable holding the URL instead (it may carry a password)."""

    def resolved_url(self) -> str | None:
        """The URL to open: `url`, else the value of `url_env`, else None."""
        if self.url is not None or self.url_env is None:
            return self.url
        value = os.environ.get(self.url_env)
        if not value:
            raise UsageError(f"store.urlEnv: environment variable {self.url_env} is not set")
        return value


class ReplicaSettings(_Group):
    """This daemon as one of several on a shared store (docs/daemon.md, "Several replicas")."""

    name: str | None = Field(default=None, min_length=1)
    """This replica's name among those sharing the store; unset: `<hostname>-<pid>`."""
    lease_ttl: PositiveDuration = "15s"
    """How long a lease lasts unrenewed: a killed replica's sources move after this long.
    Leases are renewed every third of it."""


class DaemonSettings(_Group):
    data_dir: Path = Path(".reconciler")
    store: StoreSettings = StoreSettings()
    replica: ReplicaSettings = ReplicaSettings()
    sources: list[DaemonSource] = Field(default_factory=list)
    http: HttpSettings = HttpSettings()
    webhooks: WebhookSettings = WebhookSettings()
    reconcile: ReconcileSettings = ReconcileSettings()
    providers: ProviderOptions = ProviderOptions()
    retention: RetentionSettings = RetentionSettings()
    auth: AuthSettings = AuthSettings()
    prometheus: PrometheusSettings = PrometheusSettings()
    """The Prometheus server workflows' metric triggers query."""
    simulations: SimulationSettings = SimulationSettings()
    forges: ForgeSettings = ForgeSettings()
    audit: AuditSettings = AuditSettings()
    notifications: NotificationSettings = NotificationSettings()
    """Where events that need a human are sent (docs/notifications.md)."""


def load(path: Path) -> DaemonSettings:
    """Read a settings file; every problem is reported with the file, line and key path."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProblemsError([Problem(path=str(path), message=_reason(exc))]) from None
    raw = yamlio.load_one(text, path=str(path))
    if raw is None:
        raw = {}
    try:
        return DaemonSettings.model_validate(raw)
    except ValidationError as exc:
        locator = yamlio.Locator(text)
        raise ProblemsError(
            Problem(
                path=str(path),
                line=locator.line(index=0, loc=err["loc"]),
                key=yamlio.key_path(err["loc"]),
                message=kinds.message(err),
            )
            for err in exc.errors()
        ) from None


def _reason(exc: OSError | UnicodeDecodeError) -> str:
    if isinstance(exc, UnicodeDecodeError):
        return "is not UTF-8 text"
    return exc.strerror.lower() if exc.strerror else str(exc)
