"""Jinja2 templates and static assets of the dashboard, read from this package's folders.

Pages are rendered to strings here so the web framework stays inside `api.app`; the
environment autoescapes everything and carries the small filters the templates share.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2

HERE = Path(__file__).resolve().parent
STATIC = HERE / "static"
FAVICON = "favicon.svg"
MEDIA_TYPES = {".css": "text/css", ".js": "text/javascript", ".svg": "image/svg+xml"}


@dataclass(frozen=True, kw_only=True)
class Page:
    """A page to render: its template, what it shows, and the HTTP status to answer with."""

    template: str
    title: str
    context: dict[str, Any] = field(default_factory=dict)
    status: int = 200


def short(sha: str | None) -> str:
    return sha[:12] if sha else "-"


def when(value: str | datetime | None) -> str:
    """An ISO time as a compact `2026-01-01 12:00:05Z` in UTC (what the API returns, made
    readable; the `moment` macro keeps it on one line and the full ISO time in its title)."""
    if not value:
        return "-"
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")


def as_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class Renderer:
    def __init__(self) -> None:
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(short=short, when=when, as_json=as_json)

    def render(self, page: Page, **common: Any) -> str:
        template = self.env.get_template(page.template)
        return template.render(title=page.title, **common, **page.context)


def static_file(name: str) -> tuple[bytes, str] | None:
    """The bytes and media type of a static asset, or None (no path leaves the folder)."""
    path = (STATIC / name).resolve()
    if path.parent != STATIC or not path.is_file() or path.suffix not in MEDIA_TYPES:
        return None
    return path.read_bytes(), MEDIA_TYPES[path.suffix]
