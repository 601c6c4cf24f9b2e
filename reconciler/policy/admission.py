"""Recorded admission reviews as evaluation input, as `gator verify` accepts them.

An `AdmissionReview` document (`admission.k8s.io/*`) under `resources/` is not an object to
manage but a review someone recorded: `reconciler eval` evaluates the object it reviews, with
`request.oldObject` as the live object, so policies see the `input.review` Gatekeeper built for
that request: `CREATE` (no old object), `UPDATE` (both) or `DELETE` (the old object only).
The decisions name the review's file and line.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from reconciler.specs import kinds
from reconciler.specs.snapshot import Document


@dataclass(frozen=True, kw_only=True)
class Review:
    """What one recorded review asks to evaluate."""

    resource: Document
    observed: dict[str, Any] | None
    change: dict[str, Any] | None


def is_review(doc: Document) -> bool:
    return kinds.is_admission_review(doc.api_version, doc.kind)


def review_of(doc: Document) -> Review | None:
    """The review `doc` records, or None when it holds no object to review."""
    request = doc.body.get("request")
    if not isinstance(request, dict):
        return None
    operation = str(request.get("operation") or "CREATE").upper()
    new, old = request.get("object"), request.get("oldObject")
    reviewed = old if operation == "DELETE" else new
    if not isinstance(reviewed, dict):
        return None
    meta = _mapping(reviewed.get("metadata"))
    namespace = meta.get("namespace") or request.get("namespace")
    labels = _mapping(meta.get("labels"))
    resource = Document(
        path=doc.path,
        line=doc.line,
        index=doc.index,
        api_version=str(reviewed.get("apiVersion") or ""),
        kind=str(reviewed.get("kind") or ""),
        name=str(meta.get("name") or request.get("name") or ""),
        namespace=str(namespace) if namespace else None,
        labels=MappingProxyType({str(k): str(v) for k, v in labels.items()}),
        body=reviewed,
    )
    if operation == "DELETE":
        return Review(resource=resource, observed=reviewed, change={"action": "delete"})
    if operation == "UPDATE":
        live = old if isinstance(old, dict) else reviewed
        return Review(resource=resource, observed=live, change=None)
    return Review(resource=resource, observed=None, change={"action": "create"})


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
