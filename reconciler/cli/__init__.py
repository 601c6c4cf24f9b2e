"""The `reconciler` command line: parse arguments, run one verb, map the outcome to an exit code.

Exit codes: 0 ok, 1 user error or policy failure, 3 internal error (the traceback goes to a
log file and one line to the user), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from reconciler.cli import app, crash
from reconciler.errors import ReconcilerError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_BUG = 3
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    argv = sys.argv[1:] if argv is None else argv
    parser = app.build_parser({verb} if (verb := app.chosen_verb(argv)) else ())
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 0 after --help/--version, 2 on a usage error
        return EXIT_OK if exc.code in (0, None) else EXIT_FAILURE
    return run(args)


def run(args: argparse.Namespace) -> int:
    """Call the verb's handler; turn what escapes it into a message and an exit code."""
    try:
        code: int = args.handler(args)
        sys.stdout.flush()  # a reader that left shows here, not in the interpreter's exit
        return code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `reconciler eval | head`: the reader had what it wanted
        silence_stdout()
        return EXIT_OK
    except ReconcilerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as exc:  # a bug: keep the traceback, tell the user where it is
        print(crash_line(exc, log=crash.write_report(exc)), file=sys.stderr)
        return EXIT_BUG


def crash_line(exc: BaseException, *, log: Path) -> str:
    """One line for the user: the error's type, the first line of its text, the log."""
    text = str(exc).strip()
    first = f": {text.splitlines()[0]}" if text else ""
    return f"internal error: {type(exc).__name__}{first} (traceback in {log})"


def silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
