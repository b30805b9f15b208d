"""The suite judges every shipped profile as its ``expect:`` says, with the route that carries it."""

from __future__ import annotations

import pytest
from golden_tools import check_golden
from suite_runner import PROFILES, SHIPPED, outcomes, run_suite

from conformance.report._results import REQUIREMENT_CLAUSES
from simulator._profile import load_profile

pytest_plugins = ("pytester",)



# Which requirements do not apply to each shipped profile (other test modules derive from these);
# verdict, route and fails come from each profile's expect:.
# requirement -> outcome (not-applicable), where it is not "pass" (everything else passes)
NOT_PASSING: dict[str, dict[str, str]] = {
    "reference": {"RO-NATIVE-01": "not-applicable"},
    "blind-only": {"RO-NATIVE-01": "not-applicable", "RO-CONS-01": "not-applicable"},
    "consult-ringing": {"RO-NATIVE-01": "not-applicable", "RO-BLIND-01": "not-applicable"},
    "consult-connected-only": {"RO-NATIVE-01": "not-applicable", "RO-BLIND-01": "not-applicable",
                               "RO-CONS-01": "not-applicable", "RO-E2E-01": "not-applicable"},
    "native-ro": {"RO-BLIND-01": "not-applicable", "RO-CONS-01": "not-applicable"},
    "single-trunk": {r: "not-applicable" for r in ("RO-NATIVE-01", "RO-BLIND-01", "RO-CONS-01", "RO-E2E-01",
                                                    "RO-E2E-02", "RO-FWD-06", "RO-TRUNK-01")},
    "forward-no-query": {r: "not-applicable" for r in ("RO-NATIVE-01", "RO-FWD-02", "RO-FWD-03", "RO-FWD-05")},
    "prompted": {r: "not-applicable" for r in ("RO-NATIVE-01", "RO-ORIG-01", "RO-E2E-01")},
}


def test_every_shipped_profile_states_its_expectation() -> None:
    for name in SHIPPED:
        expect = load_profile(PROFILES / f"{name}.yaml").expect
        assert expect is not None, name
        assert expect.fails == (), f"{name}: a shipped profile is honest (its claims hold)"


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_profile_verdict(pytester: pytest.Pytester, request: pytest.FixtureRequest, name: str) -> None:
    """The verdict and route are the ones the profile's ``expect:`` states, with nothing failing."""
    expect = load_profile(PROFILES / f"{name}.yaml").expect
    assert expect is not None
    run, results = run_suite(pytester, PROFILES / f"{name}.yaml")
    ro = results["remote_office"]
    failed = {t["id"] for t in results["tests"] if t["outcome"] == "fail"}
    assert expect.mismatches(ro["verdict"], ro["route"], failed) == [], ro
    assert results["exit_status"] == (0 if expect.verdict == "compatible" else 1)
    assert set(outcomes(results)) == set(REQUIREMENT_CLAUSES)
    assert outcomes(results) == {r: NOT_PASSING[name].get(r, "pass") for r in REQUIREMENT_CLAUSES}
    assert results["profile"]["name"] == name
    # a shipped profile never has a fail; not-applicable is a pytest skip, so pytest itself is green
    assert run.ret == 0
    assert all(t["records"] or t["outcome"] == "not-applicable" for t in results["tests"])
    # the reasons and every step each test logs, word for word (tests/golden_tools.py)
    check_golden(request.config, f"shipped/{name}", results, steps=True)


def test_an_honest_limit_is_unsupported_never_failed(pytester: pytest.Pytester) -> None:
    """single-trunk: trunks is declared unsupported by trunks.channels; fwd_set (whose RO-FWD-06 needs two
    trunks) is not judged, never "does not hold"; nothing is listed as tried and failed."""
    _, results = run_suite(pytester, PROFILES / "single-trunk.yaml")
    ro = results["remote_office"]
    assert ro["failed_clauses"] == []
    unsupported = {c["clause"]: c for c in ro["unsupported_clauses"]}
    assert unsupported["trunks"]["tests"] == ["RO-TRUNK-01"]
    assert unsupported["trunks"]["value"] is False
    assert "trunks.channels = 1" in unsupported["trunks"]["reasons"]["RO-TRUNK-01"]
    assert "fwd_set" not in unsupported and ro["clause_status"]["fwd_set"] == "undetermined"
    assert {"blind", "consult_in_ringing"} <= {c["clause"] for c in ro["undetermined_clauses"]}
    reason = next(t["reason"] for t in results["tests"] if t["id"] == "RO-TRUNK-01")
    assert "trunks.channels = 1" in reason


def test_no_forward_query_is_fwd_query_not_fwd_clear(pytester: pytest.Pytester) -> None:
    _, results = run_suite(pytester, PROFILES / "forward-no-query.yaml")
    ro = results["remote_office"]
    assert ro["failed_clauses"] == []
    assert [c["clause"] for c in ro["unsupported_clauses"]] == ["native", "fwd_query"]
    assert ro["clause_status"]["fwd_clear"] == "undetermined"      # RO-FWD-05 needs the query: not judged
    assert results["exit_status"] == 1
