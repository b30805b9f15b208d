"""`undocumented` claims: the loader, the claim logic, the suite's outcome, and the matrix cells.

"Not documented" must stay apart from "not offered" (not applicable) and "failed" everywhere
(docs/profiles.md, "Undocumented claims").
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import all_pass, record, run_results
from suite_runner import PROFILES, derived_profile, outcomes, reasons, run_suite

from conformance.report._cells import clause_cell
from conformance.report._files import MatrixRow, render_matrix_html
from conformance.report._matrix_doc import DocRow, render_matrix_doc
from conformance.suite._claims import UNDOCUMENTED_PREFIX, check_claim, undocumented_claims, unmet_claims
from simulator._errors import ProfileError
from simulator._profile import load_profile
from simulator._profile_undocumented import SIMULATED_AS

pytest_plugins = ("pytester",)

NOT_DOCUMENTED = "not documented: "


def _profile(tmp_path: Path, mutate: Any, name: str = "undoc") -> Path:
    return derived_profile(tmp_path, "reference", name, mutate=mutate)


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    *parents, leaf = key.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


@pytest.mark.parametrize("key", sorted(SIMULATED_AS))
def test_every_allowed_key_loads_and_is_listed(tmp_path: Path, key: str) -> None:
    path = _profile(tmp_path, lambda d: _set(d, key, "undocumented"))
    profile = load_profile(path)
    assert profile.undocumented == frozenset({key})
    if key == "trunks.channels":
        assert profile.trunks == SIMULATED_AS[key]


def test_simulated_as_not_offered(tmp_path: Path) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["capabilities"]["forwarding"]["query"] = "undocumented"
        d["capabilities"]["origination"] = "undocumented"
        d["capabilities"]["transfer"] = {"blind": "undocumented", "consultation": True, "complete_in": "undocumented"}
        d["capabilities"]["caller_id"]["blind_transfer"] = "undocumented"
    caps = load_profile(_profile(tmp_path, mutate)).capabilities
    assert caps.forwarding is not None and caps.forwarding.query is False and caps.forwarding.status_events
    assert caps.origination == "prompt_offering"
    assert (caps.transfer.blind, caps.transfer.consultation, caps.transfer.complete_in) == (False, True, ("connected",))
    assert caps.caller_id.blind_transfer == "withheld" and caps.caller_id.direct == "business"


def test_complete_in_undocumented_without_consultation_is_empty(tmp_path: Path) -> None:
    path = _profile(tmp_path, lambda d: d["capabilities"].__setitem__(
        "transfer", {"blind": True, "consultation": "undocumented", "complete_in": "undocumented"}))
    assert load_profile(path).capabilities.transfer.complete_in == ()


def test_wrong_values_are_named_with_the_alternative(tmp_path: Path) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["capabilities"]["forwarding"]["query"] = "yes"
        d["capabilities"]["forwarding"]["max_entries"] = "undocumented"     # not a claim key
        d["capabilities"]["forwarding"]["colour"] = "red"                   # unknown key inside the anyOf
        d["capabilities"]["caller_id"]["direct"] = "bogus"
    with pytest.raises(ProfileError) as err:
        load_profile(_profile(tmp_path, mutate))
    text = str(err.value)
    assert re.search(r"capabilities\.forwarding\.query: 'yes' is not of type 'boolean'; or 'undocumented'", text)
    assert "capabilities.forwarding.max_entries: 'undocumented' is not of type 'integer'\n" in text + "\n"
    assert "capabilities.forwarding.colour: unknown key; allowed here:" in text
    assert "capabilities.caller_id.direct: 'bogus' is not one of" in text


def test_documented_not_offered_beats_undocumented(tmp_path: Path) -> None:
    """consultation: false decides consultation_in_ringing, whatever complete_in would have been."""
    path = _profile(tmp_path, lambda d: d["capabilities"].__setitem__(
        "transfer", {"blind": "undocumented", "consultation": False, "complete_in": "undocumented"}))
    profile = load_profile(path)
    assert undocumented_claims(profile, ["consultation_in_ringing"]) == []
    assert unmet_claims(profile, ["consultation_in_ringing"])
    [reason] = undocumented_claims(profile, ["blind_transfer", "consultation"])
    assert reason.startswith(UNDOCUMENTED_PREFIX) and "capabilities.transfer.blind" in reason


def test_whole_forwarding_undocumented_rests_every_forwarding_claim_on_it(tmp_path: Path) -> None:
    profile = load_profile(_profile(tmp_path, lambda d: d["capabilities"].__setitem__("forwarding", "undocumented")))
    for claim in ("forwarding", "forwarding_query", "forwarding_events"):
        [reason] = undocumented_claims(profile, [claim])
        assert "capabilities.forwarding " in reason + " " and not check_claim(profile, claim)[0]


def test_suite_does_not_judge_what_rests_on_undocumented(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """Blind undocumented, consultation offered only after answer: the transfer clause cannot be decided,
    so neither can the verdict; nothing is called not applicable or failed on the stand-in's account."""
    def mutate(d: dict[str, Any]) -> None:
        d["capabilities"]["transfer"] = {"blind": "undocumented", "consultation": True, "complete_in": ["connected"]}
    _, results = run_suite(pytester, _profile(tmp_path, mutate))
    got, why = outcomes(results), reasons(results)
    assert got["RO-BLIND-01"] == "inconclusive" and why["RO-BLIND-01"].startswith(NOT_DOCUMENTED)
    assert got["RO-CONS-01"] == "not-applicable"
    assert got["RO-E2E-01"] == "inconclusive" and why["RO-E2E-01"].startswith(NOT_DOCUMENTED)
    assert "fail" not in got.values()
    assert (results["remote_office"]["verdict"], results["remote_office"]["route"]) == ("undetermined", None)
    assert results["profile"]["undocumented"] == ["capabilities.transfer.blind"]


def test_a_documented_no_still_decides_the_verdict(pytester: pytest.Pytester, tmp_path: Path) -> None:
    def mutate(d: dict[str, Any]) -> None:
        d["capabilities"]["origination"] = "prompt_offering"                  # documented: not hands-free
        d["capabilities"]["caller_id"]["blind_transfer"] = "undocumented"
    _, results = run_suite(pytester, _profile(tmp_path, mutate))
    assert outcomes(results)["RO-ORIG-01"] == "not-applicable"
    assert outcomes(results)["RO-BLIND-01"] == "inconclusive"
    assert results["remote_office"]["verdict"] == "not-compatible"


def test_shipped_invented_profiles_mark_nothing_undocumented() -> None:
    for path in sorted(PROFILES.glob("*.yaml")):
        assert load_profile(path).undocumented == frozenset(), path


# --- matrix cells ----------------------------------------------------------------------------------------

def _results(overrides: dict[str, tuple[str, str]]) -> dict[str, Any]:
    return run_results(all_pass(overrides)).to_jsonable()


def test_cells_keep_the_five_states_apart() -> None:
    data = _results({"RO-BLIND-01": ("inconclusive", f"{UNDOCUMENTED_PREFIX} profile x: capabilities.transfer.blind"),
                     "RO-FWD-02": ("fail", "forward list empty"),
                     "RO-ORIG-01": ("error", "tear-down: boom"),
                     "RO-CONS-01": ("not-applicable", "profile x: consultation = False")})
    states = {c: clause_cell(data, c).state for c in ("native", "fwd_set", "fwd_query", "auto_dial", "blind",
                                                      "consult_in_ringing")}
    assert states == {"native": "not-possible", "fwd_set": "available", "fwd_query": "failed",
                      "auto_dial": "not-tested", "blind": "not-documented", "consult_in_ringing": "not-possible"}
    assert clause_cell(None, "blind").state == "not-tested"
    # an undocumented reason mixed with an error is not "not documented": something else went wrong too
    mixed = _results({"RO-FWD-05": ("inconclusive", f"{UNDOCUMENTED_PREFIX} q"), "RO-FWD-04": ("error", "x")})
    assert clause_cell(mixed, "fwd_clear").state == "not-tested"


def test_html_matrix_marks_not_documented_apart() -> None:
    data = _results({"RO-BLIND-01": ("inconclusive", f"{UNDOCUMENTED_PREFIX} profile x: capabilities.transfer.blind")})
    page = render_matrix_html([MatrixRow("x", "x", 3, data)])
    assert 'class="undoc"' in page and ">ND<" in page and "not documented" in page


def test_matrix_doc_links_failures_to_evidence_and_sorts_vendors_first(tmp_path: Path) -> None:
    failing = run_results(all_pass({"RO-FWD-02": ("fail", "forward list | empty")}), name="zz-lies").to_jsonable()
    failing["tests"][[t["id"] for t in failing["tests"]].index("RO-FWD-02")]["records"] = [
        record(1, "note", "lineGetAddressStatus shows nothing", failed=True)]
    rows = [DocRow("zz-lies", str(tmp_path / "profiles" / "zz-lies.yaml"), "generic", failing),
            DocRow("acme-pbx", str(tmp_path / "profiles" / "vendors" / "acme-pbx.yaml"), "ACME", _results({})),
            DocRow("broken", str(tmp_path / "profiles" / "broken.yaml"), "", None, "invalid profile")]
    page = render_matrix_doc(rows, tmp_path / "docs" / "matrix.md")
    table = [line for line in page.splitlines() if line.startswith("| [")]
    assert [re.match(r"\| \[([^\]]+)\]\(([^)]+)\)", line).groups() for line in table] == [  # type: ignore[union-attr]
        ("acme-pbx", "../profiles/vendors/acme-pbx.yaml"), ("broken", "../profiles/broken.yaml"),
        ("zz-lies", "../profiles/zz-lies.yaml")]
    assert "[✘](#ev-zz-lies-ro-fwd-02)" in table[2]
    assert '<a id="ev-zz-lies-ro-fwd-02"></a>' in page
    assert "forward list \\| empty" in page and "Failed at: lineGetAddressStatus shows nothing" in page
    assert "- broken: invalid profile" in page
    assert not re.search(r"\d{4}-\d\d-\d\dT", page), "nothing run-dependent (timestamps) on the page"


def test_cells_follow_clause_status_when_results_carry_it() -> None:
    """results.json with clause_status (holds / fails / unsupported / undetermined) is read by it: a
    requirement not applicable for another clause's claim leaves its own clause not judged, not 'not possible'."""
    data = _results({"RO-TRUNK-01": ("not-applicable", "profile x: capabilities.forwarding = null")})
    data["remote_office"]["clauses"]["trunks"] = None
    data["remote_office"]["clause_status"] = {"trunks": "undetermined", "native": "unsupported"}
    assert clause_cell(data, "trunks").state == "not-tested"
    assert clause_cell(data, "native").state == "not-possible"


def test_console_words_follow_the_suite_outcome(pytester: pytest.Pytester, tmp_path: Path) -> None:
    """An inconclusive requirement is not "FAILED" / "ERROR" on the console, and its reason is printed;
    a real fail still is "FAILED" (the same run, so the two cannot drift apart)."""
    def mutate(d: dict[str, Any]) -> None:
        d["capabilities"]["forwarding"]["query"] = "undocumented"
        d.setdefault("simulation", {})["faults"] = [{"kind": "transfer_never_completes", "route": "blind"}]
    run, results = run_suite(pytester, _profile(tmp_path, mutate))
    got = outcomes(results)
    assert got["RO-FWD-02"] == "inconclusive" and got["RO-BLIND-01"] == "fail", got
    text = run.stdout.str()
    assert not re.search(r"^(FAILED|ERROR) .*test_ro_fwd_02", text, re.MULTILINE), text
    assert re.search(r"^FAILED .*test_ro_blind_01", text, re.MULTILINE), text
    summary = next(line for line in text.splitlines() if " in " in line and "passed" in line)
    assert "inconclusive" in summary and "2 failed" in summary, summary   # RO-BLIND-01 and RO-E2E-01
    assert re.search(r"^  RO-FWD-02 \(inconclusive\): not documented: ", text, re.MULTILINE), text
