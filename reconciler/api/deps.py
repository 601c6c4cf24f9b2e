"""What the HTTP layer needs of the daemon, and nothing more: the store, the clock, the
event bus, the settings, the sources' runners (to read their state and trigger syncs), the
workflow automation and the simulation service. `create_app` builds it from the daemon
once; each route group takes it (or the one part it needs), so no handler reaches into the
daemon's scheduler, pools or lifecycle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from reconciler.clock import Clock
from reconciler.events import Bus
from reconciler.reconcile.automation import Automation
from reconciler.reconcile.daemon import Daemon
from reconciler.reconcile.runner import SourceRunner
from reconciler.reconcile.settings import DaemonSettings
from reconciler.reconcile.simulations.service import Simulator
from reconciler.store.interfaces import Store


class Sync(Protocol):
    def __call__(self, name: str | None = None, *, reason: str = ...) -> list[str]: ...


@dataclass(frozen=True, kw_only=True)
class Deps:
    settings: DaemonSettings
    store: Store
    clock: Clock
    bus: Bus
    runners: Mapping[str, SourceRunner]
    workflows: Automation
    simulations: Simulator
    runner: Callable[[str], SourceRunner]  # `UnknownSource` (a 404) for no such source
    request_sync: Sync
    ready: Callable[[], bool]
    replica: str = ""
    """This daemon's replica name (`replica.name` or its default)."""

    @classmethod
    def of(cls, daemon: Daemon) -> Deps:
        return cls(
            settings=daemon.settings,
            store=daemon.store,
            clock=daemon.clock,
            bus=daemon.bus,
            runners=daemon.runners,
            workflows=daemon.workflows,
            simulations=daemon.simulations,
            runner=daemon.runner,
            request_sync=daemon.request_sync,
            ready=lambda: daemon.ready,
            replica=daemon.membership.name,
        )
