"""The settings a source really runs with, and where each came from.

Three settings may be given in four places; the first that says wins: the command line
(`serve --interval`, `--audit-interval`, `--no-self-heal`), the daemon's settings file
(`sources[].interval`, `reconcile.auditInterval`, `reconcile.selfHeal`), the repository's
`reconciler.yaml` at the revision being served, then the built-in default (the one
`reconciler schema Settings` shows). The API, `reconciler status` and the dashboard show
the result with its origin, so nobody has to guess which file won.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Generic, TypeVar

from reconciler.reconcile.settings import DaemonSource, Flags, ReconcileSettings
from reconciler.specs import models

T = TypeVar("T", str, bool)


class Origin(StrEnum):
    FLAG = "flag"  # the `reconciler serve` command line
    CONFIG = "config"  # the daemon's settings file (`serve --config`)
    REPOSITORY = "repository"  # `reconciler.yaml` at the served revision
    DEFAULT = "default"  # nobody said: the built-in default


@dataclass(frozen=True, kw_only=True)
class Setting(Generic[T]):
    value: T
    origin: Origin


@dataclass(frozen=True, kw_only=True)
class Effective:
    interval: Setting[str]
    audit_interval: Setting[str]
    self_heal: Setting[bool]


_DEFAULTS = models.SettingsSpec()


def resolve(
    *,
    flags: Flags,
    source: DaemonSource,
    reconcile: ReconcileSettings,
    repo: models.SettingsSpec | None,
) -> Effective:
    """The effective settings of a source serving `repo` (None: no revision loaded yet)."""
    return Effective(
        interval=_first(flags.interval, source.interval, repo=repo, name="interval"),
        audit_interval=_first(
            flags.audit_interval, reconcile.audit_interval, repo=repo, name="audit_interval"
        ),
        self_heal=self_heal(flags=flags, reconcile=reconcile, repo=repo),
    )


def self_heal(
    *, flags: Flags, reconcile: ReconcileSettings, repo: models.SettingsSpec | None
) -> Setting[bool]:
    return _first(flags.self_heal, reconcile.self_heal, repo=repo, name="self_heal")


def _first(
    flag: T | None, config: T | None, *, repo: models.SettingsSpec | None, name: str
) -> Setting[T]:
    if flag is not None:
        return Setting(value=flag, origin=Origin.FLAG)
    if config is not None:
        return Setting(value=config, origin=Origin.CONFIG)
    if repo is not None and name in repo.model_fields_set:
        value: T = getattr(repo, name)
        return Setting(value=value, origin=Origin.REPOSITORY)
    default: T = getattr(_DEFAULTS, name)
    return Setting(value=default, origin=Origin.DEFAULT)
