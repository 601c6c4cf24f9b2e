"""Models of the webhook payload fields the daemon acts on, validated before any is used.

A verified delivery is still untrusted data: a field of the wrong type, a number past what
the store holds or a string of megabytes is refused with a 400 naming the key path
(`pull_request.number: Input should be less than or equal to 2147483647`), never carried
into a trigger or a simulation. Keys the daemon does not read are ignored whatever they
hold; a missing or `null` object reads as empty, as forges leave keys out.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

MAX_DEPTH = 64
"""Deepest nesting of a webhook body; deeper ones are refused before they are used."""

Text = Annotated[str, StringConstraints(max_length=4096)]
Number = Annotated[int, Field(ge=0, le=2**31 - 1)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: Any) -> Any:
        """Forges send `null` for what a delivery lacks: read it as the key left out."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None}
        return data


class Repository(_Payload):
    """GitHub `repository`, GitLab `project` / `repository`."""

    clone_url: Text | None = None
    ssh_url: Text | None = None
    html_url: Text | None = None
    git_url: Text | None = None
    full_name: Text | None = None
    git_http_url: Text | None = None
    git_ssh_url: Text | None = None
    http_url: Text | None = None
    url: Text | None = None
    web_url: Text | None = None
    id: Number | Text | None = None


class Push(_Payload):
    ref: Text = ""
    after: Text | None = None
    checkout_sha: Text | None = None
    deleted: bool = False
    object_kind: Text = ""


class Side(_Payload):
    ref: Text | None = None
    sha: Text | None = None


class PullRequest(_Payload):
    head: Side = Side()
    base: Side = Side()


class GithubPullRequest(_Payload):
    action: Text | None = None
    number: Number | None = None
    pull_request: PullRequest = PullRequest()


class Commit(_Payload):
    id: Text | None = None


class DiffRefs(_Payload):
    base_sha: Text | None = None


class MergeAttributes(_Payload):
    action: Text = ""
    iid: Number | None = None
    source_branch: Text | None = None
    target_branch: Text | None = None
    last_commit: Commit = Commit()
    diff_refs: DiffRefs = DiffRefs()
    target_project_id: Number | Text | None = None


class GitlabMergeRequest(_Payload):
    object_attributes: MergeAttributes = MergeAttributes()


class Generic(_Payload):
    ref: Text | None = None
    sha: Text | None = None
    repo: Text | None = None
    workflow: Annotated[str, StringConstraints(min_length=1, max_length=253)] | None = None
    variables: dict[str, Any] = Field(default_factory=dict)


class Invalid(ValueError):
    """The payload does not fit its model; the message names each key path."""


M = TypeVar("M", bound=_Payload)


def read(model: type[M], payload: Any) -> M:
    """`payload` as `model`, or `Invalid` naming every wrong key and why."""
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        raise Invalid("; ".join(_problem(e) for e in exc.errors()[:5])) from None


def _problem(error: Any, *, within: str = "") -> str:
    path = ".".join(
        [within, *(str(part) for part in error["loc"])]
        if within
        else [str(part) for part in error["loc"]]
    )
    return f"{path or 'body'}: {error['msg']}"


def repository(payload: Any, *keys: str) -> Repository:
    """The first of `keys` present as the delivery's repository (empty if none is)."""
    for key in keys:
        if isinstance(payload, dict) and payload.get(key) is not None:
            try:
                return Repository.model_validate(payload[key])
            except ValidationError as exc:
                problems = (_problem(e, within=key) for e in exc.errors()[:5])
                raise Invalid("; ".join(problems)) from None
    return Repository()


def depth(value: Any) -> int:
    """How deeply `value` nests lists and objects (iteratively: no recursion limit)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item)
    return deepest
