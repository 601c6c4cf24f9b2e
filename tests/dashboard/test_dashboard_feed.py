"""The overview's event list and the Policies page's words, as pure functions: repeats
collapse per source and object without losing a record, scopes and Gatekeeper matches read
as text, and times are compact UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from reconciler.api.dashboard import feed, render, served
from reconciler.policy import gatekeeper_match
from reconciler.specs import models
from reconciler.store.interfaces import EventRecord

T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def event(
    n: int, type_: str, *, source: str = "demo", key: str | None = None, **data: str
) -> EventRecord:
    return EventRecord(
        id=n,
        at=T0 + timedelta(minutes=n),
        type=type_,
        object_key=key,
        message=data.pop("message", "reconcile succeeded"),
        data={"source": source, **data},
    )


def test_repeats_of_the_same_source_and_object_collapse_newest_first() -> None:
    events = [
        event(1, "ReconcileFinished", result="succeeded", applied_revision="a"),
        event(2, "ReconcileFinished", source="other", result="succeeded", applied_revision="a"),
        event(3, "ReconcileFinished", result="succeeded", applied_revision="a"),
        event(4, "ResourceBlocked", key="File//banner", message="no owner", revision="a"),
        event(5, "ReconcileFinished", result="succeeded", applied_revision="a"),
        event(6, "ReconcileFinished", result="succeeded", applied_revision="b"),
        event(7, "ReconcileFinished", result="failed", applied_revision="b"),
        event(8, "ReconcileFinished", source="other", result="succeeded", applied_revision="a"),
    ]
    entries = feed.collapse(events)
    assert [(e.first.id, e.last.id, e.count) for e in entries] == [
        (2, 8, 2),
        (7, 7, 1),
        (6, 6, 1),
        (1, 5, 3),
        (4, 4, 1),
    ]
    assert sum(e.count for e in entries) == len(events)


def test_an_event_between_two_repeats_of_the_same_stream_breaks_the_run() -> None:
    events = [
        event(1, "ResourceApplied", key="File//motd", message="created", revision="a"),
        event(2, "ResourceFailed", key="File//motd", message="disk full", revision="a"),
        event(3, "ResourceApplied", key="File//motd", message="created", revision="a"),
    ]
    assert [e.count for e in feed.collapse(events)] == [1, 1, 1]


def test_paths_quote_what_a_url_cannot_hold() -> None:
    assert feed.run_path("wf-1/deploy#2") == "/runs/wf-1/deploy%232"
    assert feed.resource_path("File//a b") == "/resources/File//a%20b"
    assert (
        feed.decisions_path(key="Deployment/shop/web") == "/decisions?key=Deployment%2Fshop%2Fweb"
    )


def test_scopes_read_as_text() -> None:
    scope = models.Scope.model_validate(
        {
            "kinds": ["apps/Deployment", "Service"],
            "namespaces": ["shop-*"],
            "excludedNamespaces": ["shop-test"],
            "names": ["web-*"],
            "labelSelector": {
                "matchLabels": {"tier": "web", "app": "shop"},
                "matchExpressions": [
                    {"key": "zone", "operator": "In", "values": ["a", "b"]},
                    {"key": "stage", "operator": "NotIn", "values": ["dev"]},
                    {"key": "owner", "operator": "Exists"},
                    {"key": "legacy", "operator": "DoesNotExist"},
                ],
            },
        }
    )
    assert served.scope_text(scope) == (
        "kinds apps/Deployment, Service; namespaces shop-*; not in namespaces shop-test; "
        "names web-*; labels app=shop, tier=web, zone in (a, b), stage notin (dev), owner, !legacy"
    )
    assert served.scope_text(models.Scope()) == "everything"


def test_a_gatekeeper_match_reads_as_text() -> None:
    match = gatekeeper_match.Match(
        kinds=(gatekeeper_match.Kinds(groups=("", "apps"), kinds=("Service", "Deployment")),),
        scope=gatekeeper_match.Scope.NAMESPACED,
        namespaces=("prod-*",),
        name="web",
        label_selector=models.LabelSelector.model_validate({"matchLabels": {"app": "web"}}),
        namespace_selector=models.LabelSelector.model_validate({"matchLabels": {"team": "a"}}),
    )
    assert served.match_text(match) == (
        "kinds Service, Deployment, apps/Service, apps/Deployment; namespaced objects only; "
        "namespaces prod-*; name web; labels app=web; namespaces labelled team=a"
    )
    assert served.match_text(gatekeeper_match.Match()) == "everything"
    assert served.match_text(gatekeeper_match.Match(kinds=(gatekeeper_match.Kinds(),))) == (
        "kinds *"
    )


def test_times_are_compact_utc() -> None:
    local = datetime(2026, 12, 3, 9, 1, 2, 345678, tzinfo=timezone(timedelta(hours=1)))
    assert render.when(local) == "2026-12-03 08:01:02Z"
    assert render.when(local.isoformat()) == "2026-12-03 08:01:02Z"
    assert render.when(None) == "-"


def test_a_gradual_binding_says_what_it_does_now_and_until_when() -> None:
    spec = models.PolicyBindingSpec.model_validate(
        {"policy": "files.owner", "enforcement": "gradual", "gradual": {"deadline": T0}}
    )
    before, after = T0 - timedelta(seconds=1), T0
    assert served.binding_note(spec, now=before) == ("advisory until", T0.isoformat())
    assert served.binding_note(spec, now=after) == ("strict since", T0.isoformat())
    strict = models.PolicyBindingSpec.model_validate({"policy": "files.owner"})
    assert served.binding_note(strict, now=after) == ("", None)
