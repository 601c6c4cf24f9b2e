"""HTTPS: the daemon serves its API over TLS with the certificate it is given, the CLI
verifies it (`--cacert`), a rotated certificate is served without a restart, and a pair
that does not load is refused before the daemon starts. Certificates come from a local
test CA (trustme); everything is on loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import gitrepo
from tests.e2e import harness, repos
from tests.e2e.conftest import Launch

trustme = pytest.importorskip("trustme", reason="the TLS tests make certificates with trustme")


def _issue(ca: trustme.CA, folder: Path) -> tuple[Path, Path, Path]:
    """A server certificate for 127.0.0.1 signed by `ca`: (cert, key, the CA's cert)."""
    folder.mkdir(exist_ok=True)
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    cert, key, authority = folder / "cert.pem", folder / "key.pem", folder / "ca.pem"
    leaf.private_key_and_cert_chain_pem.write_to_path(str(cert))
    leaf.private_key_pem.write_to_path(str(key))
    ca.cert_pem.write_to_path(str(authority))
    return cert, key, authority


def _install(cert: Path, key: Path, *, into: Path) -> None:
    """Replace the served pair the way a certificate manager does: new files, renamed in."""
    for source, name in ((cert, "cert.pem"), (key, "key.pem")):
        partial = into / f".{name}.new"
        partial.write_bytes(source.read_bytes())
        partial.replace(into / name)


def test_the_api_is_served_over_tls_verified_by_the_cli_and_a_rotated_cert_is_picked_up(
    tmp_path: Path, launch: Launch
) -> None:
    repo = tmp_path / "repo"
    gitrepo.make_repo(repo, repos.settings())
    first_cert, first_key, first_ca = _issue(trustme.CA(), tmp_path / "first")
    served = tmp_path / "served"
    served.mkdir()
    _install(first_cert, first_key, into=served)
    config = tmp_path / "daemon.json"
    tls = {"certFile": str(served / "cert.pem"), "keyFile": str(served / "key.pem")}
    config.write_text(
        json.dumps(
            {
                "dataDir": str(tmp_path / "state"),
                "http": {"port": 0, "tls": {**tls, "reloadInterval": "1s"}},
                "sources": [{"name": "repo", "path": str(repo)}],
            }
        )
    )
    daemon = launch(["--config", str(config)])
    assert daemon.url.startswith("https://127.0.0.1:")

    verified = harness.cli(tmp_path, "status", "--url", daemon.url, "--cacert", str(first_ca))
    assert verified.returncode == 0, verified.stderr
    assert "repo" in verified.stdout
    unverified = harness.cli(tmp_path, "status", "--url", daemon.url)
    assert unverified.returncode == 1
    assert "certificate verify failed" in unverified.stderr
    plain = harness.cli(tmp_path, "status", "--url", daemon.url.replace("https", "http"))
    assert plain.returncode == 1 and "cannot reach the daemon" in plain.stderr

    second_cert, second_key, second_ca = _issue(trustme.CA(), tmp_path / "second")
    _install(second_cert, second_key, into=served)

    def rotated() -> None:
        now = harness.cli(tmp_path, "status", "--url", daemon.url, "--cacert", str(second_ca))
        assert now.returncode == 0, now.stderr

    harness.eventually(rotated, what="the rotated certificate served")
    old = harness.cli(tmp_path, "status", "--url", daemon.url, "--cacert", str(first_ca))
    assert old.returncode == 1 and "certificate verify failed" in old.stderr
    assert "TLS certificate reloaded from" in daemon.log_path.read_text()


def test_a_key_that_does_not_match_the_certificate_is_refused_before_starting(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    gitrepo.make_repo(repo, repos.settings())
    cert, _, _ = _issue(trustme.CA(), tmp_path / "one")
    _, other_key, _ = _issue(trustme.CA(), tmp_path / "two")
    done = harness.cli(
        tmp_path,
        "serve",
        str(repo),
        "--port",
        "0",
        "--data-dir",
        str(tmp_path / "state"),
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(other_key),
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert f"cannot load certificate {cert} with key {other_key}" in done.stderr
    assert not (tmp_path / "state").exists()
    half = harness.cli(tmp_path, "serve", str(repo), "--tls-cert", str(cert))
    assert half.returncode == 1 and "--tls-cert and --tls-key go together" in half.stderr
