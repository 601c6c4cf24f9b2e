"""Metric and anomaly triggers: polled from Prometheus, they start workflows on a breach.

A `metric` trigger holds when any sample of its instant query meets its condition; an
`anomaly` trigger holds when the newest sample of any series of its range query is out of
line with the samples before it within `lookback` (`run.anomaly`: a robust z-score beyond
`threshold`). Either must hold for `for` before its workflow starts, once per breach, and
re-arms after the condition cleared (`triggers.Breach`). A query that fails is logged and
changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

from reconciler.clock import Clock
from reconciler.reconcile.workflows import Entry
from reconciler.run import anomaly, triggers
from reconciler.specs import flows, types

log = logging.getLogger(__name__)
Watched = flows.MetricTrigger | flows.AnomalyTrigger
Start = Callable[[str, str, dict[str, Any]], None]  # workflow, trigger kind, variables


class MetricWatch:
    def __init__(
        self, settings: triggers.PrometheusSettings, *, clock: Clock, start: Start
    ) -> None:
        self.settings, self.clock, self.start = settings, clock, start
        self._breaches: dict[tuple[str, int, str], triggers.Breach] = {}

    async def poll(self, workflows: Mapping[str, Entry]) -> None:
        """Evaluate every metric and anomaly trigger once; start what is due."""
        assert self.settings.url
        client = triggers.Prometheus(
            self.settings.url, timeout=types.seconds(self.settings.timeout)
        )
        seen = set()
        for name, entry in workflows.items():
            for index, trigger in enumerate(entry.workflow.spec.triggers):
                watched: Watched | None = trigger.metric or trigger.anomaly
                if watched is not None:
                    key = (name, index, watched.model_dump_json())
                    seen.add(key)
                    await self._poll_one(client, name, key, watched)
        for key in set(self._breaches) - seen:
            del self._breaches[key]

    async def _poll_one(
        self, client: triggers.Prometheus, name: str, key: tuple[str, int, str], watched: Watched
    ) -> None:
        breach = self._breaches.setdefault(key, triggers.Breach(watched))
        try:
            holding, variables = await asyncio.to_thread(evaluate, client, watched)
        except triggers.QueryFailed as exc:
            log.warning("metric trigger of %s: %s", name, exc)
            return
        if breach.observe(holding=holding, now=self.clock.now()):
            kind = "metric" if isinstance(watched, flows.MetricTrigger) else "anomaly"
            self.start(name, kind, variables)


def evaluate(client: triggers.Prometheus, watched: Watched) -> tuple[bool, dict[str, Any]]:
    """Whether the trigger's condition holds now, and the run's variables if it starts."""
    if isinstance(watched, flows.MetricTrigger):
        found = client.query(watched.query)
        values = [s.value for s in found]
        return triggers.holds(watched, found), {"query": watched.query, "values": values}
    series = client.query_range(
        watched.query,
        lookback=types.seconds(watched.lookback),
        step=types.seconds(watched.step),
    )
    scores = [anomaly.robust_z(s[:-1], s[-1]) if s else None for s in series]
    holding = any(
        anomaly.anomalous(z, threshold=watched.threshold, direction=watched.direction)
        for z in scores
    )
    variables = {
        "query": watched.query,
        "values": [s[-1] for s in series if s],
        "scores": [_json_number(z) for z in scores],
    }
    return holding, variables


def _json_number(z: float | None) -> float | str | None:
    """A score as JSON can hold it: a constant baseline scores "inf" or "-inf"."""
    if z is None:
        return None
    return round(z, 3) if math.isfinite(z) else str(z)


async def signals(
    prometheus: triggers.PrometheusSettings, queries: Mapping[str, str]
) -> dict[str, Any]:
    """The first sample's value of each query (None with an error when it fails): the
    signals a remediation decision weighs."""
    if not prometheus.url:
        return {name: None for name in queries} | {"error": "no prometheus.url"}
    client = triggers.Prometheus(prometheus.url, timeout=types.seconds(prometheus.timeout))
    found: dict[str, Any] = {}
    for name, query in queries.items():
        try:
            samples = await asyncio.to_thread(client.query, query)
        except triggers.QueryFailed as exc:
            found[name], found["error"] = None, str(exc)
            continue
        found[name] = samples[0].value if samples else None
    return found
