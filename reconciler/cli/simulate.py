"""`reconciler simulate`: what would this pull request do? Exit 1 when it would be blocked.

Reads two revisions of a repository (a local Git repository DIR, or `--repo URL`), runs
the simulation and prints the report as a pull-request comment (Markdown, split under the
forge's size limit), JSON, JUnit XML, SARIF or a GitHub check-run payload.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from reconciler.cli import repo
from reconciler.clock import SystemClock
from reconciler.errors import UsageError
from reconciler.simulate import details, github, junit, markdown, sarif, simulation
from reconciler.simulate.records import Report
from reconciler.simulate.settings import SimulateSettings
from reconciler.source.settings import SourceSettings

FORMATS = ("markdown", "json", "junit", "sarif", "github")


def declare(p: argparse.ArgumentParser) -> None:
    """The `simulate` sub-command's arguments and handler."""
    p.add_argument("dir", nargs="?", default=".", help="local Git repository (default: .)")
    p.add_argument("--repo", help="Git URL or path to read from instead of DIR")
    p.add_argument("--base", required=True, help="base revision (branch, tag or commit)")
    p.add_argument("--head", required=True, help="head revision (branch, tag or commit)")
    p.add_argument("--subpath", default="", help="folder inside the repository")
    p.add_argument("--cache-dir", help="where remote repositories are cloned")
    p.add_argument("--format", choices=FORMATS, default=FORMATS[0], help="output format")
    p.add_argument("--data-dir", help="the daemon's data directory (observed state, decisions)")
    p.add_argument("--output", help="write the report to this file instead of stdout")
    defaults = SimulateSettings()
    p.add_argument(
        "--cpu-seconds",
        type=float,
        default=defaults.cpu_seconds,
        help="CPU time each sandbox stage may use",
    )
    p.add_argument(
        "--wall-seconds",
        type=float,
        default=defaults.wall_seconds,
        help="wall time the sandbox may take",
    )
    p.add_argument(
        "--memory-mib", type=int, default=defaults.memory_mib, help="memory the sandbox may map"
    )
    p.add_argument(
        "--output-mib",
        type=int,
        default=defaults.output_mib,
        help="most the sandbox may write to its error output, and its longest message",
    )
    p.set_defaults(handler=run)


def source_settings(args: argparse.Namespace) -> SourceSettings:
    cache = Path(args.cache_dir) if args.cache_dir else repo.default_cache_dir()
    location = args.repo or args.dir
    if args.repo and repo.is_url(args.repo):
        return SourceSettings(url=args.repo, subpath=args.subpath, cache_dir=cache)
    if not Path(location, ".git").exists() and not Path(location, "HEAD").is_file():
        raise UsageError(f"{location}: not a Git repository (simulate compares two commits)")
    return SourceSettings(path=Path(location), subpath=args.subpath, cache_dir=cache)


def run(args: argparse.Namespace) -> int:
    settings = SimulateSettings(
        cpu_seconds=args.cpu_seconds,
        wall_seconds=args.wall_seconds,
        memory_mib=args.memory_mib,
        output_mib=args.output_mib,
    )
    request = simulation.Request(
        source=source_settings(args),
        base=args.base,
        head=args.head,
        data_dir=Path(args.data_dir) if args.data_dir else None,
        settings=settings,
    )
    report = simulation.simulate(request, clock=SystemClock())
    emit(render(report, args.format), output=args.output)
    return 1 if report.blocked else 0


def as_json(report: Report) -> dict[str, Any]:
    return {
        **report.model_dump(mode="json"),
        "verdict": report.verdict.value,
        "verdictText": report.verdict_text,
        "blocked": report.blocked,
        "blockingReasons": report.blocking_reasons(),
    }


def render(report: Report, fmt: str) -> list[str]:
    """The report in `fmt`; Markdown may be several parts, the other formats are one."""
    if fmt == "markdown":
        return markdown.render(report, details.sections(report))
    if fmt == "junit":
        return [junit.render(report)]
    value = {"json": as_json, "sarif": sarif.render, "github": github.payload}[fmt](report)
    return [json.dumps(value, indent=2) + "\n"]


def emit(parts: list[str], *, output: str | None) -> None:
    """Parts to stdout (separated by a marker line) or to OUTPUT, OUTPUT.part2, ..."""
    if output is None:
        marker = "\n<!-- reconciler simulate: next part -->\n"
        sys.stdout.write(marker.join(parts))
        return
    target = Path(output)
    for index, text in enumerate(parts, start=1):
        path = (
            target if index == 1 else target.with_name(f"{target.stem}.part{index}{target.suffix}")
        )
        path.write_text(text, encoding="utf-8")
        if len(parts) > 1:
            print(f"wrote part {index} of {len(parts)} to {path}", file=sys.stderr)
