"""What the simulation process and its sandbox say to each other: JSON lines.

The parent writes one request line; the sandbox answers with one message per line:
`{"stage": name}` when a stage starts, `{"section": name, "value": ...}` for each result,
`{"need": "inputs"}` when it waits for the parent's observed state (one line back), and
`{"done": true}` at the end. Documents travel as plain JSON (`doc_json`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import IO, Any

from reconciler.specs.snapshot import Document


def doc_json(doc: Document) -> dict[str, Any]:
    return {
        "path": doc.path,
        "line": doc.line,
        "index": doc.index,
        "apiVersion": doc.api_version,
        "kind": doc.kind,
        "name": doc.name,
        "namespace": doc.namespace,
        "labels": dict(doc.labels),
        "body": doc.body,
    }


def doc_from_json(value: Mapping[str, Any]) -> Document:
    return Document(
        path=value["path"],
        line=value["line"],
        index=value["index"],
        api_version=value["apiVersion"],
        kind=value["kind"],
        name=value["name"],
        namespace=value["namespace"],
        labels=MappingProxyType(dict(value["labels"])),
        body=value["body"],
    )


def send(stream: IO[str], message: Mapping[str, Any]) -> None:
    stream.write(json.dumps(message, separators=(",", ":")) + "\n")
    stream.flush()


def receive(stream: IO[str]) -> dict[str, Any]:
    line = stream.readline()
    if not line:
        raise EOFError("the other side closed the channel")
    loaded: dict[str, Any] = json.loads(line)
    return loaded
