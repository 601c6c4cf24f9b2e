"""Prometheus metrics: the one module importing prometheus_client.

Counters and histograms follow the event bus; gauges that describe current state
(resources by condition, violations by policy) are read at scrape time from a callback,
so they can never drift from the store. Each daemon owns its own registry (no globals).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram, Info, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from reconciler.events import Event, EventType

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True, kw_only=True)
class StateCounts:
    """Current state, computed from the store when Prometheus scrapes."""

    resources_by_condition: Mapping[tuple[str, str, str], int] = field(default_factory=dict)
    # (source, condition type, status) -> count
    violations: Mapping[tuple[str, str], int] = field(default_factory=dict)
    # (policy, enforcement) -> count
    approvals_waiting: int = 0
    optimizations: Mapping[tuple[str, str], int] = field(default_factory=dict)
    # (type, state) -> count of optimization proposals and reverts


class _StateCollector(Collector):
    def __init__(self, read: Callable[[], StateCounts]) -> None:
        self._read = read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        state = self._read()
        resources = GaugeMetricFamily(
            "reconciler_resources",
            "Managed resources by condition, counted in the store"
            " (every replica sharing it reports the same)",
            labels=["source", "condition", "status"],
        )
        for (source, cond, status), n in sorted(state.resources_by_condition.items()):
            resources.add_metric([source, cond, status], n)
        violations = GaugeMetricFamily(
            "reconciler_policy_violations",
            "Current violations by policy and enforcement, counted in the store"
            " (every replica sharing it reports the same)",
            labels=["policy", "enforcement"],
        )
        for (policy, enforcement), n in sorted(state.violations.items()):
            violations.add_metric([policy, enforcement], n)
        waiting = GaugeMetricFamily(
            "reconciler_approvals_waiting",
            "Steps of the runs this replica runs waiting for a human's answer",
        )
        waiting.add_metric([], state.approvals_waiting)
        optimizations = GaugeMetricFamily(
            "reconciler_optimizations",
            "Optimization proposals and reverts by state (docs/optimization.md)",
            labels=["type", "state"],
        )
        for (kind, at), n in sorted(state.optimizations.items()):
            optimizations.add_metric([kind, at], n)
        yield optimizations
        yield resources
        yield violations
        yield waiting


class Metrics:
    """The daemon's metrics; feed it events with `observe`."""

    def __init__(self, read_state: Callable[[], StateCounts]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.reconcile_seconds = Histogram(
            "reconciler_reconcile_duration_seconds",
            "Duration of reconciles",
            ["source", "result"],
            registry=self.registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self.revision = Info(
            "reconciler_last_applied_revision",
            "Last applied revision",
            ["source"],
            registry=self.registry,
        )
        self.provider_errors = Counter(
            "reconciler_provider_errors",
            "Provider errors",
            ["source", "provider"],
            registry=self.registry,
        )
        self.webhooks = Counter(
            "reconciler_webhook_deliveries",
            "Webhook deliveries",
            ["forge", "result"],
            registry=self.registry,
        )
        self.decisions = Counter(
            "reconciler_policy_decisions",
            "Gate and audit decisions of reconcile passes, by outcome and enforcement",
            ["source", "outcome", "enforcement"],
            registry=self.registry,
        )
        self.runs = Counter(
            "reconciler_runs",
            "Finished workflow, runbook and remediation runs",
            ["kind", "status"],
            registry=self.registry,
        )
        self.run_steps = Counter(
            "reconciler_run_steps",
            "Steps of finished runs, by how they ended",
            ["kind", "status"],
            registry=self.registry,
        )
        self.registry.register(_StateCollector(read_state))

    def observe(self, event: Event) -> None:
        data = event.data
        if event.type is EventType.RECONCILE_FINISHED:
            self.reconcile_seconds.labels(event.source, str(data.get("result", "unknown"))).observe(
                float(data.get("duration_seconds", 0.0))
            )
            if data.get("applied_revision"):
                self.revision.labels(event.source).info({"revision": str(data["applied_revision"])})
            decisions = data.get("decisions")
            for part, n in decisions.items() if isinstance(decisions, dict) else ():
                outcome, _, enforcement = str(part).partition("/")
                self.decisions.labels(event.source, outcome, enforcement).inc(int(n))
        elif event.type is EventType.RESOURCE_FAILED:
            self.provider_errors.labels(event.source, str(data.get("provider", "unknown"))).inc()
        elif event.type is EventType.RUN_UPDATED and data.get("finished"):
            self._run_finished(data)
        elif event.type is EventType.WEBHOOK_RECEIVED:
            self.webhooks.labels(
                str(data.get("forge", "unknown")), str(data.get("result", "unknown"))
            ).inc()

    def _run_finished(self, data: Mapping[str, object]) -> None:
        kind = str(data.get("kind", "unknown"))
        self.runs.labels(kind, str(data.get("status", "unknown"))).inc()
        steps = data.get("steps")
        for status, n in steps.items() if isinstance(steps, dict) else ():
            self.run_steps.labels(kind, str(status)).inc(int(n))

    def render(self) -> bytes:
        return generate_latest(self.registry)
