"""Allow `python -m reconciler` as an alias of the `reconciler` console script."""

from __future__ import annotations

from reconciler import cli

raise SystemExit(cli.main())
