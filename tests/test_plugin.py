"""The ``tapi`` pytest plugin, driven with pytester: options, usage errors, markers, outcomes, results.json."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from suite_runner import PROFILES, derived_profile

pytest_plugins = ("pytester",)
REFERENCE = str(PROFILES / "reference.yaml")
QUIET = ("-p", "no:cacheprovider", "-p", "no:hypothesispytest")


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess(*QUIET, *args)


def _results(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    out = pytester.path / "out" / "results.json"
    run = _run(pytester, f"--tapi-profile={REFERENCE}", f"--tapi-results={out}", *args)
    return run, json.loads(out.read_text(encoding="utf-8"))


def _by_id(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["id"]: t for t in results["tests"]}


def test_options_are_listed_in_help(pytester: pytest.Pytester) -> None:
    run = _run(pytester, "--help")
    run.stdout.fnmatch_lines(["*TAPI Remote Office conformance*", "*--tapi-backend=SPEC*",
                              "*--tapi-profile=PATH*", "*--tapi-results=PATH*"])


def test_inert_without_options(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    assert True\n")
    run = _run(pytester, "-rA")
    run.assert_outcomes(passed=1)
    assert "--- ro-conformance ---" not in run.stdout.str() and not list(pytester.path.glob("*.json"))


def test_unknown_backend_is_a_usage_error_naming_the_available(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    pass\n")
    run = _run(pytester, "--tapi-backend", "nosuch:x", f"--tapi-profile={REFERENCE}")
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    run.stderr.fnmatch_lines(["*--tapi-backend nosuch:x*unknown backend 'nosuch'*available*sim*"])


def test_broken_profile_is_a_usage_error_listing_every_problem(pytester: pytest.Pytester) -> None:
    bad = pytester.path / "bad.yaml"
    bad.write_text((PROFILES / "reference.yaml").read_text().replace("channels: 4", "channels: 0")
                   .replace("origination: auto", "origination: sometimes"))
    pytester.makepyfile("def test_plain():\n    pass\n")
    run = _run(pytester, "--tapi-profile", str(bad))
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    err = run.stderr.str()
    assert "bad.yaml is broken" in err and "trunks.channels" in err and "capabilities.origination" in err


def test_profile_from_ini_and_env(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile("def test_p(tapi_profile):\n    assert tapi_profile.name == 'reference'\n")
    pytester.makeini(f"[pytest]\ntapi_profile = {REFERENCE}\n")
    _run(pytester).assert_outcomes(passed=1)
    pytester.makeini("[pytest]\n")
    monkeypatch.setenv("TAPI_PROFILE", REFERENCE)
    _run(pytester).assert_outcomes(passed=1)


def test_results_without_profile_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    pass\n")
    run = _run(pytester, "--tapi-results", "x.json")
    assert run.ret == pytest.ExitCode.USAGE_ERROR


def test_fixture_without_profile_is_one_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_p(tapi_line):\n    pass\n\ndef test_q(tapi_line):\n    pass\n")
    run = _run(pytester)
    assert run.ret == pytest.ExitCode.USAGE_ERROR
    assert (run.stdout.str() + run.stderr.str()).count("2 collected test(s) need a PBX profile") == 1


USER_TESTS = '''
import pytest
from conformance.suite._errors import Inconclusive, HarnessError
from simulator._constants import LineCallState


@pytest.mark.requirement("RO-FWD-01")
def test_line_is_the_desk(tapi_line, tapi_backend, tapi_profile):
    caps = tapi_backend.line_get_address_caps(tapi_line.h_line_app, tapi_line.device_id, 0, tapi_line.api_version)
    assert caps.address == tapi_profile.pixit.desk

def test_ro_orig_01_by_name_and_fail(tapi_session):
    assert 1 == 2, "the PBX did not honour it"

@pytest.mark.requirement("RO-BLIND-01")
def test_inconclusive(tapi_session):
    raise Inconclusive("the target never answered")

@pytest.mark.requirement("RO-CONS-01")
def test_harness_error(tapi_session):
    raise HarnessError("bridge went away")

@pytest.mark.requirement("RO-CAPS-01")
def test_unexpected_line_error(tapi_session, tapi_backend):
    tapi_backend.line_get_call_status(0x7777)

@pytest.mark.requirement("RO-NATIVE-01")
@pytest.mark.tapi_requires("native")
def test_not_applicable(tapi_session):
    raise AssertionError("never runs")

@pytest.mark.requirement("RO-TRUNK-01")
@pytest.mark.tapi_requires("forwarding", "trunks>=2")
def test_applicable(tapi_parties):
    assert tapi_parties.observe("target").state == "idle"

@pytest.mark.requirement("RO-E2E-02")
@pytest.mark.tapi_requires("teleportation")
def test_unknown_claim(tapi_session):
    pass

@pytest.mark.requirement("RO-E2E-01")
def test_lost_reply_names_function_and_request(tapi_session):
    s = tapi_session
    s.wait_reply(4242, "lineMakeCall", "make a call that was never made")

@pytest.mark.requirement("RO-CAPS-02")
def test_leftover_call_is_cleaned_up(tapi_session):
    from conformance.suite._flows import make_ro_leg
    make_ro_leg(tapi_session)        # left connected: the post-condition drops it

@pytest.mark.requirement("RO-FWD-02")
def test_post_condition_failure_is_an_error(tapi_session, tapi_backend):
    tapi_session.line = type(tapi_session.line)(**{**vars(tapi_session.line), "h_line": 0x999})
'''


@pytest.fixture
def user_run(pytester: pytest.Pytester) -> tuple[pytest.RunResult, dict[str, Any]]:
    pytester.makepyfile(test_user=USER_TESTS)
    return _results(pytester, "--junitxml", str(pytester.path / "junit.xml"))


def test_outcome_classification(user_run: tuple[pytest.RunResult, dict[str, Any]]) -> None:
    _, results = user_run
    got = {k: v["outcome"] for k, v in _by_id(results).items()}
    assert got == {"RO-FWD-01": "pass", "RO-ORIG-01": "fail", "RO-BLIND-01": "inconclusive",
                   "RO-CONS-01": "error", "RO-CAPS-01": "error", "RO-NATIVE-01": "not-applicable",
                   "RO-TRUNK-01": "pass", "RO-E2E-02": "error", "RO-E2E-01": "error", "RO-CAPS-02": "pass",
                   "RO-FWD-02": "error"}


def test_reasons_name_what_happened(user_run: tuple[pytest.RunResult, dict[str, Any]]) -> None:
    tests = _by_id(user_run[1])
    assert tests["RO-ORIG-01"]["reason"].startswith("the PBX did not honour it")
    assert tests["RO-BLIND-01"]["reason"] == "the target never answered"
    assert "LINEERR_INVALCALLHANDLE" in tests["RO-CAPS-01"]["reason"]
    assert "capabilities.native_remote_office.mechanism = 'none'" in tests["RO-NATIVE-01"]["reason"]
    assert "unknown tapi_requires claim 'teleportation'" in tests["RO-E2E-02"]["reason"]
    assert tests["RO-E2E-01"]["reason"] == ("make a call that was never made: no LINE_REPLY for lineMakeCall "
                                            "(request 4242) within 5 s (pixit.reply_timeout)")
    assert "post-condition" in tests["RO-FWD-02"]["reason"]


def test_evidence_and_failed_step(user_run: tuple[pytest.RunResult, dict[str, Any]]) -> None:
    tests = _by_id(user_run[1])
    lost = tests["RO-E2E-01"]
    marked = [r for r in lost["records"] if r["failed"]]
    assert lost["failed_seq"] == marked[0]["seq"] and "lineMakeCall (request 4242)" in marked[0]["text"]
    fail = tests["RO-ORIG-01"]       # a bare assert is marked by the plugin
    assert fail["failed_seq"] is not None
    assert tests["RO-NATIVE-01"]["records"] == []      # not applicable: no backend was opened
    assert tests["RO-FWD-01"]["clause"] == "fwd_set" and tests["RO-FWD-01"]["nodeid"].endswith("test_line_is_the_desk")
    caps02 = [r["text"] for r in tests["RO-CAPS-02"]["records"]]
    assert any("lineDrop" in t for t in caps02) and any("lineDeallocateCall" in t for t in caps02)


def test_pytest_counts(user_run: tuple[pytest.RunResult, dict[str, Any]]) -> None:
    run, results = user_run
    outcomes = run.parseoutcomes()
    assert outcomes.get("skipped") == 1                     # not-applicable is never a failure
    assert results["summary"]["not-applicable"] == 1
    assert results["format"] == "ro-conformance-results/1" and results["profile"]["name"] == "reference"
    assert results["backend"]["spec"] == "sim" and results["backend"]["info"]["backend"] == "sim"


def test_junit_carries_outcome_and_requirement(pytester: pytest.Pytester,
                                               user_run: tuple[pytest.RunResult, dict[str, Any]]) -> None:
    root = ET.parse(pytester.path / "junit.xml").getroot()
    props: dict[str, dict[str, str]] = {}
    for case in root.iter("testcase"):
        values = {p.get("name", ""): p.get("value", "") for p in case.iter("property")}
        props[values.get("ro_requirement", "")] = values
    assert props["RO-BLIND-01"]["ro_outcome"] == "inconclusive"
    assert props["RO-NATIVE-01"]["ro_outcome"] == "not-applicable"


def test_keys_are_importable_and_filled(pytester: pytest.Pytester) -> None:
    pytester.makeconftest('''
from conformance.plugin import OUTCOME_KEY, RESULTS_KEY
seen = []
def pytest_runtest_logreport(report):
    if report.when == "teardown" and hasattr(report, "tapi_outcome"):
        seen.append(report.tapi_outcome["outcome"])
def pytest_sessionfinish(session):
    results = session.config.stash[RESULTS_KEY]
    print("RESULTS", [t.id for t in results.tests], seen)
def pytest_runtest_teardown(item):
    pass
''')
    pytester.makepyfile("import pytest\n@pytest.mark.requirement('RO-FWD-01')\n"
                        "def test_a(tapi_session):\n    pass\n")
    run = _run(pytester, f"--tapi-profile={REFERENCE}", "-s")
    assert "RESULTS ['RO-FWD-01'] ['pass']" in run.stdout.str()


def test_broken_precondition_is_an_error(pytester: pytest.Pytester, tmp_path: Path) -> None:
    pytester.makepyfile('''
import pytest
from conformance.plugin import RECORDER_KEY

@pytest.fixture
def busy_desk(tapi_backend, tapi_profile):
    tapi_backend.parties.call("caller", tapi_profile.stations[0].business_number)
    tapi_backend.parties.wait_for("desk", frozenset({"alerting"}), 10)

@pytest.mark.requirement("RO-FWD-01")
def test_x(busy_desk, tapi_session):
    pass
''')
    out = pytester.path / "r.json"
    _run(pytester, f"--tapi-profile={REFERENCE}", f"--tapi-results={out}")
    test = json.loads(out.read_text())["tests"][0]
    assert test["outcome"] == "error" and test["reason"].startswith("pre-condition: the desk line has 1 call")


def test_suite_runs_with_an_explicit_backend_spec(pytester: pytest.Pytester, tmp_path: Path) -> None:
    other = derived_profile(tmp_path, "blind-only", "other")
    out = pytester.path / "r.json"
    run = _run(pytester, "--pyargs", "conformance.suite", "-k", "fwd_01 or blind_01",
               f"--tapi-profile={REFERENCE}", "--tapi-backend", f"sim:{other}", f"--tapi-results={out}")
    run.assert_outcomes(passed=2, deselected=14)
    results = json.loads(out.read_text())
    assert results["backend"]["info"]["profile"] == "other"
