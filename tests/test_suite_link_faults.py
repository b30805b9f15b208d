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

pytest_plugins = ("pytester",)

ROOT = Path(__file__).resolve().parent.parent
GUARD = 240.0                       # wall-clock seconds a whole suite run may take before it counts as hung
LONG = os.environ.get("RO_LONG") == "1"   # the on-demand sweep below (docs/testing.md)
CLEAN = {r: NOT_PASSING["reference"].get(r, "pass") for r in REQUIREMENT_CLAUSES}
# Requirements whose flow makes a TAPI request after lineInitializeEx + lineOpen (so a fault "after 3
# requests" reaches them); RO-CAPS-01 only reads caps and RO-NATIVE-01 is not applicable on reference.
REQUESTING = sorted(r for r, o in CLEAN.items() if o == "pass" and r != "RO-CAPS-01")
DEATH = {
    "line_close": "the provider closed the desk line (LINE_CLOSE)",
    "out_of_service": "the desk line went out of service (LINE_LINEDEVSTATE OUTOFSERVICE)",
    "reinit": "the provider asked every application to re-initialise (LINE_LINEDEVSTATE REINIT)",
}


def run_suite(profile: Path, tmp: Path, backend: str = "sim") -> dict[str, Any]:
    """The suite in a subprocess, bounded by GUARD wall-clock seconds; returns results.json."""
    out = tmp / f"results-{profile.stem}.json"
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:hypothesispytest",
           "--pyargs", "conformance.suite", f"--tapi-profile={profile}", f"--tapi-results={out}",
           f"--tapi-backend={backend}"]
    try:
        run = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, timeout=GUARD)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the suite hung: still running after {GUARD:g} s wall clock ({exc.stdout!r:.2000})")
    assert out.exists(), run.stdout + run.stderr
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data


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
def test_dead_link_at_the_first_request_is_an_error_naming_what_died(tmp_path: Path, kind: str) -> None:
    path = derived_profile(tmp_path, "reference", f"{kind}-4".replace("_", "-"),
                           [{"kind": kind, "after_requests": 4}])
    results = run_suite(path, tmp_path)
    assert_never_fail(results)
    got = outcomes(results)
    assert got == {**CLEAN, **dict.fromkeys(REQUESTING, "error")}, reasons(results)
    assert results["remote_office"]["verdict"] == "undetermined" and results["exit_status"] == 3
    tests = by_id(results)
    for rid in REQUESTING:
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
def test_dead_link_later_in_a_flow_or_in_clean_up_is_still_an_error(tmp_path: Path, kind: str) -> None:
    """After 5 requests: mid-flow for the consultation tests (lineDial), in the clean-up (restoring
    forwarding) for the forwarding tests; flows with fewer requests are untouched."""
    path = derived_profile(tmp_path, "reference", f"{kind}-5".replace("_", "-"),
                           [{"kind": kind, "after_requests": 5}])
    results = run_suite(path, tmp_path)
    assert_never_fail(results)
    changed = {r: "error" for r in ("RO-CAPS-02", "RO-CONS-01", "RO-E2E-02", "RO-FWD-04", "RO-FWD-05",
                                    "RO-FWD-06", "RO-TAPI-01")}
    assert outcomes(results) == {**CLEAN, **changed}, reasons(results)
    tests = by_id(results)
    cons = tests["RO-CONS-01"]["reason"]
    assert "during step 'lineDial the target on the consultation call'" in cons
    assert "gave up waiting for the LINE_REPLY of lineDial (request 3)" in cons
    clean_up = tests["RO-FWD-04"]["reason"]
    assert clean_up.startswith(f"post-condition: {DEATH[kind]} at t=")
    assert "during step 'post-condition: restore forwarding'" in clean_up
    assert "forwarding / native Remote Office could not be restored" in clean_up     # said, not hidden
    for rid in changed:
        assert_ended_with_the_link(tests[rid], DEATH[kind])


def test_dead_link_through_the_emulated_dll_is_an_error_too(tmp_path: Path) -> None:
    """The same LINE_CLOSE through tapi32:emulated (its message threads must not hang either). Party
    lines are TAPI lines there, so the fault counts their requests as well and fires earlier."""
    path = derived_profile(tmp_path, "reference", "close-tapi32", [{"kind": "line_close", "after_requests": 4}])
    results = run_suite(path, tmp_path, backend=f"tapi32:emulated:{path}")
    assert_never_fail(results)
    errored = {r for r, o in outcomes(results).items() if o == "error"}
    assert set(REQUESTING) <= errored, reasons(results)
    assert all(DEATH["line_close"] in t["reason"] for t in results["tests"] if t["outcome"] == "error")


def test_dead_link_through_the_bridge_hits_only_the_test_it_happens_in(tmp_path: Path) -> None:
    """One shared simulator for the whole run (``session=shared``; by default each test's connection gets
    a fresh PBX, tests/test_bridge_suite.py): 'after N requests' fires once, in one test; that test is
    an error naming LINE_CLOSE, every later test gets a fresh line and its clean verdict."""
    path = derived_profile(tmp_path, "reference", "close-bridge", [{"kind": "line_close", "after_requests": 40}])
    served = SimBackend(path)
    with ServerThread(BridgeServer(served, mode="virtual")) as st:
        results = run_suite(path, tmp_path, backend=f"bridge://{st.url}?session=shared")
        leftovers = st.call(lambda: (len(served.apps), len(served.live_calls())))
    assert_never_fail(results)
    got = outcomes(results)
    hit = [r for r, o in got.items() if o != CLEAN[r]]
    assert len(hit) == 1 and got[hit[0]] == "error", reasons(results)
    assert DEATH["line_close"] in reasons(results)[hit[0]]
    assert leftovers == (0, 0)


@pytest.mark.skipif(not LONG, reason="long form: RO_LONG=1 (docs/testing.md)")
@pytest.mark.parametrize("after", range(1, 31))
@pytest.mark.parametrize("kind", sorted(DEATH))
def test_long_sweep_dead_link_at_every_step(tmp_path: Path, kind: str, after: int) -> None:
    """Long form: the link dies after 1..30 requests; whichever requirement it hits is an error naming
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
        waited = failed_record(test)["time"] - request["time"]
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
            tapi_backend.inner._spontaneous("line_close")  # LINE_CLOSE queued, not yet taken in
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
