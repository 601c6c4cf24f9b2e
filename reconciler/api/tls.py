"""HTTPS for the daemon's server: the certificate and key are checked before the daemon
starts, and reloaded while it runs.

Certificates are rotated in place (cert-manager, an ACME client, a symlink swap), so the
server's TLS context is not built once and kept: every `reload_interval` the two files'
signatures (inode, size, modification time) are compared with those last loaded and, on a
change, the pair is loaded into the same `ssl.SSLContext`, which every later handshake
uses; connections already open keep the certificate they were made with. A pair that does
not load (half-written, or a key that does not match) is logged and the one in use stays.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import ssl

from reconciler.errors import UsageError
from reconciler.reconcile.settings import TlsSettings
from reconciler.specs.types import seconds

log = logging.getLogger(__name__)
Signature = tuple[tuple[int, int, int], ...]


def check(tls: TlsSettings) -> None:
    """Refuse (UsageError naming the files) a certificate and key that do not load."""
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(
            tls.cert_file, tls.key_file
        )
    except (OSError, ssl.SSLError) as exc:
        raise UsageError(
            f"http.tls: cannot load certificate {tls.cert_file} with key {tls.key_file}: "
            f"{exc.strerror or exc}"
        ) from None


def signature(tls: TlsSettings) -> Signature | None:
    """What identifies the files' current contents; None while one is missing."""
    try:
        found = [os.stat(p) for p in (tls.cert_file, tls.key_file)]
    except OSError:
        return None
    return tuple((s.st_ino, s.st_size, s.st_mtime_ns) for s in found)


async def keep_loaded(context: ssl.SSLContext, tls: TlsSettings, stop: asyncio.Event) -> None:
    """Reload a changed certificate and key into `context` until `stop` is set."""
    loaded = signature(tls)
    interval = seconds(tls.reload_interval)
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)
        now, cert = signature(tls), tls.cert_file
        if now is None or now == loaded:
            continue
        loaded = now
        try:
            context.load_cert_chain(cert, tls.key_file)
        except (OSError, ssl.SSLError) as exc:
            log.error("TLS certificate %s not reloaded (keeping the one in use): %s", cert, exc)
            continue
        log.info("TLS certificate reloaded from %s", cert)
