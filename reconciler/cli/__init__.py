"""The `reconciler` command line: parse arguments, run one verb, map the outcome to an exit code.

Exit codes: 0 ok, 1 user error or policy failure, 3 internal error (the traceback goes to a
log file and one line to the user), 130 interrupted.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from reconciler.cli import app, crash
from reconciler.errors import ReconcilerError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BUG = 3
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = app.build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
        return code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ReconcilerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as exc:  # a bug: keep the traceback, tell the user where it is
        log = crash.write_report(exc)
        print(f"internal error: {type(exc).__name__}: {exc} (traceback in {log})", file=sys.stderr)
        return EXIT_BUG
