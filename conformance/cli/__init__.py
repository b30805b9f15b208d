"""ro-conformance: does this PBX support Remote Office? Runs the TAPI 2.x conformance suite on a PBX
profile -- on the built-in simulator, over the network bridge or through tapi32.dll -- and writes an HTML
report, results.json and junit.xml.

Start with "ro-conformance run" (the reference profile on the simulator); "ro-conformance profiles" lists
the profiles that come with it, "ro-conformance COMMAND --help" explains a command.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from conformance.report._results import EXIT_MEANINGS, EXIT_USAGE
from simulator._errors import TapiError

__all__ = ["main"]

# subcommand -> (module with ``add_arguments(parser)`` and ``run(args) -> int``, one-line help).
# One line per command, in the order of the help text: merges touch one line each.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("conformance.cli._run", "run the conformance suite on one profile and write the reports"),
    "matrix": ("conformance.cli._matrix", "run several profiles and write a compatibility matrix"),
    "profiles": ("conformance.cli._profiles", "list the shipped profiles and the verdict each should get"),
    "validate": ("conformance.cli._validate", "check profile files for mistakes"),
    "schema": ("conformance.cli._schema", "print the JSON Schema of profiles (for editors)"),
    "serve": ("conformance.cli._serve", "serve a backend over the network bridge"),
    "check": ("conformance.cli._check", "pre-flight: devices, desk line, how each PIXIT role is observed"),
    "probe": ("conformance.cli._probe", "read a live backend's capabilities into a draft profile"),
    "verify": ("conformance.cli._verify", "re-check a run directory: hashes, replay of its trace, verdict"),
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("ro-conformance")
    except PackageNotFoundError:   # run from a checkout that was never installed
        return "unknown (not installed)"


def _epilog() -> str:
    codes = "\n".join(f"  {code}  {text}" for code, text in EXIT_MEANINGS.items())
    return f"exit status:\n{codes}\n\nDocumentation: README.md and docs/ of the project."


class _Parser(argparse.ArgumentParser):
    """argparse prints usage errors itself and exits 2; our contract says 4 for every usage error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def _parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """Every command is listed; only the one named in ``argv`` is imported (start-up cost: ``run`` must
    not pay for the bridge server's asyncio and websockets)."""
    parser = _Parser(prog="ro-conformance", description=__doc__, epilog=_epilog(),
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module, help_text) in COMMANDS.items():
        if name != chosen:
            sub.add_parser(name, help=help_text)
            continue
        try:
            mod = importlib.import_module(module)
        except ImportError as exc:
            if exc.name != module:
                raise
            continue  # a subcommand whose module is not there yet is simply not offered
        p = sub.add_parser(name, help=help_text, description=getattr(mod, "DESCRIPTION", help_text),
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        mod.add_arguments(p)
        p.set_defaults(_module=mod)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = _parser(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help / --version exit 0; usage errors exit 4 (see _Parser)
        return 0 if exc.code in (0, None) else EXIT_USAGE
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
