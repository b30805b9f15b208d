"""The catalogue of lying PBXs (profiles/mutants/) and the boundary profiles (profiles/boundary/): the
suite gives each exactly the verdict, route and failed requirements its ``expect:`` states.

A mutant whose expectation the suite does not meet yet because of a known defect of the suite's
judgement says so in its header (``# Suite defect ...``); it is a strict xfail here, so it flips to a
failure (to be unmarked) the day the suite is fixed. A mutant the suite must *survive* (no requirement
may fail for it) says why in a ``# Robustness: ...`` header line and expects ``fails: []``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from golden_tools import check_golden
from suite_runner import PROFILES, run_suite

from conformance._evidence import check_results
from simulator._profile import load_profile

pytest_plugins = ("pytester",)

CATALOGUE = sorted([*PROFILES.glob("mutants/*.yaml"), *PROFILES.glob("boundary/*.yaml")])
_DEFECT = re.compile(r"^# Suite defect \(test marked xfail until fixed\): (.+)$", re.MULTILINE)
_ROBUSTNESS = re.compile(r"^# Robustness: .+$", re.MULTILINE)
REQUIREMENTS = ("RO-FWD-01", "RO-FWD-02", "RO-FWD-03", "RO-FWD-04", "RO-FWD-05", "RO-FWD-06", "RO-ORIG-01",
                "RO-BLIND-01", "RO-CONS-01", "RO-TRUNK-01", "RO-NATIVE-01", "RO-E2E-01", "RO-E2E-02",
                "RO-CAPS-01", "RO-CAPS-02", "RO-TAPI-01")


def _case(path: Path) -> pytest.ParameterSet:
    defect = _DEFECT.search(path.read_text(encoding="utf-8"))
    marks = [pytest.mark.xfail(strict=True, reason=defect.group(1))] if defect else []
    return pytest.param(path, id=f"{path.parent.name}/{path.stem}", marks=marks)


def test_the_catalogue_covers_every_requirement() -> None:
    proven = set()
    for path in PROFILES.glob("mutants/*.yaml"):
        expect = load_profile(path).expect
        robust = _ROBUSTNESS.search(path.read_text(encoding="utf-8")) is not None
        assert expect is not None and (bool(expect.fails) != robust), \
            f"{path}: a mutant expects at least one fail, a '# Robustness:' one none"
        proven |= set(expect.fails)
    assert proven == set(REQUIREMENTS)


@pytest.mark.parametrize("path", [_case(p) for p in CATALOGUE])
def test_catalogue_profile_meets_its_expectation(pytester: pytest.Pytester, request: pytest.FixtureRequest,
                                                 path: Path) -> None:
    """... and every verdict that is not a pass agrees with its raw log (conformance._evidence): it cites
    the record it judged, that record is in the log, marked, and says what the text says."""
    expect = load_profile(path).expect
    assert expect is not None, f"{path} states no expect:"
    _, results = run_suite(pytester, path)
    assert check_results(results) == []
    ro = results["remote_office"]
    failed = {t["id"] for t in results["tests"] if t["outcome"] == "fail"}
    assert expect.mismatches(ro["verdict"], ro["route"], failed) == [], {
        t["id"]: (t["outcome"], t["reason"][:160]) for t in results["tests"] if t["outcome"] != "pass"}
    # ... and says so in the words it said before, steps included: the ladder a vendor reads names each step
    # it took (tests/golden_tools.py: --update-golden after a change)
    check_golden(request.config, f"{path.parent.name}/{path.stem}", results, steps=True)


def test_run_prints_a_mismatch_with_the_expectation_on_its_own_line(tmp_path: Path) -> None:
    from conformance.cli._run import expectation_line

    profile = load_profile(PROFILES / "mutants" / "blind-refused.yaml")
    data = {"remote_office": {"verdict": "compatible", "route": "blind"},
            "tests": [{"id": "RO-BLIND-01", "outcome": "pass"}]}
    line = expectation_line(profile, data)
    assert line is not None and "\n" not in line
    assert line.startswith("expectation not met (") and "route blind (expected consult)" in line
    assert "fails [] (expected [RO-BLIND-01, RO-CAPS-02, RO-E2E-01])" in line
    met = {"remote_office": {"verdict": "compatible", "route": "consult"},
           "tests": [{"id": "RO-BLIND-01", "outcome": "fail"}, {"id": "RO-CAPS-02", "outcome": "fail"},
                     {"id": "RO-E2E-01", "outcome": "fail"}]}
    assert expectation_line(profile, met) is None


def test_a_call_that_never_goes_idle_is_an_error_naming_it(pytester: pytest.Pytester) -> None:
    """mutants/tapi-call-never-idle: every flow that drops a call ends in an error naming the handle that
    stayed DISCONNECTED (never a pass that hides it, never a fail blamed on a Remote Office clause)."""
    _, results = run_suite(pytester, PROFILES / "mutants" / "tapi-call-never-idle.yaml")
    errors = {t["id"]: t["reason"] for t in results["tests"] if t["outcome"] == "error"}
    assert {"RO-ORIG-01", "RO-TAPI-01"} <= set(errors), errors
    stuck = re.compile(r"call 0x[0-9A-F]{8} did not reach IDLE within [0-9.]+ s \(still DISCONNECTED\)")
    for reason in errors.values():
        assert stuck.search(reason), reason


@pytest.mark.parametrize("name", ["mutants/tapi-needed-size-grows", "native-ro", "mutants/native-wrong-connected-id"])
def test_the_expectation_holds_through_tapi32(pytester: pytest.Pytester, name: str) -> None:
    """Through tapi32:emulated the profile's expect holds as in-process: tapi-needed-size-grows, where sizes
    are real; the native route, whose lineDevSpecific (dwAddressID, hCall) and lineMakeCall (dwCountryCode)
    reach ctypes prototypes that take DWORDs and nothing else."""
    path = PROFILES / f"{name}.yaml"
    expect = load_profile(path).expect
    assert expect is not None
    _, results = run_suite(pytester, path, f"--tapi-backend=tapi32:emulated:{path}")
    assert check_results(results) == []
    ro = results["remote_office"]
    failed = {t["id"] for t in results["tests"] if t["outcome"] == "fail"}
    assert expect.mismatches(ro["verdict"], ro["route"], failed) == [], results["tests"]
