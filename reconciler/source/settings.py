"""Settings of one Git source: where the repository is, which ref, how to log in, whom to trust.

A source is either a local repository (`path`, read in place) or a remote (`url`, mirrored
into a bare clone in `cache_dir`). Secrets never live in the settings themselves: a token is
read from an environment variable or a file at fetch time, an SSH key from a file, so the
settings can be printed and logged. `redact_url` is the one place credentials written into a
URL are masked before the URL reaches a message or a log line.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

REDACTED = "***"
_URL_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@")
_SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:(?!//)")
_SCHEMES = ("file", "http", "https", "ssh", "git+ssh", "ssh+git")


class _Settings(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True
    )


class GitAuth(_Settings):
    """How to log in to a remote. Empty: anonymous."""

    token_env: str | None = None
    """Environment variable holding an HTTPS token (or password)."""
    token_file: Path | None = None
    """File holding an HTTPS token; surrounding whitespace is ignored."""
    username: str = "git"
    """User name sent with the token (GitHub: any; GitLab: `oauth2`)."""
    ssh_key_file: Path | None = None
    """Private SSH key; its public half is `ssh_public_key_file` or the key path + `.pub`."""
    ssh_public_key_file: Path | None = None
    ssh_passphrase_env: str | None = None
    """Environment variable holding the passphrase of the SSH key, if it has one."""

    @model_validator(mode="after")
    def _one_token_source(self) -> GitAuth:
        if self.token_env and self.token_file:
            raise ValueError("set tokenEnv or tokenFile, not both")
        return self


class TrustedKeys(_Settings):
    """Keys whose commit signatures are accepted. A source with these set rejects others."""

    gpg_key_files: tuple[Path, ...] = ()
    """ASCII-armored GPG public keys."""
    ssh_allowed_signers: tuple[str, ...] = ()
    """Lines in ssh-keygen's allowed-signers format: `principal [options] key-type key`."""
    ssh_allowed_signers_files: tuple[Path, ...] = ()

    @property
    def empty(self) -> bool:
        return not (
            self.gpg_key_files or self.ssh_allowed_signers or self.ssh_allowed_signers_files
        )


class SourceSettings(_Settings):
    """One Git repository the daemon reads desired state from."""

    url: str | None = None
    """Remote URL: file://, https://, ssh:// or scp-like `git@host:org/repo.git`."""
    path: Path | None = None
    """A local repository read in place (its working tree is ignored)."""
    ref: str = "main"
    """Branch, tag or commit sha to follow."""
    subpath: str = ""
    """Folder inside the repository that holds the specs; empty for the root."""
    cache_dir: Path = Field(default_factory=lambda: Path.home() / ".cache" / "reconciler" / "git")
    """Where remote repositories are mirrored (one bare clone per URL)."""
    auth: GitAuth = GitAuth()
    trusted_keys: TrustedKeys | None = None
    """When set, every resolved commit must carry a good signature by one of these keys."""

    @model_validator(mode="after")
    def _url_or_path(self) -> SourceSettings:
        if (self.url is None) == (self.path is None):
            raise ValueError("set exactly one of url or path")
        return self

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str | None) -> str | None:
        if url is None or _SCP_LIKE.match(url):
            return url
        scheme = urlsplit(url).scheme
        if scheme not in _SCHEMES:
            raise ValueError(
                f"unsupported URL scheme in {redact_url(url)} (use {', '.join(_SCHEMES)})"
            )
        return url

    @field_validator("subpath")
    @classmethod
    def _relative_subpath(cls, subpath: str) -> str:
        return normalize_subpath(subpath)

    @property
    def location(self) -> str:
        """The repository as shown in messages: the path, or the URL without credentials."""
        return str(self.path) if self.path is not None else redact_url(self.url or "")


def normalize_subpath(subpath: str) -> str:
    """`subpath` as a clean relative POSIX path ("" for the root); raises on `..` or `/x`."""
    pure = PurePosixPath(subpath.strip())
    if pure.is_absolute() or ".." in pure.parts:
        raise ValueError(f'sub-path "{subpath}" escapes the repository')
    return "/".join(pure.parts)


def redact_url(url: str) -> str:
    """`url` with any user name, password or token replaced by `***`."""
    if _SCP_LIKE.match(url):
        return url
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{REDACTED}@{host}"))


def redact_text(text: str, *, secrets: tuple[str, ...] = ()) -> str:
    """`text` with URL credentials and each of `secrets` masked."""
    text = _URL_USERINFO.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, REDACTED)
    return text
