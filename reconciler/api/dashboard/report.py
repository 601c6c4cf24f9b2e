"""A simulation's Markdown report as HTML for the dashboard, safe to show.

The report quotes the pull request (resource names, policy messages, file paths), so its
Markdown is rendered by markdown-it-py with raw HTML disabled: every tag in it comes out
as text, and unsafe link schemes (`javascript:` and the like) are not linked. The only
HTML the report's renderer writes on purpose, the `<details><summary>` folds around each
section, is recognised line by line and rebuilt here with the title escaped.
"""

from __future__ import annotations

import re

from markdown_it import MarkdownIt
from markupsafe import Markup, escape

_OPEN = re.compile(r"^<details><summary>(?P<title>.*)</summary>$")
_CLOSE = "</details>"


def to_html(text: str) -> Markup:
    """The report (every part) as HTML; nothing in `text` can add markup of its own."""
    md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
    out: list[str] = []
    chunk: list[str] = []
    depth = 0

    def flush() -> None:
        if chunk:
            out.append(md.render("\n".join(chunk)))
            chunk.clear()

    for line in text.splitlines():
        opened = _OPEN.match(line)
        if opened:
            flush()
            depth += 1
            out.append(f"<details><summary>{escape(opened.group('title'))}</summary>\n")
        elif line == _CLOSE and depth:
            flush()
            depth -= 1
            out.append("</details>\n")
        else:
            chunk.append(line)
    flush()
    out.extend("</details>\n" for _ in range(depth))
    return Markup("".join(out))
