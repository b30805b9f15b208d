"""``ro-conformance profiles``: the shipped profiles by name, what each models and the verdict it expects.

Any of the names works wherever a profile is asked for (``run --profile blind-only``, ``--tapi-profile
mutants/xyz``). The expected verdict comes from the profile's ``expect`` block (``verdict``, ``route``,
``fails``) when it has one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from conformance._shipped import shipped_dir, shipped_profiles

__all__ = ["add_arguments", "expected_text", "run"]

DESCRIPTION = ("list the profiles that come with ro-conformance, what each models and the verdict it "
               "should get; any name works as --profile NAME")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--paths", action="store_true", help="also print the folder the shipped profile files are in "
                        "(NAME.yaml below it)")


def expected_text(expect: Any) -> str:
    """``expect: {verdict, route, fails}`` as one phrase: ``compatible (blind)``, ``not-compatible; fails:
    RO-X``; "not stated" without a block."""
    if not isinstance(expect, Mapping) or not expect.get("verdict"):
        return "not stated"
    text = str(expect["verdict"])
    if expect.get("route"):
        text += f" ({expect['route']})"
    fails = expect.get("fails")
    if fails:
        text += "; fails: " + ", ".join(str(f) for f in (fails if isinstance(fails, list) else [fails]))
    return text


def _summary(path: Path) -> tuple[str, str]:
    """(what it models, expected verdict) from the file; a broken file says so instead of failing."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return f"(unreadable: {type(exc).__name__})", "?"
    if not isinstance(data, Mapping):
        return "(not a mapping)", "?"
    pbx = data.get("pbx")
    if not isinstance(pbx, Mapping):
        pbx = {}
    description = " ".join(str(pbx.get("description") or "").split())
    return description, expected_text(data.get("expect"))


def run(args: argparse.Namespace) -> int:
    shipped = shipped_profiles()
    if not shipped:
        print("ro-conformance profiles: no shipped profiles found (broken installation?)", file=sys.stderr)
        return 4
    rows = [(name, *_summary(path)) for name, path in shipped.items()]
    width = max(len(name) for name, _, _ in rows)
    expected_width = max(len(expected) for _, _, expected in rows)
    print(f"{'name':<{width}}  {'expected verdict':<{expected_width}}  models")
    for name, description, expected in rows:
        print(f"{name:<{width}}  {expected:<{expected_width}}  {description}")
    if args.paths:
        print(f"\nfiles: {shipped_dir()}")
    return 0
