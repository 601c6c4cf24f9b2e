"""Source settings: one of url or path, known URL schemes, clean sub-paths, camelCase keys."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from reconciler.source import settings


def _error(**values: object) -> str:
    with pytest.raises(pydantic.ValidationError) as raised:
        settings.SourceSettings.model_validate(values)
    (error,) = raised.value.errors()
    return str(error["msg"])


def test_exactly_one_of_url_or_path() -> None:
    assert _error() == "Value error, set exactly one of url or path"
    assert _error(url="file:///r", path="/r") == "Value error, set exactly one of url or path"


def test_unknown_scheme_is_named_without_credentials() -> None:
    assert _error(url="ftp://me:pw@host/r.git") == (
        "Value error, unsupported URL scheme in ftp://***@host/r.git "
        "(use file, http, https, ssh, git+ssh, ssh+git)"
    )


def test_escaping_subpath_is_refused() -> None:
    assert _error(path="/r", subpath="a/../../b") == (
        'Value error, sub-path "a/../../b" escapes the repository'
    )


def test_camel_case_keys_and_defaults(tmp_path: Path) -> None:
    loaded = settings.SourceSettings.model_validate(
        {
            "url": "git@github.com:org/repo.git",
            "subpath": "./deploy/",
            "cacheDir": str(tmp_path),
            "auth": {"sshKeyFile": "/keys/id_ed25519"},
            "trustedKeys": {"sshAllowedSigners": ["a@example.com ssh-ed25519 AAAA"]},
        }
    )

    assert loaded.subpath == "deploy"
    assert loaded.ref == "main"
    assert loaded.location == "git@github.com:org/repo.git"
    assert loaded.auth.ssh_key_file == Path("/keys/id_ed25519")
    assert loaded.trusted_keys is not None and not loaded.trusted_keys.empty
    assert settings.TrustedKeys().empty


def test_token_from_env_or_file_not_both() -> None:
    with pytest.raises(pydantic.ValidationError) as raised:
        settings.GitAuth(token_env="T", token_file=Path("/t"))
    assert raised.value.errors()[0]["msg"] == "Value error, set tokenEnv or tokenFile, not both"
