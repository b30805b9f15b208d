"""``ro-conformance``: one entry point, one module per subcommand (imported only when used).

Exit status is the subcommand's; usage and profile errors are 4 (see README).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from conformance.report._results import EXIT_USAGE
from simulator._errors import TapiError

__all__ = ["main"]

# subcommand -> module with ``add_arguments(parser)`` and ``run(args) -> int``
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("conformance.cli._run", "run the conformance suite on a profile / backend and write reports"),
    "validate": ("conformance.cli._validate", "check profiles against the schema"),
    "serve": ("conformance.cli._serve", "serve a backend over the network bridge"),
    "matrix": ("conformance.cli._matrix", "run several profiles and write a compatibility matrix"),
    "check": ("conformance.cli._check", "pre-flight: devices, desk line, how each PIXIT role is observed"),
    "probe": ("conformance.cli._probe", "read a live backend's capabilities into a draft profile"),
    "verify": ("conformance.cli._verify", "re-check a run directory: hashes, replay of its trace, verdict"),
}



def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ro-conformance", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in COMMANDS.items():
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue  # a subcommand whose module is not there yet is simply not offered
        p = sub.add_parser(name, help=help_text, description=help_text)
        mod.add_arguments(p)
        p.set_defaults(_module=mod)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on bad usage; our contract says 4
        return 0 if exc.code == 0 else EXIT_USAGE
    if getattr(args, "_module", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args._module.run(args))
    except TapiError as exc:   # last resort: bad input is a message and exit 4, never a traceback
        print(f"ro-conformance {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
