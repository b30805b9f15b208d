"""``ro-conformance verify DIR``: is this run directory what it says, and does the installed suite agree?

Theory of operation: a certified run directory holds results.json, report.html, junit.xml, profile.yaml
and trace.jsonl, and results.json's ``certification`` pins the last two by SHA-256. ``verify``

1. recomputes both hashes (an edited profile or trace is named); in a tapi32 trace, re-decodes the raw
   bytes of every variable-size structure with the adapter's codec and compares the recorded value;
2. checks that results.json's verdict, route and exit status follow from its own tests, that every
   verdict agrees with its raw log (``conformance._evidence.check_results``: the records it cites are
   there and say what its text says; for files that carry ``judged``), and that junit.xml and
   report.html carry the same certification fields, verdict and outcomes;
3. replays trace.jsonl with the installed suite (``replay:`` backend, profile.yaml) into a temporary
   directory and compares every requirement's outcome and reason, the verdict and the route.

Exit 0: verified. Exit 6 (``EXIT_NOT_VERIFIED``): something differs, each difference on its own line.
Exit 4: DIR is not a run directory. When the recorded suite version is not the installed one, verify
says so and lists the outcomes the installed suite judges differently; only a different verdict, route
or exit status is then a failure (a newer suite may legitimately word a reason differently).
"""

from __future__ import annotations

import argparse
import contextlib
import html
import io
import re
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final, TextIO

from conformance._certification import FIELDS, PROFILE_FILE, TRACE_FILE, suite_version
from conformance._evidence import check_results
from conformance._trace import decode, encode, read_trace, sha256_of
from conformance.report._files import ResultsFileError, outcomes_from_jsonable, read_results
from conformance.report._results import EXIT_NOT_VERIFIED, EXIT_USAGE, exit_status, ro_verdict
from simulator._errors import TapiError

__all__ = ["add_arguments", "check_files", "compare_replay", "raw_problems", "run"]

_VERDICT_WORD = {"compatible": "COMPATIBLE", "not-compatible": "NOT COMPATIBLE", "undetermined": "UNDETERMINED"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", metavar="DIR", help="a run directory written by 'ro-conformance run'")
    parser.add_argument("--keep", metavar="OUT", default=None,
                        help="write the replayed run's reports here (default: a temporary directory)")
    parser.add_argument("--verbose", action="store_true", help="show the replayed suite's pytest output")


# --- 1 + 2: the files --------------------------------------------------------------------------------


def _hash_problems(directory: Path, cert: Mapping[str, Any]) -> list[str]:
    problems = []
    for name, key in ((PROFILE_FILE, "profile_sha256"), (TRACE_FILE, "trace_sha256")):
        path = directory / name
        if not path.is_file():
            problems.append(f"{name}: missing (results.json certifies {key} = {cert.get(key)})")
            continue
        actual = sha256_of(path)
        if actual != cert.get(key):
            problems.append(f"{name}: edited - its SHA-256 is {actual}, results.json certifies {cert.get(key)}")
    return problems


def _results_problems(data: Mapping[str, Any]) -> list[str]:
    """results.json must be consistent with itself: verdict, route and exit status follow from its tests."""
    tests = outcomes_from_jsonable(data.get("tests", []))
    derived = ro_verdict(tests)
    ro = data.get("remote_office", {})
    problems = [f"results.json: remote_office.{key} says {ro.get(key)!r}, its tests give {derived[key]!r}"
                for key in ("verdict", "route") if ro.get(key) != derived[key]]
    if data.get("exit_status") != exit_status(tests):
        problems.append(f"results.json: exit_status says {data.get('exit_status')}, its tests give "
                        f"{exit_status(tests)}")
    if any(isinstance(t, Mapping) and "judged" in t for t in data.get("tests", [])):   # older files: no cites
        problems += [f"results.json: evidence: {p}" for p in check_results(data)]
    return problems


def _profile_problems(directory: Path, data: Mapping[str, Any]) -> list[str]:
    """results.json's copy of the profile (``profile.data``) must be what profile.yaml loads to."""
    import json

    from simulator._profile import load_profile

    try:
        raw = json.loads(json.dumps(load_profile(directory / PROFILE_FILE).raw, default=str))
    except (TapiError, OSError) as exc:
        return [f"{PROFILE_FILE}: does not load: {str(exc).splitlines()[0]}"]
    recorded = (data.get("profile") or {}).get("data")
    if recorded != raw:
        keys = sorted(k for k in set(raw) | set(recorded or {}) if raw.get(k) != (recorded or {}).get(k))
        return [f"results.json: profile.data differs from {PROFILE_FILE} (keys: {', '.join(keys)})"]
    return []


def _junit_problems(path: Path, data: Mapping[str, Any], cert: Mapping[str, Any]) -> list[str]:
    if not path.is_file():
        return [f"{path.name}: missing"]
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        return [f"{path.name}: not XML ({exc})"]
    problems = []
    suite_props = {p.get("name"): p.get("value") for p in root.iterfind("./testsuite/properties/property")}
    for name in FIELDS:
        if suite_props.get(f"ro_{name}") != str(cert.get(name, "")):
            problems.append(f"{path.name}: property ro_{name} is {suite_props.get(f'ro_{name}')!r}, "
                            f"results.json certifies {cert.get(name)!r}")
    recorded = {t["id"]: t["outcome"] for t in data.get("tests", [])}
    for case in root.iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iterfind("./properties/property")}
        rid = props.get("ro_requirement")
        if rid is not None and props.get("ro_outcome") != recorded.get(rid):
            problems.append(f"{path.name}: {rid} is {props.get('ro_outcome')!r}, results.json says "
                            f"{recorded.get(rid)!r}")
    return problems


def _html_problems(path: Path, data: Mapping[str, Any], cert: Mapping[str, Any]) -> list[str]:
    if not path.is_file():
        return [f"{path.name}: missing"]
    text = path.read_text(encoding="utf-8", errors="replace")
    shown = {m.group(1): html.unescape(m.group(2))
             for m in re.finditer(r'data-ro-cert="([a-z0-9_]+)">([^<]*)<', text)}
    problems = [f"{path.name}: certification {name} shows {shown.get(name)!r}, results.json certifies "
                f"{cert.get(name)!r}" for name in FIELDS if shown.get(name) != str(cert.get(name, ""))]
    word = re.search(r'class="ro-verdict-word">([^<]*)<', text)
    verdict = str(data.get("remote_office", {}).get("verdict"))
    if word is None or html.unescape(word.group(1)) != _VERDICT_WORD.get(verdict, verdict):
        problems.append(f"{path.name}: the verdict box shows {word.group(1) if word else None!r}, "
                        f"results.json says {verdict!r}")
    return problems


_RAW_CLASSES: Final = {"LINEDEVCAPS": "LineDevCaps", "LINEADDRESSCAPS": "LineAddressCaps",
                       "LINEADDRESSSTATUS": "LineAddressStatus", "LINECALLINFO": "LineCallInfo",
                       "LINECALLSTATUS": "LineCallStatus"}


def raw_problems(trace: Path) -> list[str]:
    """tapi32 traces: each structure's raw bytes must decode (adapter codec) to the recorded value."""
    try:
        _header, sessions = read_trace(trace)
    except TapiError as exc:
        return [str(exc)]
    checked = [(e, r) for s in sessions.values() for e in s["entries"] if e.get("type") == "call"
               for r in e.get("raw", ()) if isinstance(e.get("result"), dict)
               and e["result"].get("$struct") == _RAW_CLASSES.get(r["struct"])]
    if not checked:
        return []
    from conformance.backends.tapi32._codec import read_struct

    problems = []
    for entry, raw in checked:
        value = read_struct(type(decode(entry["result"])), bytes.fromhex(raw["hex"]), api_version=raw["api_version"])
        if encode(value) != entry["result"]:
            problems.append(f"{trace.name} line {entry['line']}: the raw {raw['struct']} bytes do not decode to "
                            f"the {entry['function']} result recorded next to them")
    return problems


def check_files(directory: Path, data: Mapping[str, Any]) -> list[str]:
    """Every difference between the files of ``directory`` and what results.json certifies."""
    cert = data.get("certification") or {}
    if not cert:
        return ["results.json: no certification block (written by a suite that did not certify runs)"]
    hashes = _hash_problems(directory, cert)
    raw = [] if any(p.startswith(TRACE_FILE) for p in hashes) else raw_problems(directory / TRACE_FILE)
    profile = [] if any(p.startswith(PROFILE_FILE) for p in hashes) else _profile_problems(directory, data)
    return [*hashes, *raw, *profile, *_results_problems(data),
            *_junit_problems(directory / "junit.xml", data, cert),
            *_html_problems(directory / "report.html", data, cert)]


# --- 3: the replay -------------------------------------------------------------------------------------


def compare_replay(recorded: Mapping[str, Any], replayed: Mapping[str, Any], same_suite: bool
                   ) -> tuple[list[str], list[str]]:
    """(problems, outcome changes) between the recorded and the replayed results."""
    before = {t["id"]: t for t in recorded.get("tests", [])}
    after = {t["id"]: t for t in replayed.get("tests", [])}
    changes = []
    for tid in sorted(set(before) | set(after)):
        old, new = before.get(tid, {}), after.get(tid, {})
        if old.get("outcome") != new.get("outcome"):
            changes.append(f"{tid}: recorded {old.get('outcome', 'absent')}, replayed "
                           f"{new.get('outcome', 'absent')}" + (f" ({new['reason']})" if new.get("reason") else ""))
        elif same_suite and old.get("reason") != new.get("reason"):
            changes.append(f"{tid}: same outcome {new.get('outcome')}, but the reason was {old.get('reason')!r} "
                           f"and is now {new.get('reason')!r}")
    problems = list(changes) if same_suite else []
    ro_old, ro_new = recorded.get("remote_office", {}), replayed.get("remote_office", {})
    for key in ("verdict", "route"):
        if ro_old.get(key) != ro_new.get(key):
            problems.append(f"{key}: recorded {ro_old.get(key)!r}, the installed suite gives {ro_new.get(key)!r}")
    if recorded.get("exit_status") != replayed.get("exit_status"):
        problems.append(f"exit status: recorded {recorded.get('exit_status')}, replayed {replayed.get('exit_status')}")
    return problems, changes


def _replay(directory: Path, out_dir: Path, verbose: bool, err: TextIO) -> Mapping[str, Any] | None:
    from conformance.cli._run import check_profile, run_suite

    profile = check_profile(str(directory / PROFILE_FILE), err)
    if profile is None:
        return None
    sink = io.StringIO()
    with contextlib.redirect_stdout(sys.stdout if verbose else sink):
        outcome = run_suite(directory / PROFILE_FILE, profile.name, f"replay:{directory / TRACE_FILE}", out_dir,
                            err=err)
    return outcome.results


# --- the command ---------------------------------------------------------------------------------------


def _report(problems: list[str], changes: list[str], versions: tuple[str, str], out: TextIO) -> int:
    recorded, installed = versions
    if recorded != installed:
        print(f"note: recorded with suite {recorded}, re-judged by the installed suite {installed}", file=out)
        if changes:
            print("outcomes the installed suite judges differently:", file=out)
            for line in changes:
                print(f"  {line}", file=out)
        else:
            print("the installed suite reaches every recorded outcome", file=out)
    if problems:
        print(f"NOT VERIFIED: {len(problems)} difference(s)", file=out)
        for line in problems:
            print(f"  {line}", file=out)
        return EXIT_NOT_VERIFIED
    return 0


def run(args: argparse.Namespace) -> int:
    directory = Path(args.directory)
    try:
        data = read_results(directory / "results.json")
    except ResultsFileError as exc:
        print(f"ro-conformance verify: {directory} is not a run directory: {exc}", file=sys.stderr)
        return EXIT_USAGE
    problems = check_files(directory, data)
    cert = data.get("certification") or {}
    changes: list[str] = []
    versions = (str(cert.get("suite_version", "?")), suite_version())
    if cert and not any(p.startswith((PROFILE_FILE, TRACE_FILE)) for p in problems):
        with tempfile.TemporaryDirectory(prefix="ro-verify-") as tmp:
            out_dir = Path(args.keep) if args.keep else Path(tmp)
            replayed = _replay(directory.resolve(), out_dir, args.verbose, sys.stderr)
            if replayed is None:
                problems.append("replay: the suite produced no results (see above)")
            else:
                found, changes = compare_replay(data, replayed, versions[0] == versions[1])
                problems += found
    status = _report(problems, changes, versions, sys.stdout)
    if status == 0:
        ro = data["remote_office"]
        print(f"VERIFIED: {ro['verdict']} (route {ro.get('route') or 'none'}, exit status {data['exit_status']}); "
              f"profile {cert['profile_sha256'][:16]}..., trace {cert['trace_sha256'][:16]}..., "
              f"{len(data.get('tests', []))} requirements replayed by suite {versions[1]}")
    return status
