"""Notices queued in the outbox and delivered to real receivers on loopback: Slack-compatible
and signed webhooks over HTTP, email over SMTP (aiosmtpd); dedupe, rate limit and retries."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import UTC, datetime
from typing import Any

import pytest

from reconciler.clock import ManualClock
from reconciler.notify.notices import Notice, Severity
from reconciler.notify.notifier import Notifier
from reconciler.notify.sender import Sender
from reconciler.notify.settings import NotificationSettings
from reconciler.store.outbox import Delivery
from reconciler.store.sqlite import SqliteStore
from tests.notify.conftest import Mailbox, Receiver

KEY = "s3cret-signing-key"
ENV = {"HOOK_KEY": KEY}


def settings(channels: list[dict[str, Any]], **more: Any) -> NotificationSettings:
    routes = [{"channels": [c["name"] for c in channels]}]
    return NotificationSettings.model_validate({"channels": channels, "routes": routes, **more})


def blocked(message: str = "File a has no owner label", key: str = "File//a") -> Notice:
    return Notice(
        type="ResourceBlocked",
        at=datetime(2026, 1, 1, tzinfo=UTC),
        source="prod",
        object_key=key,
        message=message,
        severity=Severity.WARNING,
        data={"binding": "owners"},
    )


def parts(
    store: SqliteStore, chosen: NotificationSettings, clock: ManualClock, **kwargs: Any
) -> tuple[Notifier, Sender]:
    notifier = Notifier(chosen, store=store, clock=clock)
    sender = Sender(chosen, store=store, clock=clock, environ=ENV, rand=lambda: 0.0, **kwargs)
    return notifier, sender


def test_a_slack_message_carries_text_and_blocks(store: SqliteStore, receiver: Receiver) -> None:
    chosen = settings([{"name": "ops", "type": "slack", "url": f"{receiver.url}/slack"}])
    notifier, sender = parts(store, chosen, ManualClock())
    notifier.queue(blocked("File <!channel> has no owner & $key"))
    assert sender.deliver_due() == 1
    [post] = receiver.posts
    payload = json.loads(post.body)
    title = "Change to File//a blocked by policy in prod"
    text = "File &lt;!channel&gt; has no owner &amp; $key"
    assert payload["text"] == f"[warning] {title}: {text}"
    assert payload["blocks"][0] == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": f"*{title}*\n{text}"},
    }
    assert [n.status for n in store.notifications()] == [Delivery.SENT]


def test_a_webhook_is_signed_over_the_timestamp_and_raw_body(
    store: SqliteStore, receiver: Receiver
) -> None:
    chosen = settings(
        [{"name": "hook", "type": "webhook", "url": receiver.url, "secretEnv": "HOOK_KEY"}]
    )
    clock = ManualClock()
    notifier, sender = parts(store, chosen, clock)
    notifier.queue(blocked())
    sender.deliver_due()
    [post] = receiver.posts
    timestamp = post.headers["X-Reconciler-Timestamp"]
    assert timestamp == str(int(clock.now().timestamp()))
    expected = hmac.new(KEY.encode(), timestamp.encode() + b"." + post.body, hashlib.sha256)
    assert post.headers["X-Reconciler-Signature"] == f"sha256={expected.hexdigest()}"
    payload = json.loads(post.body)
    assert (payload["title"], payload["severity"]) == (
        "Change to File//a blocked by policy in prod",
        "warning",
    )
    assert payload["event"]["data"] == {"binding": "owners"}
    # Any change to the body (or a replayed body under a new timestamp) breaks the signature.
    forged = hmac.new(KEY.encode(), b"0." + post.body, hashlib.sha256).hexdigest()
    assert post.headers["X-Reconciler-Signature"] != f"sha256={forged}"


def test_an_email_goes_through_smtp(store: SqliteStore, mailbox: Mailbox) -> None:
    smtp = {"host": mailbox.host, "port": mailbox.port, "sender": "rec@example.org"}
    channel = {"name": "mail", "type": "email", "smtp": {**smtp, "to": ["ops@example.org"]}}
    notifier, sender = parts(store, settings([channel]), ManualClock())
    notifier.queue(blocked())
    assert sender.deliver_due() == 1
    [mail] = mailbox.messages
    assert mail["Subject"] == "[warning] Change to File//a blocked by policy in prod"
    assert (mail["From"], mail["X-Envelope-To"]) == ("rec@example.org", "ops@example.org")
    body = mail.get_payload()
    assert isinstance(body, str)
    assert "File a has no owner label" in body and "object: File//a" in body


def test_the_same_notice_within_the_dedupe_window_is_sent_once(
    store: SqliteStore, receiver: Receiver
) -> None:
    chosen = settings([{"name": "ops", "type": "slack", "url": receiver.url}], dedupeWindow="10m")
    clock = ManualClock()
    notifier, sender = parts(store, chosen, clock)
    assert notifier.queue(blocked()) == 1
    clock.advance(300)
    assert notifier.queue(blocked()) == 0
    assert notifier.queue(blocked(key="File//b")) == 1  # another object
    assert notifier.queue(blocked(message="other")) == 1  # another message
    clock.advance(301)
    assert notifier.queue(blocked()) == 1  # the window has passed
    assert sender.deliver_due() == 4
    assert len(receiver.posts) == 4


def test_a_channel_past_its_rate_waits_for_the_next_minute(
    store: SqliteStore, receiver: Receiver
) -> None:
    chosen = settings(
        [{"name": "ops", "type": "slack", "url": receiver.url}], rateLimit={"perChannel": 2}
    )
    clock = ManualClock()
    notifier, sender = parts(store, chosen, clock)
    for name in "abc":
        notifier.queue(blocked(key=f"File//{name}"))
    assert sender.deliver_due() == 2
    clock.advance(30)
    assert sender.deliver_due() == 0
    assert [n.status for n in store.notifications()] == [Delivery.PENDING, *[Delivery.SENT] * 2]
    clock.advance(31)
    assert sender.deliver_due() == 1
    assert len(receiver.posts) == 3


def test_a_refused_delivery_is_retried_with_backoff(store: SqliteStore, receiver: Receiver) -> None:
    receiver.answers = [500, 503]
    chosen = settings(
        [{"name": "ops", "type": "slack", "url": receiver.url}],
        retry={"backoff": "10s", "maxBackoff": "1m", "attempts": 5},
    )
    clock = ManualClock()
    notifier, sender = parts(store, chosen, clock)
    notifier.queue(blocked())
    assert sender.deliver_due() == 0
    [row] = store.notifications()
    # Equal jitter with the random source at 0: half of 10s, then half of 20s.
    assert (row.status, row.attempts, row.error) == (
        Delivery.PENDING,
        1,
        "channel ops answered 500",
    )
    assert row.next_at == datetime(2026, 1, 1, 0, 0, 5, tzinfo=UTC)
    clock.advance(4)
    assert sender.deliver_due() == 0 and len(receiver.posts) == 1
    clock.advance(1)
    assert sender.deliver_due() == 0
    [row] = store.notifications()
    assert (row.attempts, row.next_at) == (2, datetime(2026, 1, 1, 0, 0, 15, tzinfo=UTC))
    clock.advance(10)
    assert sender.deliver_due() == 1
    [row] = store.notifications()
    assert (row.status, row.attempts, len(receiver.posts)) == (Delivery.SENT, 3, 3)


def test_the_last_attempt_leaves_the_notification_failed_not_gone(
    store: SqliteStore, receiver: Receiver
) -> None:
    receiver.answers = [500, 500]
    chosen = settings(
        [{"name": "ops", "type": "slack", "url": receiver.url}], retry={"attempts": 2}
    )
    clock = ManualClock()
    notifier, sender = parts(store, chosen, clock)
    notifier.queue(blocked())
    sender.deliver_due()
    clock.advance(3600)
    sender.deliver_due()
    clock.advance(3600)
    assert sender.deliver_due() == 0
    [row] = store.notifications()
    assert (row.status, row.attempts, row.error) == (
        Delivery.FAILED,
        2,
        "channel ops answered 500",
    )
    assert len(receiver.posts) == 2


def test_secrets_appear_in_neither_the_log_nor_the_store(
    store: SqliteStore, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    slack_url = f"{receiver.url}/services/{KEY}"  # a Slack webhook URL is a secret itself
    unreachable = f"http://127.0.0.1:1/services/{KEY}"
    receiver.answers = [500, 500]
    chosen = settings(
        [
            {"name": "hook", "type": "webhook", "url": receiver.url, "secretEnv": "HOOK_KEY"},
            {"name": "slack", "type": "slack", "secretEnv": "SLACK_URL"},
            {"name": "gone", "type": "slack", "secretEnv": "GONE_URL"},
        ]
    )
    clock = ManualClock()
    notifier = Notifier(chosen, store=store, clock=clock)
    env = {**ENV, "SLACK_URL": slack_url, "GONE_URL": unreachable}
    sender = Sender(chosen, store=store, clock=clock, environ=env, rand=lambda: 0.0)
    notifier.queue(blocked())
    with caplog.at_level(logging.DEBUG):
        sender.deliver_due()
    rows = {n.channel: n for n in store.notifications()}
    assert (rows["hook"].error, rows["slack"].error) == (
        "channel hook answered 500",
        "channel slack answered 500",
    )
    assert rows["gone"].error == "POST *** failed: [Errno 111] Connection refused"
    assert len(receiver.posts) == 2 and "failed" in caplog.text
    store.close()
    saved = b"".join(p.read_bytes() for p in store.path.parent.glob("state.db*"))
    for secret in (KEY, slack_url, unreachable):
        assert secret not in caplog.text
        assert secret.encode() not in saved
        assert all(secret not in json.dumps(n.message) for n in rows.values())


def test_a_missing_secret_is_a_clear_delivery_error(store: SqliteStore, receiver: Receiver) -> None:
    chosen = settings(
        [{"name": "hook", "type": "webhook", "url": receiver.url, "secretEnv": "NOT_SET"}]
    )
    notifier, sender = parts(store, chosen, ManualClock())
    notifier.queue(blocked())
    sender.deliver_due()
    [row] = store.notifications()
    assert row.error == "environment variable NOT_SET is not set"
    assert receiver.posts == []
