"""How the verbs that read the daemon's store find it: `--store-url`, the database the
daemons share (the settings' `store.url`, `postgresql://...`), else the SQLite file in
`--data-dir`. One helper for every such verb (`decisions`, `audit`, `workflow runs` and
`analyze`, `optimize list|show`), so each opens the store the same way and refuses the
same bad input with the same message. The store modules are imported when a verb runs,
so `--help` and the other verbs load none of them.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.errors import UsageError

if TYPE_CHECKING:
    from reconciler.store.interfaces import Store

DATA_DIR = ".reconciler"


def add_store_options(parser: argparse.ArgumentParser, *, data_dir: str | None = DATA_DIR) -> None:
    """`--data-dir` (default `data_dir`; None: no store unless one is given) and
    `--store-url`."""
    default = f" (default: {data_dir})" if data_dir else ""
    parser.add_argument(
        "--data-dir", default=data_dir, help=f"the daemon's data directory{default}"
    )
    parser.add_argument(
        "--store-url",
        metavar="URL",
        help="the daemons' shared store (postgresql://...; the settings' store.url)"
        " instead of the SQLite file in --data-dir",
    )


def given(args: argparse.Namespace) -> bool:
    """Whether the command line names a store (always, when `--data-dir` has a default)."""
    return bool(args.store_url or args.data_dir)


def described(args: argparse.Namespace) -> str:
    """The store the command line names, for messages: the URL without its password, or
    the data directory."""
    if args.store_url:
        from reconciler.store.postgres import redact

        return redact(args.store_url)
    return str(args.data_dir or DATA_DIR)


def open_store(args: argparse.Namespace, *, create: bool = False) -> Store:
    """The store the command line names: `--store-url`, else the SQLite file in
    `--data-dir`, which must exist unless `create` (never created otherwise)."""
    from reconciler.store import backends
    from reconciler.store.retention import RetentionSettings

    data_dir = Path(args.data_dir or DATA_DIR)
    if args.store_url:
        return backends.open_store(args.store_url, data_dir=data_dir, retention=RetentionSettings())
    path = data_dir / backends.SQLITE_FILE
    if not create and not path.is_file():
        raise UsageError(f"{path}: no store here (give the daemon's --data-dir or --store-url)")
    path.parent.mkdir(parents=True, exist_ok=True)
    return backends.open_store(None, data_dir=data_dir, retention=RetentionSettings())
