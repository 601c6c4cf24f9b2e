"""`reconciler schema KIND`: print the JSON Schema of one of our kinds, for editors."""

from __future__ import annotations

import argparse
import json

from reconciler.specs import schema

DIALECT = "https://json-schema.org/draft/2020-12/schema"


def declare(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", nargs="?", help="kind name; omit to list kinds")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.kind:
        print("\n".join(schema.kinds()))
        return 0
    document = {"$schema": DIALECT, **schema.json_schema(args.kind)}
    print(json.dumps(document, indent=2, sort_keys=True))
    return 0
