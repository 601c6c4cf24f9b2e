"""Where a template would become code: the rule that keeps values out of shells.

A `{{ template }}` renders a value into a command. In a plain argv that value is one
argument — data — whatever it holds. It becomes code when the element it lands in is
parsed again by an interpreter: the command line of `shell: true` (`/bin/sh -c`), the
script of `sh -c` / `bash -c` (and other shells), of `python -c`, `perl -e`, `ruby -e`,
`node -e`, `php -r`, `pwsh -Command`, the program of `awk`, and everything after the host
of `ssh` (the remote side runs it through a shell). Quoting cannot make that safe: the
author's own quotes around a placeholder undo `shlex.quote`. So a template in any of those
places is refused — by validation, with the file, step and key, and again at run time.

Values reach such code as data instead: as positional parameters after the script
(`["sh", "-c", 'echo "hello $1"', "sh", "{{ vars.who }}"]`) or in the step's `env`
(`env: {WHO: "{{ vars.who }}"}` with `"$WHO"` in the script).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

TEMPLATE = "{{"
SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "fish", "busybox"})
_SCRIPT_FLAGS = {
    "python": ("-c",),
    "perl": ("-e", "-E"),
    "ruby": ("-e",),
    "node": ("-e", "--eval", "-p", "--print"),
    "php": ("-r",),
    "pwsh": ("-c", "-command", "-Command"),
    "powershell": ("-c", "-command", "-Command"),
    "osascript": ("-e",),
    "tclsh": ("-c",),
    "lua": ("-e",),
}
_VERSIONED = re.compile(r"^(python|perl|ruby|node|php|lua)[0-9.]*$")
_AWKS = frozenset({"awk", "gawk", "mawk", "nawk"})
FORBIDDEN_ENV = frozenset(
    {
        *("PATH", "IFS", "ENV", "BASH_ENV", "SHELLOPTS", "BASHOPTS", "PS4", "PROMPT_COMMAND"),
        *("PYTHONPATH", "PYTHONSTARTUP", "PYTHONHOME", "PERL5OPT", "PERL5LIB", "PERLLIB"),
        *("RUBYOPT", "RUBYLIB", "NODE_OPTIONS", "NODE_PATH", "GIT_SSH_COMMAND", "GIT_EXEC_PATH"),
    }
)
"""Environment variables that change which code runs: a step may not set them."""


def splices(argv: Sequence[str], *, shell: bool) -> list[tuple[int, str]]:
    """(index, why) of each argv element where a template would be parsed as code."""
    if shell:
        why = "the command line of shell: true"
        return [(i, why) for i, item in enumerate(argv) if TEMPLATE in item]
    found: dict[int, str] = {}
    for i, word in enumerate(argv):
        for index, why in _code_after(argv, i, _program(word)):
            if TEMPLATE in argv[index]:
                found.setdefault(index, why)
    return sorted(found.items())


def forbidden_env(name: str) -> bool:
    return name in FORBIDDEN_ENV or name.startswith(("LD_", "DYLD_"))


def _program(word: str) -> str:
    base = word.rsplit("/", 1)[-1]
    versioned = _VERSIONED.match(base)
    return versioned.group(1) if versioned else base


def _code_after(argv: Sequence[str], at: int, program: str) -> list[tuple[int, str]]:
    if program in SHELLS:
        script = _after_flag(argv, at, is_flag=_shell_c, with_value={"-o", "+o", "-O", "+O"})
        return [] if script is None else [(script, f"the script of {program} {argv[script - 1]}")]
    if program in _SCRIPT_FLAGS:
        flags = _SCRIPT_FLAGS[program]
        return [
            (j + 1, f"the code of {program} {argv[j]}")
            for j in range(at + 1, len(argv) - 1)
            if argv[j] in flags
        ]
    if program in _AWKS:
        found = _first_operand(argv, at, with_value={"-v", "-F", "--assign", "--field-separator"})
        if found is None or any(a in ("-f", "--file") for a in argv[at + 1 : found]):
            return []
        return [(found, f"the program of {program}")]
    if program == "ssh":
        host = _first_operand(argv, at, with_value={f"-{c}" for c in _SSH_WITH_VALUE})
        if host is None:
            return []
        return [(j, "the remote command of ssh") for j in range(host + 1, len(argv))]
    return []


def _shell_c(flag: str) -> bool:
    return flag.startswith("-") and not flag.startswith("--") and "c" in flag[1:]


def _after_flag(
    argv: Sequence[str], at: int, *, is_flag: Callable[[str], bool], with_value: set[str]
) -> int | None:
    """The index of the element after the script flag among the options after `at`."""
    j = at + 1
    while j < len(argv) and argv[j].startswith(("-", "+")):
        if is_flag(argv[j]):
            return j + 1 if j + 1 < len(argv) else None
        j += 2 if argv[j] in with_value else 1
    return None


def _first_operand(argv: Sequence[str], at: int, *, with_value: set[str]) -> int | None:
    """The index of the first argument after `at` that is not an option or its value."""
    j = at + 1
    while j < len(argv) and argv[j].startswith("-"):
        j += 2 if argv[j] in with_value else 1
    return j if j < len(argv) else None


_SSH_WITH_VALUE = "bcDEeFIiJLlmOopQRSWw"
