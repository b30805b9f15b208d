"""Profiles nobody shipped: variants of the shipped ones that a vendor could plausibly write.

Each pins a judgement the suite must make on its own: what the target is shown is part of the Remote
Office transfer requirements, old TAPI versions are testable, and alternative numbering works.
"""

from __future__ import annotations

from typing import Any

import pytest
from suite_runner import derived_profile, outcomes, run_suite

pytest_plugins = ["pytester"]


def _caller_id(**rules: str) -> Any:
    def mutate(data: dict[str, Any]) -> None:
        data["capabilities"]["caller_id"].update(rules)
    return mutate


def test_blind_transfer_showing_the_remote_number_is_not_a_remote_office_route(pytester: pytest.Pytester) -> None:
    profile = derived_profile(pytester.path, "reference", "blind-shows-remote",
                              mutate=_caller_id(blind_transfer="remote"))
    _, results = run_suite(pytester, profile)
    assert outcomes(results)["RO-BLIND-01"] == "not-applicable"
    assert results["remote_office"]["verdict"] == "compatible"
    assert results["remote_office"]["route"] == "consult"     # the other route still shows the business number


def test_no_path_showing_the_business_number_is_not_compatible(pytester: pytest.Pytester) -> None:
    profile = derived_profile(pytester.path, "reference", "withheld-everywhere",
                              mutate=_caller_id(blind_transfer="withheld", consult_transfer="remote"))
    _, results = run_suite(pytester, profile)
    got = outcomes(results)
    assert got["RO-BLIND-01"] == got["RO-CONS-01"] == got["RO-E2E-01"] == "not-applicable"
    assert "fail" not in got.values()
    assert results["remote_office"]["verdict"] == "not-compatible"
    assert results["exit_status"] == 1


@pytest.mark.parametrize("version", [0x00010003, 0x00010004, 0x00030001])
def test_providers_of_other_tapi_versions_are_testable(pytester: pytest.Pytester, version: int) -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["simulation"]["api_version"] = version
    profile = derived_profile(pytester.path, "reference", f"tapi-{version:08x}", mutate=mutate)
    _, results = run_suite(pytester, profile)
    assert results["remote_office"]["verdict"] == "compatible", results["remote_office"]
    assert results["exit_status"] == 0


def test_another_trunk_prefix(pytester: pytest.Pytester) -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["pixit"]["dial_prefix"] = "9"
    _, results = run_suite(pytester, derived_profile(pytester.path, "reference", "prefix-nine", mutate=mutate))
    assert results["exit_status"] == 0


def test_tapi_13_provider_through_the_emulated_dll_and_party_lines(pytester: pytest.Pytester) -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["simulation"]["api_version"] = 0x00010003
    profile = derived_profile(pytester.path, "reference", "tapi13-dll", mutate=mutate)
    _, results = run_suite(pytester, profile, "--tapi-backend=tapi32:emulated")
    assert results["remote_office"]["verdict"] == "compatible", results["remote_office"]


def test_a_broken_prerequisite_fails_its_own_requirement_only(pytester: pytest.Pytester) -> None:
    """lineForward refused: RO-FWD-01 fails; tests that merely needed forwarding cannot be judged."""
    profile = derived_profile(pytester.path, "reference", "forward-refused", faults=[
        {"kind": "reply_error", "function": "lineForward", "error": "LINEERR_OPERATIONFAILED"}])
    _, results = run_suite(pytester, profile)
    got = outcomes(results)
    assert got["RO-FWD-01"] == "fail"
    assert got["RO-E2E-02"] == "fail"                      # the end-to-end scenario owns all its steps
    for dependent in ("RO-FWD-02", "RO-FWD-03", "RO-FWD-04", "RO-FWD-05", "RO-FWD-06", "RO-TRUNK-01"):
        assert got[dependent] == "inconclusive", dependent
    assert got["RO-BLIND-01"] == got["RO-CONS-01"] == got["RO-ORIG-01"] == "pass"
    assert results["remote_office"]["verdict"] == "not-compatible"
    assert results["exit_status"] == 2


def _external(number: str, **script: Any) -> Any:
    def mutate(data: dict[str, Any]) -> None:
        for entry in data["externals"]:
            if entry["number"] == number:
                entry.update(script)
    return mutate


@pytest.mark.parametrize(("role_number", "script"), [
    ("0301234567", {"behaviour": "busy"}),       # target busy elsewhere
    ("01711234567", {"behaviour": "busy"}),      # RO phone busy elsewhere
    ("01711234567", {"behaviour": "reject"}),    # RO phone refuses the call
    ("0301234567", {"behaviour": "reject"}),     # target refuses the call
])
def test_a_party_that_is_busy_or_refuses_is_never_blamed_on_the_pbx(
        pytester: pytest.Pytester, role_number: str, script: dict[str, Any]) -> None:
    name = f"party-{role_number}-{script['behaviour']}"
    _, results = run_suite(pytester, derived_profile(pytester.path, "reference", name,
                                                     mutate=_external(role_number, **script)))
    got = outcomes(results)
    assert "fail" not in got.values(), {k: v for k, v in got.items() if v == "fail"}
    assert "inconclusive" in got.values()
    assert results["exit_status"] == 3


def test_an_honest_pbx_without_uncond_forwarding_names_only_forwarding(pytester: pytest.Pytester) -> None:
    """Forwarding offered for BUSY only: every forwarding clause is declared unsupported; trunks, whose
    RO-TRUNK-01 needs UNCOND forwarding to build two external legs, is not judged - never "does not hold"."""
    def mutate(data: dict[str, Any]) -> None:
        data["capabilities"]["forwarding"]["modes"] = ["BUSY"]
    _, results = run_suite(pytester, derived_profile(pytester.path, "reference", "no-uncond", mutate=mutate))
    ro = results["remote_office"]
    assert ro["verdict"] == "not-compatible" and results["exit_status"] == 1
    assert ro["failed_clauses"] == []
    assert {c["clause"] for c in ro["unsupported_clauses"]} == {"native", "fwd_set", "fwd_clear", "fwd_query"}
    assert ro["clause_status"]["trunks"] == "undetermined"
    assert ro["clauses"]["trunks"] is None
