"""``ro-conformance schema``: print the JSON Schema of profiles, so editors outside a checkout can use it.

``ro-conformance schema > profile.schema.json`` and point the YAML language server at that file
(docs/profiles.md). The schema is the one the loader validates against, shipped inside the package.
"""

from __future__ import annotations

import argparse
import sys
from importlib import resources

__all__ = ["add_arguments", "run"]

DESCRIPTION = __doc__.split("\n\n", 1)[0].replace("``", "") if __doc__ else ""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=None, metavar="FILE", help="write the schema here instead of stdout")


def run(args: argparse.Namespace) -> int:
    text = resources.files("simulator").joinpath("profile.schema.json").read_text(encoding="utf-8")
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0
