"""Test helpers: build a `Snapshot` from YAML and Rego texts, as a repository would hold them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
import yaml

from reconciler.source.revision import Revision
from reconciler.specs import models
from reconciler.specs.snapshot import Document, RegoFile, Snapshot

FIXTURES = Path(__file__).parent / "fixtures"
NO_BUILTINS = Path("/nonexistent/rego")  # tests load no built-in library unless they say so


def documents(path: str, text: str) -> list[Document]:
    """Every YAML document of one file, with the line it starts on."""
    loader = yaml.SafeLoader(text)
    docs: list[Document] = []
    try:
        while loader.check_node():
            node = loader.get_node()
            body = loader.construct_document(node)
            if not isinstance(body, dict):
                continue
            meta = body.get("metadata") or {}
            docs.append(
                Document(
                    path=path,
                    line=node.start_mark.line + 1,
                    index=len(docs),
                    api_version=body.get("apiVersion", ""),
                    kind=body.get("kind", ""),
                    name=meta.get("name", ""),
                    namespace=meta.get("namespace"),
                    labels=MappingProxyType(dict(meta.get("labels") or {})),
                    body=body,
                )
            )
    finally:
        loader.dispose()
    return docs


def make_snapshot(files: Mapping[str, str], *, revision: Revision | None = None) -> Snapshot:
    """Sort files into a Snapshot the way the loader does (by path, then by kind)."""
    parts: dict[str, list[Any]] = {
        "resources": [],
        "bindings": [],
        "constraint_templates": [],
        "constraints": [],
    }
    rego: list[RegoFile] = []
    data: dict[str, Any] = {}
    for path in sorted(files):
        if path.endswith(".rego"):
            rego.append(RegoFile(path=path, text=files[path]))
            continue
        for doc in documents(path, files[path]):
            if path.startswith("data/"):
                data.update(doc.body)
            elif doc.kind == "PolicyBinding":
                parts["bindings"].append((doc, models.PolicyBinding.model_validate(doc.body)))
            elif doc.kind == "ConstraintTemplate":
                parts["constraint_templates"].append(doc)
            elif doc.group == "constraints.gatekeeper.sh":
                parts["constraints"].append(doc)
            else:
                parts["resources"].append(doc)
    return Snapshot(
        revision=revision,
        settings=models.default_settings(),
        rego=tuple(rego),
        data=data,
        **{k: tuple(v) for k, v in parts.items()},
    )


@pytest.fixture
def snapshot_of() -> Callable[[Mapping[str, str]], Snapshot]:
    return make_snapshot
