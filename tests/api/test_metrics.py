from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from reconciler.api import metrics as m
from reconciler.events import Event, EventType

AT = datetime(2026, 1, 1, tzinfo=UTC)


def samples(metrics: m.Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.render().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_events_and_state_show_up_as_metrics() -> None:
    state = m.StateCounts(
        resources_by_condition={("demo", "Ready", "False"): 2},
        violations={("k8s.labels", "strict"): 3},
    )
    metrics = m.Metrics(lambda: state)
    metrics.observe(
        Event(
            type=EventType.RECONCILE_FINISHED,
            at=AT,
            source="demo",
            data={"duration_seconds": 0.3, "result": "succeeded", "applied_revision": "abc123"},
        )
    )
    metrics.observe(
        Event(type=EventType.RESOURCE_FAILED, at=AT, source="demo", data={"provider": "exec"})
    )
    metrics.observe(
        Event(
            type=EventType.WEBHOOK_RECEIVED,
            at=AT,
            source="demo",
            data={"forge": "github", "result": "rejected"},
        )
    )
    got = samples(metrics)
    assert (
        got[
            (
                "reconciler_reconcile_duration_seconds_count",
                (("result", "succeeded"), ("source", "demo")),
            )
        ]
        == 1
    )
    assert (
        got[("reconciler_last_applied_revision_info", (("revision", "abc123"), ("source", "demo")))]
        == 1
    )
    assert (
        got[("reconciler_provider_errors_total", (("provider", "exec"), ("source", "demo")))] == 1
    )
    assert (
        got[("reconciler_webhook_deliveries_total", (("forge", "github"), ("result", "rejected")))]
        == 1
    )
    assert (
        got[
            (
                "reconciler_resources",
                (("condition", "Ready"), ("source", "demo"), ("status", "False")),
            )
        ]
        == 2
    )
    assert (
        got[("reconciler_policy_violations", (("enforcement", "strict"), ("policy", "k8s.labels")))]
        == 3
    )


def test_state_gauges_are_read_at_scrape_time() -> None:
    current = {"n": 1}
    metrics = m.Metrics(
        lambda: m.StateCounts(resources_by_condition={("s", "Ready", "True"): current["n"]})
    )
    key = ("reconciler_resources", (("condition", "Ready"), ("source", "s"), ("status", "True")))
    assert samples(metrics)[key] == 1
    current["n"] = 5
    assert samples(metrics)[key] == 5


def test_decisions_of_each_pass_are_counted_and_waiting_approvals_gauged() -> None:
    metrics = m.Metrics(lambda: m.StateCounts(approvals_waiting=2))
    for decisions in ({"deny/strict": 2, "allow/strict": 5}, {"deny/strict": 1}, {}):
        metrics.observe(
            Event(
                type=EventType.RECONCILE_FINISHED,
                at=AT,
                source="demo",
                data={"duration_seconds": 0.1, "result": "succeeded", "decisions": decisions},
            )
        )
    got = samples(metrics)
    name = "reconciler_policy_decisions_total"
    labels = (("enforcement", "strict"), ("outcome", "{}"), ("source", "demo"))

    def counted(outcome: str) -> float:
        return got[(name, tuple((k, v.format(outcome)) for k, v in labels))]

    assert (counted("deny"), counted("allow")) == (3, 5)
    assert got[("reconciler_approvals_waiting", ())] == 2
