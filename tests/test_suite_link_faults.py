"""Link faults (the simulator's knobs) and how the suite classifies them: never a fail, never a hang.

Each case runs the whole conformance suite on a copy of the reference profile with one fault, in a
subprocess with a wall-clock guard (a hang is a test failure, not a stuck CI job). What it shows:

* LINE_CLOSE / LINEDEVSTATE OUTOFSERVICE / REINIT after N requests: every requirement the fault reaches
  is **error**, its reason says what died, at which virtual time and during which step, and what the
  suite was waiting for; the wait ended at once (same virtual time as the event in the evidence);
  requirements the fault never reaches keep their clean verdict.
* events_first (LINE_CALLSTATE of existing calls before their LINE_REPLY) and a small reply latency
  change nothing; a reply latency above pixit.reply_timeout for one function is an error naming the
  function, the request id and the bound, and the evidence shows the wait lasted exactly that bound.
* A remote party that never answers is **inconclusive**, the reason naming the party and the bound.
* No requirement outcome is ever "fail" because of a link fault.

Which requirement a fault "after N requests" reaches is not written down here as numbers: it follows from
the documented rule (docs/profiles.md, "What is counted": every request of the application from its
lineInitializeEx = 1, queries and lineGetMessage excluded; each test opens its own application) applied
to the request sequence each requirement makes on a clean run of the reference profile, recorded once
per module (``flows``). A fault at a flow's Nth request reaches it when a request follows (the Nth is not
its last, lineShutdown).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from suite_runner import derived_profile, outcomes, reasons
from test_suite_profiles import NOT_PASSING

from conformance.backends.sim import SimBackend
from conformance.bridge.server import BridgeServer, ServerThread
from conformance.report._results import REQUIREMENT_CLAUSES
from simulator._faults import UNCOUNTED_FUNCTIONS

pytest_plugins = ("pytester",)

ROOT = Path(__file__).resolve().parent.parent
GUARD = 240.0                       # wall-clock seconds a whole suite run may take before it counts as hung
LONG = os.environ.get("RO_LONG") == "1"   # the on-demand sweep below (docs/testing.md)
CLEAN = {r: NOT_PASSING["reference"].get(r, "pass") for r in REQUIREMENT_CLAUSES}
SWEEP = 30                          # the long form kills the link at each of requests 1..SWEEP
DEATH = {
    "line_close": "the provider closed the desk line (LINE_CLOSE)",
    "out_of_service": "the desk line went out of service (LINE_LINEDEVSTATE OUTOFSERVICE)",
    "reinit": "the provider asked every application to re-initialise (LINE_LINEDEVSTATE REINIT)",
}


def run_suite(profile: Path, tmp: Path, backend: str = "sim", *args: str) -> dict[str, Any]:
    """The suite in a subprocess, bounded by GUARD wall-clock seconds; returns results.json."""
    out = tmp / f"results-{profile.stem}.json"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
           "--pyargs", "conformance.suite", f"--tapi-profile={profile}", f"--tapi-results={out}",
           f"--tapi-backend={backend}", *args]
    try:
        run = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=GUARD)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the suite hung: still running after {GUARD:g} s wall clock ({exc.stdout!r:.2000})")
    assert out.exists(), run.stdout + run.stderr
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data


Flows = dict[str, list[str]]


def counted_requests(results: dict[str, Any]) -> Flows:
    """Per requirement, the application's requests that ``after_requests`` counts, in order (the rule of
    docs/profiles.md; requirements that made none, e.g. not applicable ones, are left out)."""
    flows = {t["id"]: [r["function"] for r in t["records"] if r["kind"] == "request" and r["actor"] == "app"
                       and r["function"] not in UNCOUNTED_FUNCTIONS] for t in results["tests"]}
    return {rid: seq for rid, seq in flows.items() if seq}


@pytest.fixture(scope="module")
def flows(tmp_path_factory: pytest.TempPathFactory) -> Flows:
    """The counted request sequence of each requirement on a clean reference run (one suite run)."""
    tmp = tmp_path_factory.mktemp("clean")
    results = run_suite(ROOT / "profiles" / "reference.yaml", tmp)
    assert outcomes(results) == CLEAN, reasons(results)
    recorded = counted_requests(results)
    assert all(seq[0] == "lineInitializeEx" and seq[-1] == "lineShutdown" for seq in recorded.values()), recorded
    return recorded


def reached(flows: Flows, after: int) -> list[str]:
    """Requirements whose flow makes a request after its ``after``-th (a fault there reaches them)."""
    return sorted(rid for rid, seq in flows.items() if len(seq) > after)


def set_up_length(flows: Flows) -> int:
    """How many requests every flow starts with in common (initialise, open, status messages)."""
    first, *others = flows.values()
    n = 0
    while all(len(seq) > n and seq[n] == first[n] for seq in others):
        n += 1
    return n


def assert_never_fail(results: dict[str, Any]) -> None:
    wrong = {t["id"]: t["reason"] for t in results["tests"] if t["outcome"] == "fail"}
    assert not wrong, f"a link fault was blamed on the PBX: {wrong}"


def by_id(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["id"]: t for t in results["tests"]}


def failed_record(test: dict[str, Any]) -> dict[str, Any]:
    assert test["failed_seq"] is not None, test
    return next(r for r in test["records"] if r["seq"] == test["failed_seq"])


def assert_ended_with_the_link(test: dict[str, Any], death: str) -> None:
    """The evidence holds the dying event and the failing mark at the same virtual time (no waiting)."""
    records = test["records"]
    down = next(r for r in records if r["kind"] == "note" and r["text"].startswith(f"link down: {death}"))
    event = [r for r in records if r["kind"] == "message" and r["seq"] < down["seq"]][-1]
    assert event["result"] in ("LINE_CLOSE", "LINE_LINEDEVSTATE"), event
    failed = failed_record(test)
    assert failed["seq"] > down["seq"]
    assert failed["time"] - event["time"] < 0.001, (event, failed)     # the wait ended at once


# ----- a dead link ------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", sorted(DEATH))
def test_dead_link_at_the_first_request_is_an_error_naming_what_died(tmp_path: Path, kind: str,
                                                                     flows: Flows) -> None:
    """The link dies at the first request after the common set-up (lineInitializeEx, lineOpen,
    lineSetStatusMessages): every requirement that goes on is an error; RO-CAPS-01, which only reads
    caps and shuts down, keeps its pass."""
    after = set_up_length(flows) + 1
    requesting = reached(flows, after)
    assert "RO-CAPS-01" not in requesting and len(requesting) >= 10, flows
    path = derived_profile(tmp_path, "reference", f"{kind}-{after}".replace("_", "-"),
                           [{"kind": kind, "after_requests": after}])
    results = run_suite(path, tmp_path)
    assert_never_fail(results)
    got = outcomes(results)
    assert got == {**CLEAN, **dict.fromkeys(requesting, "error")}, reasons(results)
    assert results["remote_office"]["verdict"] == "undetermined" and results["exit_status"] == 3
    tests = by_id(results)
    for rid in requesting:
        reason = tests[rid]["reason"]
        assert reason.startswith(f"{DEATH[kind]} at t="), reason          # what died, when ...
        assert "during step '" in reason                                   # ... in which step
        assert "gave up waiting for the LINE_REPLY of line" in reason      # and what was awaited
        assert_ended_with_the_link(tests[rid], DEATH[kind])
    fwd = tests["RO-FWD-01"]["reason"]
    assert "during step 'lineForward: unconditional to the RO number'" in fwd
    assert "the LINE_REPLY of lineForward (request 1)" in fwd
    orig = tests["RO-ORIG-01"]["reason"]
    assert "the LINE_REPLY of lineMakeCall (request 1)" in orig


@pytest.mark.parametrize("kind", ["line_close", "out_of_service"])
def test_dead_link_later_in_a_flow_or_in_clean_up_is_still_an_error(tmp_path: Path, kind: str,
                                                                     flows: Flows) -> None:
    """At RO-CONS-01's lineDial: mid-flow for the consultation test, in the clean-up (restoring
    forwarding, the third lineForward) for the forwarding tests that clear; flows with no request after
    that one (RO-FWD-01/02/03, RO-TRUNK-01, RO-CAPS-01) are untouched."""
    after = flows["RO-CONS-01"].index("lineDial") + 1
    forwarders = [r for r, seq in flows.items() if len(seq) > after and seq[after - 1] == "lineForward"]
    assert "RO-FWD-04" in forwarders and all(flows[r].count("lineForward") == 3 for r in forwarders), flows
    untouched = [r for r in flows if r not in reached(flows, after)]
    assert {"RO-CAPS-01", "RO-FWD-01"} <= set(untouched), flows
    path = derived_profile(tmp_path, "reference", f"{kind}-{after}".replace("_", "-"),
                           [{"kind": kind, "after_requests": after}])
    results = run_suite(path, tmp_path)
    assert_never_fail(results)
    changed = dict.fromkeys(reached(flows, after), "error")
    assert outcomes(results) == {**CLEAN, **changed}, reasons(results)
    tests = by_id(results)
    cons = tests["RO-CONS-01"]["reason"]
    dial = next(r for r in tests["RO-CONS-01"]["records"] if r["kind"] == "return" and r["function"] == "lineDial")
    assert "during step 'lineDial the target on the consultation call'" in cons
    assert f"gave up waiting for the LINE_REPLY of lineDial (request {dial['request_id']})" in cons
    for rid in forwarders:
        assert "during step 'post-condition: restore forwarding'" in tests[rid]["reason"], tests[rid]["reason"]
    clean_up = tests["RO-FWD-04"]["reason"]
    assert clean_up.startswith(f"post-condition: {DEATH[kind]} at t=")
    assert "during step 'post-condition: restore forwarding'" in clean_up
    assert "forwarding / native Remote Office could not be restored" in clean_up     # said, not hidden
    for rid in changed:
        assert_ended_with_the_link(tests[rid], DEATH[kind])


def test_dead_link_through_the_emulated_dll_is_an_error_too(tmp_path: Path, flows: Flows) -> None:
    """The same LINE_CLOSE through tapi32:emulated (its message threads must not hang either). The party
    lines' helper application is the harness and never counted, and tapi32's second sizing call is a
    query, so the fault reaches exactly the requirements it reaches in-process."""
    after = set_up_length(flows) + 1
    path = derived_profile(tmp_path, "reference", "close-tapi32", [{"kind": "line_close", "after_requests": after}])
    results = run_suite(path, tmp_path, backend=f"tapi32:emulated:{path}")
    assert_never_fail(results)
    errored = sorted(r for r, o in outcomes(results).items() if o == "error")
    assert errored == reached(flows, after), reasons(results)
    assert all(DEATH["line_close"] in t["reason"] for t in results["tests"] if t["outcome"] == "error")


def test_dead_link_through_the_bridge_hits_only_the_test_it_happens_in(tmp_path: Path, flows: Flows) -> None:
    """One shared simulator for the whole run (``session=shared``; by default each test's connection gets
    a fresh PBX, tests/test_bridge_suite.py). The count is per application and each test opens its own,
    so N is one past every other flow's length: 'after N requests' fires once, in the longest flow (not
    the last test of the run); that test is an error naming LINE_CLOSE, every other test - the later
    ones on the same PBX included - gets a fresh line and its clean verdict. A flow only one request
    shorter than the longest leaves no such N, so the run leaves those flows out (-k)."""
    longest, *others = sorted(flows, key=lambda r: -len(flows[r]))
    close = [r for r in others if len(flows[r]) >= len(flows[longest]) - 1]
    others = [r for r in others if r not in close]
    after = max(len(flows[r]) for r in others) + 1
    assert len(flows[longest]) > after, flows              # a request follows: the fault reaches it
    assert [r for r in reached(flows, after) if r not in close] == [longest]
    path = derived_profile(tmp_path, "reference", "close-bridge", [{"kind": "line_close", "after_requests": after}])
    served = SimBackend(path)
    leave_out = ["-k", " and ".join(f"not {r.lower().replace('-', '_')}" for r in close)] if close else []
    with ServerThread(BridgeServer(served, mode="virtual")) as st:
        results = run_suite(path, tmp_path, f"bridge://{st.url}?session=shared", *leave_out)
        leftovers = st.call(lambda: (len(served.apps), len(served.live_calls())))
    assert_never_fail(results)
    got = outcomes(results)
    hit = [r for r, o in got.items() if o != CLEAN[r]]
    assert hit == [longest] and got[longest] == "error", reasons(results)
    assert DEATH["line_close"] in reasons(results)[longest]
    assert [t["id"] for t in results["tests"]][-1] != longest     # later tests ran on the same PBX
    assert leftovers == (0, 0)


def test_the_long_sweep_reaches_every_request_of_every_flow(flows: Flows) -> None:
    """The on-demand sweep below kills the link at requests 1..SWEEP: enough for the longest flow."""
    assert max(len(seq) for seq in flows.values()) <= SWEEP, flows


@pytest.mark.skipif(not LONG, reason="long form: RO_LONG=1 (docs/testing.md)")
@pytest.mark.parametrize("after", range(1, SWEEP + 1))
@pytest.mark.parametrize("kind", sorted(DEATH))
def test_long_sweep_dead_link_at_every_step(tmp_path: Path, kind: str, after: int) -> None:
    """Long form: the link dies after 1..SWEEP requests; whichever requirement it hits is an error naming
    it, the others keep their clean verdict, and no run hangs or blames the PBX."""
    path = derived_profile(tmp_path, "reference", f"{kind}-{after}".replace("_", "-"),
                           [{"kind": kind, "after_requests": after}])
    results = run_suite(path, tmp_path)
    assert_never_fail(results)
    for test in results["tests"]:
        if test["outcome"] != CLEAN[test["id"]]:
            assert test["outcome"] == "error" and DEATH[kind] in test["reason"], test["reason"]


# ----- reply order and latency ------------------------------------------------------------------

@pytest.mark.parametrize("faults", [
    [{"kind": "events_first"}],
    [{"kind": "reply_latency", "seconds": 1.0}],
    [{"kind": "reply_latency", "function": "lineBlindTransfer", "seconds": 4.5}],
], ids=["events-first", "latency-1s-everywhere", "latency-just-below-the-bound"])
def test_reply_order_and_small_latency_change_nothing(tmp_path: Path, faults: list[dict[str, Any]]) -> None:
    path = derived_profile(tmp_path, "reference", "benign", faults)
    results = run_suite(path, tmp_path)
    assert outcomes(results) == CLEAN, reasons(results)
    assert results["remote_office"]["verdict"] == "compatible"


def test_latency_above_the_reply_timeout_is_an_error_naming_function_request_and_bound(tmp_path: Path) -> None:
    path = derived_profile(tmp_path, "reference", "slow-makecall",
                           [{"kind": "reply_latency", "function": "lineMakeCall", "seconds": 9.0}])
    results = run_suite(path, tmp_path)
    assert_never_fail(results)
    makes_calls = ("RO-BLIND-01", "RO-CAPS-02", "RO-CONS-01", "RO-E2E-01", "RO-ORIG-01", "RO-TAPI-01")
    assert outcomes(results) == {**CLEAN, **dict.fromkeys(makes_calls, "error")}, reasons(results)
    tests = by_id(results)
    for rid in makes_calls:
        test = tests[rid]
        request = next(r for r in test["records"] if r["kind"] == "return" and r["function"] == "lineMakeCall")
        rid_text = f"no LINE_REPLY for lineMakeCall (request {request['request_id']}) within 5 s " \
                   f"(pixit.reply_timeout)"
        assert rid_text in test["reason"]
        assert "lineMakeCall to the RO number" in test["reason"]                    # the step
        assert failed_record(test)["seq"] == request["seq"]         # the request that went unanswered is marked
        note = next(r for r in test["records"] if r["seq"] == test["judged"][0]["note"])
        waited = note["time"] - request["time"]
        assert 5.0 <= waited <= 5.1, waited                                         # exactly the bound


# ----- remote parties ---------------------------------------------------------------------------

def _silent(role: str) -> Any:
    def mutate(data: dict[str, Any]) -> None:
        for ext in data["externals"]:
            if ext["number"] == data["pixit"][role]:
                ext["behaviour"] = "no_answer"
    return mutate


def test_a_ro_phone_that_never_answers_is_inconclusive_naming_it_and_the_bound(tmp_path: Path) -> None:
    path = derived_profile(tmp_path, "reference", "silent-ro", [], _silent("remote_office"))
    results = run_suite(path, tmp_path)
    assert_never_fail(results)
    tests = by_id(results)
    for rid in ("RO-BLIND-01", "RO-CONS-01", "RO-E2E-01", "RO-CAPS-02"):
        assert tests[rid]["outcome"] == "inconclusive", tests[rid]["reason"]
        reason = tests[rid]["reason"]
        assert "wait for the RO phone to answer" in reason and "did not reach CONNECTED within 30 s" in reason
        request = next(r for r in tests[rid]["records"] if r["kind"] == "return" and r["function"] == "lineMakeCall")
        assert failed_record(tests[rid])["time"] - request["time"] <= 30.0 + 1.0      # answer_timeout + ringing
    assert results["remote_office"]["verdict"] == "undetermined"


def test_a_target_that_never_answers_names_the_target_and_the_bound(tmp_path: Path) -> None:
    path = derived_profile(tmp_path, "reference", "silent-target", [], _silent("target"))
    results = run_suite(path, tmp_path)
    assert_never_fail(results)
    reason = by_id(results)["RO-BLIND-01"]["reason"]
    assert by_id(results)["RO-BLIND-01"]["outcome"] == "inconclusive"
    assert "the target answers: target did not become connected within 30 s" in reason


# ----- the plugin's side: bridge death, asserts after a dead link, clean-up -----------------------

def test_a_dying_bridge_and_a_fail_after_a_dead_line_are_errors(pytester: pytest.Pytester) -> None:
    """Inside the plugin: a bare assert (or a NotHonoured) reached after LINE_CLOSE is an error naming
    the close, a BridgeError is 'the bridge connection died', and neither crashes the clean-up."""
    profile = ROOT / "profiles" / "reference.yaml"
    pytester.makepyfile(test_inner=textwrap.dedent("""
        def test_ro_fwd_01_assert_after_close(tapi_session, tapi_backend):
            sim = tapi_backend.inner                       # LINE_CLOSE of the suite's lines, not yet taken in
            sim._spontaneous("line_close", sim.apps[tapi_session.line.h_line_app])
            assert False, "the forward list was wrong"     # would be a fail on a live line

        def test_ro_fwd_02_bridge_dies(tapi_session, tapi_backend):
            from simulator._errors import BridgeError
            raise BridgeError("bridge: connection closed by the server")
    """))
    out = pytester.path / "results.json"
    pytester.runpytest_inprocess("-p", "no:cacheprovider", f"--tapi-profile={profile}", f"--tapi-results={out}")
    tests = {t["id"]: t for t in json.loads(out.read_text(encoding="utf-8"))["tests"]}
    closed = tests["RO-FWD-01"]
    assert closed["outcome"] == "error", closed["reason"]
    assert closed["reason"].startswith("the provider closed the desk line (LINE_CLOSE) at t=")
    assert "the forward list was wrong" in closed["reason"]
    bridge = tests["RO-FWD-02"]
    assert bridge["outcome"] == "error"
    assert bridge["reason"].startswith("test: the bridge connection died: bridge: connection closed")
