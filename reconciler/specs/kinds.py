"""Our own kinds: the registry `kind -> model`, and validation into short human messages.

Everything that checks a document against its model goes through `validate`, which turns
each pydantic error into one `(key path, message)` pair worded for the person who wrote the
YAML: `unknown key`, `required`, `must be a string`, `must be one of: strict, advisory` —
never pydantic's own phrasing or links. The resource kinds the built-in providers manage
(`File`, `ExecResource`, `HttpResource`) are defined here, once: the loader validates them
and the providers read their specs with the same models, so a spec that validates is one
a provider accepts. Foreign kinds are not validated beyond the envelope. Which kinds may
live where (`route`, `placement`) is decided here too, so the repository layout and the
kinds it admits are read in one place.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from reconciler.specs import flows, models, types

Loc = tuple[str | int, ...]
Issue = tuple[Loc, str]


_QUOTE_MODE = 'must be a quoted octal string like "0644" (YAML reads 0644 unquoted as a number)'


RELATIVE_PATH = (
    'must be an absolute path, or a relative one without ".." (inside the daemon\'s '
    "<data-dir>/files)"
)


class FileSpec(models.Model):
    """`spec` of a File: a file (or directory) on the reconciler's host, owned whole.

    `path` is absolute, or relative to the folder the daemon manages files in
    (`<data-dir>/files`). `content` is written as it is; `template` is rendered with `vars`
    by the file provider.
    `state: absent` asserts that the path does not exist.
    """

    path: str
    content: str | None = None
    template: str | None = None
    vars: dict[str, Any] = Field(default_factory=dict)
    mode: str | None = None
    state: Literal["present", "absent"] = "present"
    directory: bool = False

    @field_validator("path")
    @classmethod
    def _absolute(cls, value: str) -> str:
        """Absolute, or relative to the daemon's managed folder (`<data-dir>/files`) and
        staying inside it."""
        if os.path.isabs(value):
            return value
        parts = value.split("/")
        if not value.strip() or ".." in parts or all(p in ("", ".") for p in parts):
            raise ValueError(RELATIVE_PATH)
        return value

    @field_validator("mode", mode="before")
    @classmethod
    def _octal(cls, value: Any) -> Any:
        if value is not None and not (isinstance(value, str) and _is_mode(value)):
            raise ValueError(_QUOTE_MODE if isinstance(value, int) else 'must be like "0644"')
        return value

    @model_validator(mode="after")
    def _one_source(self) -> FileSpec:
        given = [k for k in ("content", "template") if getattr(self, k) is not None]
        if self.directory and given:
            raise ValueError(f"a directory has no {given[0]}")
        if len(given) > 1:
            raise ValueError("set content or template, not both")
        if self.state == "present" and not self.directory and not given:
            raise ValueError("set content or template")
        return self


def _is_mode(value: str) -> bool:
    return len(value) == 4 and all(c in "01234567" for c in value)


class File(models.Model):
    api_version: Literal["reconciler.dev/v1"]
    kind: Literal["File"]
    metadata: models.Metadata
    spec: FileSpec


class ExecResourceSpec(models.Model):
    """`spec` of an ExecResource: managed by an external program speaking JSON."""

    provider: str = Field(min_length=1, description="program, relative to the repository root")
    desired: dict[str, Any] = Field(default_factory=dict)
    timeout: types.PositiveDuration | None = None


class ExecResource(models.Model):
    api_version: Literal["reconciler.dev/v1"]
    kind: Literal["ExecResource"]
    metadata: models.Metadata
    spec: ExecResourceSpec


class HeaderFromFile(models.Model):
    name: str = Field(min_length=1)
    path: str = Field(min_length=1)


class HttpAuth(models.Model):
    """Exactly one way to authenticate; the secret is read when the request is made."""

    bearer_token_env: str | None = None
    header_from_file: HeaderFromFile | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> HttpAuth:
        if (self.bearer_token_env is None) == (self.header_from_file is None):
            raise ValueError("set exactly one of bearerTokenEnv or headerFromFile")
        return self


class HttpResourceSpec(models.Model):
    """`spec` of an HttpResource: a JSON object behind a REST API, at one URL."""

    url: str
    body: dict[str, Any] = Field(default_factory=dict)
    method: Literal["PUT", "PATCH"] = "PUT"
    headers: dict[str, str] = Field(default_factory=dict)
    auth: HttpAuth | None = None
    timeout: types.PositiveDuration | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value


class HttpResource(models.Model):
    api_version: Literal["reconciler.dev/v1"]
    kind: Literal["HttpResource"]
    metadata: models.Metadata
    spec: HttpResourceSpec


KINDS: Mapping[str, type[BaseModel]] = MappingProxyType(
    {
        "Settings": models.RepoSettings,
        "PolicyBinding": models.PolicyBinding,
        "Workflow": flows.Workflow,
        "Runbook": flows.Runbook,
        "File": File,
        "ExecResource": ExecResource,
        "HttpResource": HttpResource,
    }
)
RESOURCE_KINDS = frozenset({"File", "ExecResource", "HttpResource"})


def is_own(api_version: str) -> bool:
    """True for documents of our API group, whose kinds must be known."""
    return api_version.partition("/")[0] == models.API_GROUP


def validate(kind: str, body: Any) -> tuple[BaseModel | None, list[Issue]]:
    """The model of `body` for a registered `kind`, or the issues that prevent it."""
    try:
        return KINDS[kind].model_validate(body), []
    except ValidationError as exc:
        return None, [(tuple(error["loc"]), message(error)) for error in exc.errors()]


_SIMPLE = {
    "extra_forbidden": "unknown key",
    "missing": "required",
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "datetime_type": 'must be a date-time like "2027-01-31T00:00:00Z"',
    "datetime_parsing": 'must be a date-time like "2027-01-31T00:00:00Z"',
    "datetime_from_date_parsing": 'must be a date-time like "2027-01-31T00:00:00Z"',
}


def message(error: ErrorDetails) -> str:
    """One short sentence for one pydantic error."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind in _SIMPLE:
        return _SIMPLE[kind]
    if kind in ("enum", "literal_error"):
        expected = str(ctx.get("expected", "")).replace(" or ", ", ").replace("'", "")
        return f"must be one of: {expected}" if "," in expected else f"must be {expected}"
    if kind in ("string_too_short", "too_short", "string_too_long", "too_long"):
        return _size(kind, ctx)
    if kind == "string_pattern_mismatch":
        return f"must match {ctx.get('pattern')}"
    bounds = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<="}
    if kind in bounds or kind == "less_than":
        limit = next(iter(ctx.values()), "")
        return f"must be {bounds.get(kind, '<')} {limit}"
    text = error["msg"]
    text = text.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return text[:1].lower() + text[1:]


def _size(kind: str, ctx: Mapping[str, Any]) -> str:
    if ctx.get("min_length") == 1:
        return "must not be empty"
    word, limit = (
        ("at least", ctx["min_length"]) if "short" in kind else ("at most", ctx.get("max_length"))
    )
    unit = "characters" if kind.startswith("string") else "items"
    return f"must have {word} {limit} {unit}"


@dataclass(frozen=True, kw_only=True)
class Envelope:
    """What every document must carry, whatever its kind."""

    api_version: str
    kind: str
    name: str
    namespace: str | None
    labels: MappingProxyType[str, str]


_TYPE_WORDS = {
    list: "a list",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
}


def envelope(body: Any) -> tuple[Envelope | None, list[Issue]]:
    """The envelope of a document, or the issues with it (all of them)."""
    if not isinstance(body, dict):
        what = _TYPE_WORDS.get(type(body), type(body).__name__)
        return None, [((), f"must be a mapping with apiVersion, kind and metadata, not {what}")]
    issues: list[Issue] = []
    api_version = _string(body, ("apiVersion",), issues)
    kind = _string(body, ("kind",), issues)
    metadata = body.get("metadata")
    if metadata is None and api_version and kind and is_admission_review(api_version, kind):
        return _review_envelope(body, api_version=api_version, kind=kind)
    if not isinstance(metadata, dict):
        issues.append((("metadata",), "required" if metadata is None else "must be a mapping"))
        return None, issues
    name = _string(metadata, ("metadata", "name"), issues)
    namespace = _string(metadata, ("metadata", "namespace"), issues, required=False)
    labels = metadata.get("labels") or {}
    if not isinstance(labels, dict):
        issues.append((("metadata", "labels"), "must be a mapping"))
    else:
        issues += [
            (("metadata", "labels", key), "must be a string")
            for key, value in labels.items()
            if not isinstance(value, str)
        ]
    if issues or api_version is None or kind is None or name is None:
        return None, issues
    return Envelope(
        api_version=api_version,
        kind=kind,
        name=name,
        namespace=namespace,
        labels=MappingProxyType(labels),
    ), []


def is_admission_review(api_version: str, kind: str) -> bool:
    """A recorded Kubernetes AdmissionReview (as `gator verify` test cases hold them)."""
    return kind == "AdmissionReview" and api_version.startswith("admission.k8s.io/")


def _review_envelope(
    body: dict[str, Any], *, api_version: str, kind: str
) -> tuple[Envelope | None, list[Issue]]:
    """An AdmissionReview carries no metadata: it is named by the object it reviews."""
    request = body.get("request")
    if not isinstance(request, dict):
        return None, [(("request",), "required: the review's request")]
    reviewed = request.get("object") or request.get("oldObject")
    meta = reviewed.get("metadata") if isinstance(reviewed, dict) else None
    name = (meta.get("name") if isinstance(meta, dict) else None) or request.get("name")
    if not isinstance(name, str) or not name:
        return None, [(("request", "object", "metadata", "name"), "required")]
    return Envelope(
        api_version=api_version, kind=kind, name=name, namespace=None, labels=MappingProxyType({})
    ), []


def _string(
    mapping: dict[str, Any], loc: Loc, issues: list[Issue], *, required: bool = True
) -> str | None:
    value = mapping.get(str(loc[-1]))
    if value is None:
        if required:
            issues.append((loc, "required"))
        return None
    if not isinstance(value, str) or not value:
        issues.append(
            (loc, "must be a string" if not isinstance(value, str) else "must not be empty")
        )
        return None
    return value


class Role(StrEnum):
    """What a file is, by where it lives in the repository."""

    SETTINGS = "settings"
    REGO = "rego"
    POLICY = "policy"
    # YAML in a `policies/` folder that holds `*_test.rego` files: bindings, templates and
    # constraints as in POLICY, or inputs those tests read (conftest's parse_config_file).
    POLICY_TESTS = "policy-tests"
    DATA = "data"
    RESOURCE = "resource"
    WORKFLOW = "workflow"
    RUNBOOK = "runbook"


_YAML = (".yaml", ".yml")
_DIRS = {"resources/": Role.RESOURCE, "workflows/": Role.WORKFLOW, "runbooks/": Role.RUNBOOK}


def route(path: str, *, test_dirs: frozenset[str] = frozenset()) -> Role | None:
    """The role of the file at `path`, None for files the loader ignores; `test_dirs` are
    the folders of `policies/` that hold `*_test.rego` files (see `policy_test_dirs`)."""
    if path == "reconciler.yaml":
        return Role.SETTINGS
    if path.startswith("policies/"):
        if path.endswith(".rego"):
            return Role.REGO
        if not path.endswith(_YAML):
            return None
        return Role.POLICY_TESTS if posixpath.dirname(path) in test_dirs else Role.POLICY
    if path.startswith("data/"):
        return Role.DATA if path.endswith((*_YAML, ".json")) else None
    top = path[: path.find("/") + 1]
    return _DIRS.get(top) if path.endswith(_YAML) else None


def policy_test_dirs(paths: Iterable[str]) -> frozenset[str]:
    """The folders of `policies/` that hold Rego tests (`*_test.rego`)."""
    tests = (p for p in paths if p.startswith("policies/") and p.endswith("_test.rego"))
    return frozenset(posixpath.dirname(p) for p in tests)


_PLACE = {
    Role.SETTINGS: ("Settings", "settings"),
    Role.WORKFLOW: ("Workflow", "workflows"),
    Role.RUNBOOK: ("Runbook", "runbooks"),
}


def placement(role: Role, env: Envelope) -> tuple[str, str | None, list[Issue]]:
    """(Snapshot group, own kind to validate or None, issues) for a document in `role`."""
    own = is_own(env.api_version)
    if role in _PLACE:
        kind, group = _PLACE[role]
        if own and env.kind == kind:
            return group, kind, []
        return group, None, [(("kind",), f"must be {kind} ({models.API_VERSION}) here")]
    if role in (Role.POLICY, Role.POLICY_TESTS):
        return _policy_placement(env, own=own)
    if not own:
        return "resources", None, []
    if env.kind in RESOURCE_KINDS:
        return "resources", env.kind, []
    known = ", ".join(sorted(RESOURCE_KINDS))
    return "resources", None, [(("kind",), f"must be a resource kind ({known}) here")]


def _policy_placement(env: Envelope, *, own: bool) -> tuple[str, str | None, list[Issue]]:
    group = env.api_version.partition("/")[0]
    if own and env.kind == "PolicyBinding":
        return "bindings", "PolicyBinding", []
    if group == "templates.gatekeeper.sh" and env.kind == "ConstraintTemplate":
        return "constraint_templates", None, []
    if group == "constraints.gatekeeper.sh":
        return "constraints", None, []
    message = "must be PolicyBinding, a Gatekeeper ConstraintTemplate or a constraint here"
    return "bindings", None, [(("kind",), message)]
