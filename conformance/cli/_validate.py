"""``ro-conformance validate PROFILE...``: check profiles against the schema and the semantic rules.

Prints ``OK <path> (<pbx name>)`` on stdout for each good profile and every problem of a bad one on
stderr (``file:line: key.path: message``). Exit status 0 when all are good, 4 when any is not.
"""

from __future__ import annotations

import argparse
import sys

from conformance.report._results import EXIT_COMPATIBLE, EXIT_USAGE
from simulator._errors import ProfileError
from simulator._profile import load_profile

__all__ = ["add_arguments", "run"]



def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("profiles", nargs="+", metavar="PROFILE", help="profile YAML file(s) to check")


def run(args: argparse.Namespace) -> int:
    status = EXIT_COMPATIBLE
    for path in args.profiles:
        try:
            profile = load_profile(path)
        except ProfileError as exc:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            status = EXIT_USAGE
        else:
            print(f"OK {path} ({profile.name})")
    return status
