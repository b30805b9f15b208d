"""The three-valued Remote Office verdict, as a truth table over requirement outcomes.

native OR (fwd_set AND fwd_clear AND fwd_query AND auto_dial AND (blind OR consult_in_ringing) AND trunks):
each row states the outcomes that differ from "every requirement passed, native not offered", and the
verdict, route, exit status and clause states that must follow (conformance/report/_results.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from conformance.report._results import (
    CLAUSES,
    EXIT_COMPATIBLE,
    EXIT_ERRORS,
    EXIT_NOT_COMPATIBLE,
    EXIT_NOT_HONOURED,
    REQUIREMENT_CLAUSES,
    RunResults,
    clause_status,
    evaluate_clauses,
    exit_status,
    ro_verdict,
)
from conformance.report._results import (
    TestOutcome as Outcome,
)

NA = "not-applicable"
NATIVE_NA = {"RO-NATIVE-01": (NA, ["native"])}


def _tests(changes: dict[str, Any]) -> list[Outcome]:
    """Every requirement passes except ``changes``: id -> outcome or (outcome, unmet claims)."""
    out = []
    for rid in REQUIREMENT_CLAUSES:
        change = changes.get(rid, "pass")
        outcome, claims = (change, []) if isinstance(change, str) else change
        out.append(Outcome(id=rid, outcome=outcome, reason=f"{rid} {outcome}",
                               clause=REQUIREMENT_CLAUSES[rid], unmet_claims=list(claims)))
    return out


# name -> (changes, verdict, route, exit status, clause -> status that must hold)
TABLE: dict[str, tuple[dict[str, Any], str, str | None, int, dict[str, str]]] = {
    "all pass, native not offered": (
        NATIVE_NA, "compatible", "blind", EXIT_COMPATIBLE,
        {"native": "unsupported", "blind": "holds", "trunks": "holds"}),
    "everything passes, native wins": (
        {}, "compatible", "native", EXIT_COMPATIBLE, {c: "holds" for c in CLAUSES}),
    "native holds, the emulation fails": (
        {"RO-FWD-01": "fail"}, "compatible", "native", EXIT_NOT_HONOURED, {"fwd_set": "fails"}),
    "mixed pass / inconclusive in a clause": (
        {**NATIVE_NA, "RO-FWD-06": "inconclusive"}, "undetermined", None, EXIT_ERRORS,
        {"fwd_set": "undetermined"}),
    "mixed pass / error in a clause": (
        {**NATIVE_NA, "RO-FWD-04": "error"}, "undetermined", None, EXIT_ERRORS, {"fwd_clear": "undetermined"}),
    "a trunks-only false (declared)": (
        {**NATIVE_NA, "RO-TRUNK-01": (NA, ["trunks>=2"])}, "not-compatible", None, EXIT_NOT_COMPATIBLE,
        {"trunks": "unsupported", "fwd_set": "holds", "blind": "holds"}),
    "a trunks-only false (tried)": (
        {**NATIVE_NA, "RO-TRUNK-01": "fail"}, "not-compatible", None, EXIT_NOT_HONOURED, {"trunks": "fails"}),
    "RO-FWD-06 failing alone": (
        {**NATIVE_NA, "RO-FWD-06": "fail"}, "not-compatible", None, EXIT_NOT_HONOURED,
        {"fwd_set": "fails", "fwd_clear": "holds", "fwd_query": "holds"}),
    "a false beats an unknown in the AND": (
        {**NATIVE_NA, "RO-FWD-06": "fail", "RO-ORIG-01": "inconclusive"}, "not-compatible", None,
        EXIT_NOT_HONOURED, {"fwd_set": "fails", "auto_dial": "undetermined"}),
    "an unknown native with a false emulation is undetermined": (
        {"RO-NATIVE-01": "inconclusive", "RO-ORIG-01": (NA, ["auto_origination"])}, "undetermined", None,
        EXIT_ERRORS, {"native": "undetermined", "auto_dial": "unsupported"}),
    "an unknown native with a true emulation is compatible": (
        {"RO-NATIVE-01": "error"}, "compatible", "blind", EXIT_ERRORS, {"native": "undetermined"}),
    "one transfer route unknown, the other true": (
        {**NATIVE_NA, "RO-BLIND-01": "inconclusive"}, "compatible", "consult", EXIT_ERRORS,
        {"blind": "undetermined", "consult_in_ringing": "holds"}),
    "one transfer route false, the other unknown": (
        {**NATIVE_NA, "RO-BLIND-01": (NA, ["blind_transfer"]), "RO-CONS-01": "inconclusive"}, "undetermined",
        None, EXIT_ERRORS, {"blind": "unsupported", "consult_in_ringing": "undetermined"}),
    "both transfer routes false": (
        {**NATIVE_NA, "RO-BLIND-01": "fail", "RO-CONS-01": (NA, ["consultation_in_ringing"])},
        "not-compatible", None, EXIT_NOT_HONOURED, {"blind": "fails", "consult_in_ringing": "unsupported"}),
    "not applicable for another clause's claim is not judged": (
        {**NATIVE_NA, "RO-TRUNK-01": (NA, ["forwarding", "trunks>=2"]), "RO-FWD-06": (NA, ["trunks>=2"])},
        "not-compatible", None, EXIT_NOT_COMPATIBLE, {"trunks": "unsupported", "fwd_set": "undetermined"}),
    "only another clause's claim: undetermined": (
        {**NATIVE_NA, "RO-TRUNK-01": (NA, ["forwarding"])}, "undetermined", None, EXIT_ERRORS,
        {"trunks": "undetermined"}),
    "not applicable decided in the test body counts as declared": (
        {**NATIVE_NA, "RO-CONS-01": NA, "RO-BLIND-01": NA}, "not-compatible", None, EXIT_NOT_COMPATIBLE,
        {"blind": "unsupported", "consult_in_ringing": "unsupported"}),
    "an advisory fail does not touch the verdict": (
        {**NATIVE_NA, "RO-CAPS-01": "fail"}, "compatible", "blind", EXIT_NOT_HONOURED, {}),
}


@pytest.mark.parametrize("name", sorted(TABLE))
def test_verdict_truth_table(name: str) -> None:
    changes, verdict, route, status, states = TABLE[name]
    tests = _tests(changes)
    ro = ro_verdict(tests)
    assert (ro["verdict"], ro["route"], exit_status(tests)) == (verdict, route, status)
    got = clause_status(tests)
    assert {c: got[c] for c in states} == states
    value = {"holds": True, "fails": False, "unsupported": False, "undetermined": None}
    assert evaluate_clauses(tests) == {c: value[s] for c, s in got.items()} == ro["clauses"]


@pytest.mark.parametrize("name", sorted(TABLE))
def test_each_clause_is_in_exactly_the_list_of_its_state(name: str) -> None:
    tests = _tests(TABLE[name][0])
    ro = ro_verdict(tests)
    lists = {"fails": ro["failed_clauses"], "unsupported": ro["unsupported_clauses"],
             "undetermined": ro["undetermined_clauses"]}
    for clause, state in ro["clause_status"].items():
        homes = [key for key, entries in lists.items() if any(e["clause"] == clause for e in entries)]
        assert homes == ([] if state == "holds" else [state]), clause
    for entry in ro["failed_clauses"]:
        assert entry["outcomes"] == ["fail"] and entry["value"] is False
        assert entry["tests"] == sorted(entry["reasons"])
        assert all(entry["reasons"][t] == f"{t} fail" for t in entry["tests"])
    for entry in ro["unsupported_clauses"]:
        assert entry["outcomes"] == [NA] and entry["value"] is False
    for entry in ro["undetermined_clauses"]:
        assert entry["value"] is None and "pass" not in entry["outcomes"]


def test_a_clause_no_requirement_ran_for_is_undetermined() -> None:
    tests = [t for t in _tests(NATIVE_NA) if t.id != "RO-TRUNK-01"]
    ro = ro_verdict(tests)
    assert ro["clause_status"]["trunks"] == "undetermined" and ro["verdict"] == "undetermined"
    entry = next(e for e in ro["undetermined_clauses"] if e["clause"] == "trunks")
    assert entry["tests"] == [] and entry["outcomes"] == []
    assert exit_status(tests) == EXIT_ERRORS


def test_no_requirement_at_all_is_undetermined() -> None:
    assert ro_verdict([])["verdict"] == "undetermined"
    assert exit_status([]) == EXIT_ERRORS


def test_an_explicit_clause_overrides_the_map() -> None:
    tests = _tests(NATIVE_NA)
    extra = Outcome(id="VENDOR-01", outcome="fail", clause="trunks")
    assert clause_status([*tests, extra])["trunks"] == "fails"
    assert clause_status([*tests, Outcome(id="VENDOR-02", outcome="fail")])["trunks"] == "holds"


def test_results_json_carries_the_three_lists_and_the_unmet_claims() -> None:
    data = RunResults(profile={}, backend={}, tests=_tests({**NATIVE_NA, "RO-FWD-06": "fail"})).to_jsonable()
    ro = data["remote_office"]
    assert [e["clause"] for e in ro["failed_clauses"]] == ["fwd_set"]
    assert [e["clause"] for e in ro["unsupported_clauses"]] == ["native"]
    assert ro["undetermined_clauses"] == []
    native = next(t for t in data["tests"] if t["id"] == "RO-NATIVE-01")
    assert native["unmet_claims"] == ["native"]
    assert data["exit_status"] == EXIT_NOT_HONOURED and data["summary"]["fail"] == 1


def test_judgement_of_one_requirement() -> None:
    from conformance.report._results import judgement
    na = Outcome(id="RO-TRUNK-01", outcome="not-applicable", unmet_claims=["trunks >= 2"])
    assert judgement(na, "trunks") == "unsupported"                      # "trunks >= N" in any spacing
    assert judgement(Outcome(id="X", outcome="not-applicable", unmet_claims=["forwarding"]), "trunks") \
        == "undetermined"
    assert judgement(na, "a-vendor-clause") == "undetermined"
    for outcome, expected in (("pass", "holds"), ("fail", "fails"), ("error", "undetermined"),
                              ("inconclusive", "undetermined")):
        assert judgement(Outcome(id="X", outcome=outcome), "trunks") == expected   # type: ignore[arg-type]


def test_the_map_gives_the_clause_when_the_outcome_has_none() -> None:
    tests = _tests(NATIVE_NA)
    for t in tests:
        t.clause = None
    assert clause_status([*tests, Outcome(id="RO-FWD-06", outcome="fail")])["fwd_set"] == "fails"


def test_results_json_layout_and_entry_order() -> None:
    tests = _tests({**NATIVE_NA, "RO-FWD-06": "error", "RO-FWD-01": (NA, ["trunks>=2"]), "RO-CONS-01": "fail",
                    "RO-BLIND-01": "fail"})
    tests.reverse()
    data = RunResults(profile={"name": "p"}, backend={"spec": "sim"}, tests=tests, started="s",
                      finished="f").to_jsonable()
    assert list(data) == ["format", "profile", "backend", "certification", "remote_office", "summary",
                          "exit_status", "started", "finished", "tests"]
    assert (data["format"], data["profile"], data["backend"], data["started"], data["finished"]) == \
        ("ro-conformance-results/1", {"name": "p"}, {"spec": "sim"}, "s", "f")
    ro = data["remote_office"]
    assert ro["formula"] == ("native OR (fwd_set AND fwd_clear AND fwd_query AND auto_dial AND "
                             "(blind OR consult_in_ringing) AND trunks)")
    fwd_set = next(e for e in ro["undetermined_clauses"] if e["clause"] == "fwd_set")
    assert fwd_set["tests"] == ["RO-FWD-01", "RO-FWD-06"]          # every non-pass, sorted
    assert fwd_set["outcomes"] == ["error", "not-applicable"]
    assert [t["id"] for t in data["tests"]] == sorted(REQUIREMENT_CLAUSES)


def test_a_failed_clause_lists_only_the_requirements_that_failed() -> None:
    ro = ro_verdict(_tests({**NATIVE_NA, "RO-FWD-06": "fail", "RO-FWD-01": "inconclusive"}))
    entry = next(e for e in ro["failed_clauses"] if e["clause"] == "fwd_set")
    assert entry["tests"] == ["RO-FWD-06"] and entry["outcomes"] == ["fail"]
    ro = ro_verdict(_tests({"RO-NATIVE-01": (NA, ["native"]), "RO-BLIND-01": (NA, ["blind_transfer"]),
                            "RO-E2E-01": "error"}))
    assert next(e for e in ro["unsupported_clauses"] if e["clause"] == "blind")["tests"] == ["RO-BLIND-01"]
