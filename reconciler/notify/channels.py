"""Sending one rendered message to one channel: a Slack-compatible incoming webhook, a JSON
webhook signed with HMAC-SHA256, or an email over SMTP.

The signed webhook's receiver checks `X-Reconciler-Signature: sha256=<hex>`, the HMAC-SHA256
of `<X-Reconciler-Timestamp>.<raw body>` under the shared key, and refuses a timestamp far
from its own clock, so a captured delivery cannot be replayed later. Slack's control
sequences (`<!channel>`, `<url|text>`) are escaped in event text: an event's fields are shown,
never interpreted. HTTP goes through `httpclient`; email through the standard library.
A failure is a `DeliveryFailed` whose message never shows the channel's secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage
from typing import Any

from reconciler import httpclient
from reconciler.notify.settings import Channel, ChannelType, SmtpSettings
from reconciler.source.settings import redact_text
from reconciler.specs.types import seconds

SIGNATURE = "X-Reconciler-Signature"
TIMESTAMP = "X-Reconciler-Timestamp"


class DeliveryFailed(Exception):
    """The receiver did not take the message; it is tried again later."""


def send(
    channel: Channel, message: Mapping[str, Any], *, environ: Mapping[str, str], now: datetime
) -> None:
    """Deliver `message` on `channel`, or raise `DeliveryFailed`."""
    secret = environ.get(channel.secret_env, "") if channel.secret_env else ""
    if channel.secret_env and not secret:
        raise DeliveryFailed(f"environment variable {channel.secret_env} is not set")
    try:
        if channel.type is ChannelType.EMAIL:
            assert channel.smtp is not None
            _email(channel.smtp, message, password=secret, timeout=seconds(channel.timeout))
        elif channel.type is ChannelType.SLACK:
            url = channel.url or secret
            _post(channel, url, body=_json(slack(message)), headers={}, secret=secret)
        else:
            assert channel.url is not None
            body = _json(message)
            headers = signed_headers(body, secret=secret, now=now)
            _post(channel, channel.url, body=body, headers=headers, secret=secret)
    except (OSError, smtplib.SMTPException, httpclient.HttpFailed) as exc:
        raise DeliveryFailed(redact_text(str(exc), secrets=(secret,) if secret else ())) from None


def signed_headers(body: bytes, *, secret: str, now: datetime) -> dict[str, str]:
    timestamp = str(int(now.timestamp()))
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return {TIMESTAMP: timestamp, SIGNATURE: f"sha256={digest.hexdigest()}"}


def slack(message: Mapping[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook payload: `text` for notifications, `blocks` for the view."""
    title, text = _escape(str(message["title"])), _escape(str(message["text"]))
    severity = str(message["severity"])
    event = message["event"]
    context = f"{severity} · {event['type']} · {_escape(str(event['source'] or '-'))}"
    return {
        "text": f"[{severity}] {title}: {text}" if text else f"[{severity}] {title}",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{title}*\n{text}"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ],
    }


def _escape(text: str) -> str:
    """Slack's three control characters (its message formatting reference)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _json(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def _post(channel: Channel, url: str, *, body: bytes, headers: dict[str, str], secret: str) -> None:
    answer = httpclient.request(
        "POST",
        url,
        timeout=seconds(channel.timeout),
        headers={"Content-Type": "application/json", **headers},
        content=body,
        follow_redirects=False,
        max_body=4096,
        secrets=(secret,) if secret else (),
    )
    if not answer.ok:
        raise DeliveryFailed(f"channel {channel.name} answered {answer.status}")


def _email(
    smtp: SmtpSettings, message: Mapping[str, Any], *, password: str, timeout: float
) -> None:
    mail = EmailMessage()
    mail["Subject"] = f"[{message['severity']}] {message['title']}"
    mail["From"] = smtp.sender
    mail["To"] = ", ".join(smtp.to)
    mail.set_content(_email_body(message))
    with smtplib.SMTP(smtp.host, smtp.port, timeout=timeout) as client:
        if smtp.starttls:
            client.starttls(context=ssl.create_default_context())
        if smtp.username:
            client.login(smtp.username, password)
        client.send_message(mail)


def _email_body(message: Mapping[str, Any]) -> str:
    event = message["event"]
    lines = [str(message["title"]), "", str(message["text"]), ""]
    lines += [f"event: {event['type']}", f"at: {event['at']}"]
    lines += [f"source: {event['source'] or '-'}", f"object: {event['objectKey'] or '-'}"]
    return "\n".join(lines) + "\n"
