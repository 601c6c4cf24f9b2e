"""`reconciler test`: run a repository's Rego unit tests (`test_*` rules), like `opa test`."""

from __future__ import annotations

import argparse
import json

from reconciler import assets
from reconciler.cli import options, repo
from reconciler.policy import configfiles, testing
from reconciler.specs import loader


def declare(p: argparse.ArgumentParser) -> None:
    options.add_source_options(p)
    options.add_format(p, "text", "json")
    p.add_argument("-v", "--verbose", action="store_true", help="list every test")
    p.add_argument("--coverage", action="store_true", help="report line coverage")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    tree = repo.open_tree(args)
    snapshot = loader.load(tree)
    report = testing.run_tests(
        testing.snapshot_modules(snapshot),
        data=snapshot.data,
        builtin_dir=assets.rego_dir(),
        coverage=args.coverage,
        verbose=args.verbose,
        files=configfiles.tree_reader(tree),
    )
    if args.format == "json":
        print(json.dumps(report.as_json(), indent=2))
    else:
        print(testing.render_text(report, verbose=args.verbose))
    return 0 if report.ok else 1
