"""``ro-conformance run``: the suite on one profile and backend, reports into one directory.

Theory of operation: check the profile (schema + semantics) and that the backend exists, so a usage
mistake is a clear message and exit 4 rather than a wall of pytest errors; then run pytest in-process on
``--pyargs conformance.suite`` with the suite plugin writing ``results.json``, pytest writing
``junit.xml`` and pytest-html writing ``report.html`` (with our ``HtmlReportPlugin``); finally read
``results.json`` back and take the exit status from it -- never from pytest's own code, which cannot
tell "not compatible" from "a claim was broken". Exit statuses: see docs/results-format.md.

A profile is a file path or the name of a shipped profile (``ro-conformance profiles``); the default is
the shipped ``reference``, so the command works from any directory.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Final, TextIO

import pytest

import conformance
from conformance._registry import available_backends, backend_class, open_backend, split_spec
from conformance._shipped import DEFAULT_PROFILE, ShippedProfileError, resolve_profile
from conformance.report._files import ResultsFileError, read_results, safe_dirname
from conformance.report._html import HtmlReportPlugin
from conformance.report._results import EXIT_ERRORS, EXIT_MEANINGS, EXIT_USAGE
from conformance.report._summary import run_status, summary_lines
from simulator._errors import ProfileError, TapiError
from simulator._profile import load_profile
from simulator._profile_model import Profile

__all__ = ["BUILTIN_SPECS", "DEFAULT_PROFILE", "RunOutcome", "add_arguments", "check_backend", "check_profile",
           "run", "run_suite"]

DESCRIPTION: Final = """run the Remote Office conformance suite on one PBX profile and write report.html,
results.json and junit.xml (default: the shipped reference profile on the simulator, into
reports/<profile name>/)."""
BUILTIN_SPECS: Final = (
    ("sim", "the simulator in-process, on the run's profile (default)"),
    ("sim:PROFILE", "the simulator on another profile"),
    ("bridge://HOST:PORT[?token=T]", "a backend served by 'ro-conformance serve'"),
    ("tapi32:", "the real tapi32.dll and the PBX's TSP (Windows only)"),
    ("tapi32:emulated", "the same adapter on an emulated tapi32.dll backed by the simulator (any OS)"),
)
DEFAULT_BACKEND: Final = "sim"
SUITE: Final = "conformance.suite"
PLUGIN: Final = "conformance.plugin"


def backend_help() -> str:
    """The backend specs for ``--help``: the built-in ones, then any a plugin registered."""
    builtin = {split_spec(spec)[0] for spec, _ in BUILTIN_SPECS}
    lines = [f"{spec}: {text}" for spec, text in BUILTIN_SPECS]
    lines += [f"{name}:...: registered by an installed plugin" for name in available_backends()
              if name not in builtin]
    return "; ".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default=DEFAULT_PROFILE, metavar="P",
                        help=f"profile: a YAML file or the name of a shipped profile, see 'ro-conformance "
                             f"profiles' (default: {DEFAULT_PROFILE})")
    parser.add_argument("--backend", default=DEFAULT_BACKEND, metavar="SPEC",
                        help="backend spec -- " + backend_help())
    parser.add_argument("--out", default=None, metavar="DIR",
                        help="report directory (default: reports/<profile name>/)")
    parser.add_argument("-k", dest="keyword", default=None, metavar="EXPR",
                        help="only requirements matching this pytest -k expression, e.g. 'FWD': a partial "
                             "run, the verdict is not judged (exit status 5 unless something failed or erred)")
    parser.add_argument("-n", dest="workers", default=None, metavar="N",
                        help="run in parallel with pytest-xdist (N or 'auto')")
    parser.add_argument("--answers", default=None, metavar="FILE",
                        help="scripted operator answers (YAML) for roles without a party line (tapi32); "
                             "same as $RO_CONFORMANCE_ANSWERS")


# --- checks before running --------------------------------------------------------------------------


def check_profile(path: str, err: TextIO | None = None) -> Profile | None:
    """The loaded profile (a file path or a shipped name), or None after printing why it cannot be used."""
    err = err or sys.stderr
    try:
        path = resolve_profile(path)
    except ShippedProfileError as exc:
        print(f"ro-conformance: {exc}", file=err)
        return None
    try:
        return load_profile(path)
    except ProfileError as exc:
        print(f"ro-conformance: {path} is not a valid profile:", file=err)
        for problem in exc.problems:
            print(f"  {problem}", file=err)
        return None


def check_backend(spec: str, err: TextIO | None = None, profile: Profile | None = None) -> bool:
    """True when ``spec`` names a backend that can be used here; else print why and what is available.

    With a profile the backend is also opened once (and closed): ``tapi32:`` off Windows, or a bridge
    nobody listens on, is a usage error up front rather than fifteen identical test errors.
    """
    err = err or sys.stderr
    spec = spec or DEFAULT_BACKEND
    try:
        if profile is None:
            backend_class(split_spec(spec)[0])   # importable is all we can check without a profile
        else:
            open_backend(spec, profile).close()  # finds the class itself
    except TapiError as exc:   # BackendUnavailable, BridgeError, ProfileError of a sim:PATH spec
        print(f"ro-conformance: {exc}", file=err)
        return False
    return True


def _usage_checks(err: TextIO, workers: str | None) -> bool:
    if importlib.util.find_spec(SUITE) is None:
        print(f"ro-conformance: the suite package {SUITE} is not installed", file=err)
        return False
    if workers is not None and importlib.util.find_spec("xdist") is None:
        print("ro-conformance: -n needs pytest-xdist (pip install pytest-xdist)", file=err)
        return False
    return True


# --- the pytest run ---------------------------------------------------------------------------------


def _plugin_args() -> list[str]:
    """``-p`` options for plugins that will not be auto-loaded from their entry points.

    Passing ``-p conformance.plugin`` while the ``tapi`` entry point also loads it would register the
    module twice, which pytest refuses; so ask for it only when the entry point will not do it.
    """
    autoload = not os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    registered = {ep.value for ep in entry_points(group="pytest11")}
    args = []
    for module in (PLUGIN, "pytest_html.plugin", "pytest_metadata.plugin"):
        if not (autoload and module in registered):
            args += ["-p", module]
    return args


def pytest_args(profile_path: Path, backend: str, out_dir: Path, keyword: str | None,
                workers: str | None, profile_name: str = "") -> list[str]:
    """The argument list for ``pytest.main`` (public for tests and for debugging a run by hand)."""
    # The suite's node ids are stable whatever the current directory: the root is the directory holding
    # the ``conformance`` package, and no ini file of the caller's project is read (-c devnull).
    root = Path(conformance.__file__).resolve().parent.parent
    args = [
        "--pyargs", SUITE, *_plugin_args(),
        "-c", os.devnull, "--rootdir", str(root), "-p", "no:cacheprovider", "-q", "--tb=short",
        # conformance is already imported by this CLI, so pytest cannot rewrite its asserts: expected
        "-W", "ignore::pytest.PytestAssertRewriteWarning",
        "--tapi-profile", str(profile_path), "--tapi-backend", backend,
        "--tapi-results", str(out_dir / "results.json"),
        "--junitxml", str(out_dir / "junit.xml"), "-o", f"junit_suite_name=ro-conformance {profile_name}".strip(),
        # our style sheet goes in through HtmlReportPlugin: --css would print its local path into the page
        "--html", str(out_dir / "report.html"), "--self-contained-html",
        "-o", "tapi_summary=false",    # the CLI prints the summary itself, after the file names
    ]
    if keyword:
        args += ["-k", keyword]
    if workers:
        args += ["-n", workers]
    return args


@dataclass(frozen=True)
class RunOutcome:
    status: int
    results: Mapping[str, Any] | None
    out_dir: Path
    problem: str = ""
    keyword: str | None = None


def run_suite(profile_path: Path, profile_name: str, backend: str, out_dir: Path, *,
              keyword: str | None = None, workers: str | None = None, err: TextIO | None = None) -> RunOutcome:
    """Run the suite in-process into ``out_dir`` and read its results back (checks already done)."""
    err = err or sys.stderr
    out_dir.mkdir(parents=True, exist_ok=True)
    results_path = out_dir / "results.json"
    results_path.unlink(missing_ok=True)   # a stale file from an earlier run must not pass for this one
    args = pytest_args(profile_path.resolve(), backend, out_dir.resolve(), keyword, workers, profile_name)
    css = resources.files("conformance.report").joinpath("report.css").read_text(encoding="utf-8")
    code = pytest.main(args, plugins=[HtmlReportPlugin(profile_name, str(profile_path), css)])
    try:
        data = read_results(results_path)
    except ResultsFileError as exc:
        usage = code == pytest.ExitCode.USAGE_ERROR
        print(f"ro-conformance: {exc} (pytest exit {int(code)})", file=err)
        return RunOutcome(EXIT_USAGE if usage else EXIT_ERRORS, None, out_dir, str(exc))
    status = run_status(data, keyword)
    if code in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR) and status in (0, 1):
        # collection errors or an interrupt: what did run cannot vouch for what did not
        print(f"ro-conformance: the run stopped early (pytest exit {int(code)}); see the output above", file=err)
        return RunOutcome(EXIT_ERRORS, data, out_dir, "the run stopped early")
    return RunOutcome(status, data, out_dir, keyword=keyword)


def expectation_line(profile: Profile, data: Mapping[str, Any] | None) -> str | None:
    """The line reporting a difference from the profile's ``expect:`` (None: met, or nothing expected).

    It never changes the exit status: exit codes describe the PBX (docs/results-format.md); the line
    describes the profile's author's expectation (docs/profiles.md, "expect").
    """
    if profile.expect is None or data is None:
        return None
    ro = data["remote_office"]
    failed = {t["id"] for t in data["tests"] if t["outcome"] == "fail"}
    problems = profile.expect.mismatches(ro["verdict"], ro.get("route"), failed)
    return f"expectation not met ({profile.path}: expect): {'; '.join(problems)}" if problems else None


def print_summary(outcome: RunOutcome, out: TextIO | None = None, profile: Profile | None = None) -> None:
    """Verdict, route, clauses that failed with their tests, a difference from the profile's expect:,
    and where the three files are."""
    out = out or sys.stdout
    if outcome.results is None:
        print(f"Remote Office verdict: none ({outcome.problem})", file=out)
        print(f"exit status {outcome.status}: {EXIT_MEANINGS.get(outcome.status, '?')}", file=out)
    else:
        lines = summary_lines(outcome.results, outcome.keyword)
        if outcome.status != run_status(outcome.results, outcome.keyword):   # the run stopped early
            lines[-1] = f"exit status {outcome.status}: {EXIT_MEANINGS.get(outcome.status, '?')}"
        # a partial run judges no verdict, so it cannot miss the profile's expected one
        line = expectation_line(profile, outcome.results) if profile is not None and not outcome.keyword else None
        if line is not None:
            lines.insert(len(lines) - 1, line)
        for line in lines:
            print(line, file=out)
    for name in ("report.html", "results.json", "junit.xml"):
        path = outcome.out_dir / name
        print(f"  {path}{'' if path.exists() else '  (missing)'}", file=out)


def run(args: argparse.Namespace) -> int:
    profile = check_profile(args.profile)
    if profile is None:
        return EXIT_USAGE
    if not check_backend(args.backend, profile=profile) or not _usage_checks(sys.stderr, args.workers):
        return EXIT_USAGE
    out_dir = Path(args.out) if args.out else Path("reports") / safe_dirname(profile.name)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"ro-conformance: cannot write reports to {out_dir}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    from conformance.backends.tapi32._operator import ANSWERS_ENV, ScriptedOperator, use_terminal_if_interactive

    if args.answers:
        ScriptedOperator.load(args.answers)          # a broken file: TapiError -> message and exit 4
        os.environ[ANSWERS_ENV] = str(Path(args.answers).resolve())   # read by the backend the run opens
    use_terminal_if_interactive()                    # before pytest captures stdin
    outcome = run_suite(Path(profile.path), profile.name, args.backend, out_dir,
                        keyword=args.keyword, workers=args.workers)
    print_summary(outcome, profile=profile)
    return outcome.status
