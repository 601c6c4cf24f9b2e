"""Property: whatever a verified delivery's body holds, the webhook parsers answer with a
`Delivery` or `WebhookRejected` (a 4xx), never another exception, and what they return is
typed as `Delivery` says, so the simulation queue can use it (`simulator.jobs_for`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.api import webhooks
from reconciler.reconcile.settings import DaemonSource
from reconciler.reconcile.simulations import service as simulator

KEYS = [
    *("repository", "project", "pull_request", "object_attributes", "head", "base", "ref"),
    *("sha", "after", "action", "number", "iid", "last_commit", "diff_refs", "clone_url"),
    *("full_name", "object_kind", "workflow", "variables", "repo", "deleted", "id"),
    *("source_branch", "target_branch", "base_sha", "checkout_sha", "git_http_url"),
]
scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner),
    max_leaves=15,
)
payloads = st.dictionaries(st.sampled_from(KEYS), values, max_size=8)
EVENTS = [None, "ping", "push", "pull_request", "Push Hook", "Merge Request Hook", "x"]
SOURCE = DaemonSource(name="main", path=Path("/srv/policies"))


def _typed(found: webhooks.Delivery) -> None:
    text = (found.ref, found.sha, found.action, found.base_ref, found.base_sha, found.forge_repo)
    assert all(v is None or isinstance(v, str) for v in text)
    assert found.number is None or type(found.number) is int
    assert all(isinstance(u, str) for u in found.repo_urls)
    simulator.jobs_for(found, [SOURCE])


@settings(max_examples=100, deadline=None)
@given(payload=payloads, event=st.sampled_from(EVENTS))
def test_forge_parsers_return_a_delivery_or_reject(
    payload: dict[str, Any], event: str | None
) -> None:
    for parse in (webhooks.parse_github, webhooks.parse_gitlab):
        try:
            found = parse(event, payload)
        except webhooks.WebhookRejected as exc:
            assert 400 <= exc.status < 500
        else:
            _typed(found)


@settings(max_examples=100, deadline=None)
@given(payload=payloads)
def test_the_generic_parser_returns_a_delivery_or_rejects(payload: dict[str, Any]) -> None:
    try:
        found = webhooks.parse_generic(payload)
    except webhooks.WebhookRejected as exc:
        assert 400 <= exc.status < 500
    else:
        _typed(found)


@settings(max_examples=100, deadline=None)
@given(body=st.binary(max_size=300) | values.map(lambda v: json.dumps(v).encode()))
def test_any_body_is_a_json_object_or_rejected(body: bytes) -> None:
    try:
        found = webhooks.load_json(body)
    except webhooks.WebhookRejected as exc:
        assert exc.status == 400
    else:
        assert isinstance(found, dict)
