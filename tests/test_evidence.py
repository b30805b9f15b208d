"""Verdict and raw log agree (issue 9 §2, conformance/_evidence.py): every kind of record a verdict can
cite, taken from a real run of a lying PBX, passes the evidence check -- and the same run with the log,
the cite or the text changed so that they disagree does not. The whole catalogue is checked in
tests/test_profile_catalogue.py."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from suite_runner import PROFILES, derived_profile, run_suite

from conformance._evidence import Cite, check_test, prose_problems
from conformance._recorder import records_from_jsonable
from conformance.report._html import evidence_html
from simulator._constants import LineCallState, LineErr, LineMsg

pytest_plugins = ("pytester",)

Test = dict[str, Any]
SVG = "{http://www.w3.org/2000/svg}"

# mutant -> (requirement, -k expression, the kind of record its verdict cites first)
CASES = {
    "blind-refused": ("RO-BLIND-01", "blind_01", "reply"),
    "fwd-query-empty": ("RO-FWD-02", "fwd_02", "value"),
    "caps-no-blindtransfer": ("RO-CAPS-01", "caps_01", "flag"),
    "callstatus-no-setuptransfer": ("RO-CAPS-02", "caps_02", "flag"),
    "fwd-no-events": ("RO-FWD-03", "fwd_03", "no_message"),
    "desk-incoming-unreported": ("RO-BLIND-01", "blind_01", "no_message"),
    "blind-desk-lingers": ("RO-BLIND-01", "blind_01", "no_state"),
    "blind-never-completes": ("RO-BLIND-01", "blind_01", "party_timeout"),
    "fwd-wrong-caller-id": ("RO-FWD-06", "fwd_06", "party"),
    "orig-prompts": ("RO-ORIG-01", "orig_01", "callstate"),
    "trunks-busy": ("RO-CONS-01", "cons_01", "callstate"),
    "tapi-new-call-events-first": ("RO-TAPI-01", "tapi_01", "ordering"),
    "native-open-refused": ("RO-NATIVE-01", "native_01", "error"),
}


def _run(pytester: pytest.Pytester, profile: Path, requirement: str, k: str) -> Test:
    _, results = run_suite(pytester, profile, "-k", k)
    test: Test = next(t for t in results["tests"] if t["id"] == requirement)
    assert test["outcome"] in ("fail", "inconclusive", "error"), test
    return test


def _record(test: Test, seq: int) -> dict[str, Any]:
    found: dict[str, Any] = next(r for r in test["records"] if r["seq"] == seq)
    return found


def _first(test: Test) -> dict[str, Any]:
    return dict(test["judged"][0])


def _mutate_record(test: Test) -> None:
    """Make the first cited record say something else than the verdict says of it."""
    cite = _first(test)
    rec, facts = _record(test, cite["seq"]), cite["facts"]
    kind = cite["kind"]
    if kind == "reply":
        rec["message"]["param2"] = int(LineErr.RESOURCEUNAVAIL)
    elif kind in ("callstate", "ordering"):
        state = LineCallState.CONNECTED if kind == "callstate" else LineCallState.IDLE
        target = rec if kind == "callstate" else next(
            r for r in test["records"] if r["message"] and r["message"]["msg"] == LineMsg.CALLSTATE
            and r["message"]["device"] == facts["h_call"])
        target["message"]["param1"] = int(state)
    elif kind == "value":
        rec["value"]["forward"] = [{"$struct": "LineForward", "forward_mode": 1, "dest_address": "0017"}]
    elif kind == "flag":
        rec["value"][facts["field"]] = int(rec["value"].get(facts["field"], 0)) ^ facts["bit"]
    elif kind == "party":
        name = next(iter(facts["fields"]))
        rec["value"][name] = "+49 999" if isinstance(facts["fields"][name], str) and name != "presentation" \
            else "unknown" if name == "presentation" else 0x7
    elif kind == "party_timeout":
        seen = next(r for r in test["records"] if r["seq"] > rec["seq"] and r["kind"] == "party"
                    and r["actor"] == facts["role"] and r["function"] == "observe")
        seen["result"] = "connected"
    elif kind == "error":
        rec["result"] = "LINEERR_NOMEM"
    elif kind == "no_message":      # the event waited for is in the log after all, before the verdict
        late = next(r for r in test["records"] if facts["from_seq"] < r["seq"] < cite["note"] and r["message"])
        wanted = next(m for m in LineMsg if m.tapi_name == facts["msg"])
        late["message"].update({"msg": int(wanted), facts["param"]: facts["mask"]})
    elif kind == "no_state":        # the state waited for is in the log after all, before the verdict
        seen = [r for r in test["records"] if r["message"] and r["message"]["msg"] == LineMsg.CALLSTATE
                and r["message"]["device"] == facts["h_call"] and r["seq"] < cite["note"]]
        seen[-1]["message"]["param1"] = facts["mask"] & -facts["mask"]
    else:
        raise AssertionError(kind)


def _unmark(test: Test) -> None:
    _record(test, _first(test)["seq"])["failed"] = False


def _text_loses_fact(test: Test) -> None:
    fragment = Cite.from_jsonable(test["judged"][0]).says()[0]
    test["reason"] = test["reason"].replace(fragment, "something")


def _no_cite(test: Test) -> None:
    test["judged"] = []


def _blame_elsewhere(test: Test) -> None:
    test["failed_seq"] = test["judged"][0]["note"]


TAMPER: dict[str, Callable[[Test], None]] = {
    "the record says otherwise": _mutate_record, "the record is not marked": _unmark,
    "the text drops the fact": _text_loses_fact, "nothing cited": _no_cite, "failed_seq elsewhere": _blame_elsewhere}


@pytest.mark.parametrize("mutant", sorted(CASES))
def test_each_kind_of_cite_agrees_with_the_log_and_a_changed_log_is_caught(pytester: pytest.Pytester,
                                                                          mutant: str) -> None:
    requirement, k, kind = CASES[mutant]
    test = _run(pytester, PROFILES / "mutants" / f"{mutant}.yaml", requirement, k)
    assert test["judged"] and test["judged"][0]["kind"] == kind, test["judged"]
    assert check_test(test) == [], test["reason"]
    assert test["failed_seq"] == test["judged"][0]["seq"] and _record(test, test["failed_seq"])["failed"]
    _assert_report_marks(test, kind)
    for what, tamper in TAMPER.items():
        changed = copy.deepcopy(test)
        tamper(changed)
        assert check_test(changed), f"{mutant}: {what} went unnoticed"


@pytest.mark.parametrize(("mutant", "after"), [("fwd-no-events", {"request_id": 1}),
                                               ("desk-incoming-unreported", {"role": "remote_office",
                                                                             "action": "call"})])
def test_an_absence_cites_what_it_followed(pytester: pytest.Pytester, mutant: str, after: dict[str, Any]) -> None:
    """A missing event (no_message) is judged on the record it should have followed: the request's return
    (``after: request_id``) or the party's action (``role``, ``action``: the RO phone calling the business
    number). A log whose cite, mark and failed_seq all point at another record is caught."""
    requirement, k, _ = CASES[mutant]
    test = _run(pytester, PROFILES / "mutants" / f"{mutant}.yaml", requirement, k)
    cite = _first(test)
    assert cite["kind"] == "no_message" and {key: cite["facts"].get(key) for key in after} == after, cite
    trigger = _record(test, cite["seq"])
    assert (trigger["kind"], trigger["request_id"]) == ("return", 1) if "request_id" in after else \
        (trigger["kind"], trigger["actor"], trigger["function"]) == ("party", "remote_office", "call"), trigger
    assert check_test(test) == []
    moved = copy.deepcopy(test)
    other = next(r for r in moved["records"] if r["seq"] < cite["seq"] and r["kind"] != trigger["kind"])
    _record(moved, cite["seq"])["failed"] = False
    other["failed"] = True
    moved["judged"][0]["seq"] = moved["failed_seq"] = other["seq"]
    assert any("should have followed" in p for p in check_test(moved)), check_test(moved)


def _assert_report_marks(test: Test, kind: str) -> None:
    """report.html's evidence block: the ladder row of the judged record (not the note after it) is the
    marked element, with its kind."""
    block = ET.fromstring(evidence_html(test))
    marked = {int(g.get("data-seq", "0")): g.get("data-judged") for g in block.iter(f"{SVG}g")
              if "judged" in g.get("class", "").split()}
    cited = {int(c["seq"]) for c in test["judged"] if c["seq"] is not None}
    assert set(marked) == cited and marked[test["failed_seq"]] is not None
    assert kind in str(marked[test["failed_seq"]]).split()
    assert test["judged"][0]["note"] not in marked


def test_an_unanswered_request_is_the_judged_record_and_the_wait_is_proven(pytester: pytest.Pytester) -> None:
    """A lost LINE_REPLY: the request's return is cited; a reply of that id before the verdict, or a wait
    shorter than the text says, contradicts it."""
    path = derived_profile(pytester.path, "reference", "lost", [{"kind": "lost_reply", "function": "lineMakeCall"}])
    test = _run(pytester, path, "RO-ORIG-01", "orig_01")
    (cite,) = [c for c in test["judged"] if c["kind"] == "no_reply"][:1]
    _assert_report_marks(test, "no_reply")
    ret = _record(test, cite["seq"])
    assert ret["kind"] == "return" and ret["request_id"] == cite["facts"]["request_id"] and ret["failed"]
    assert check_test(test) == []
    short = copy.deepcopy(test)
    _record(short, cite["note"])["time"] = cite["facts"]["start"] + 1.0
    assert any("1 s into a 5 s wait" in p for p in check_test(short)), check_test(short)
    answered = copy.deepcopy(test)
    between = next(r for r in answered["records"] if cite["seq"] < r["seq"] < cite["note"] and r["kind"] == "timeout")
    between.update(kind="message", message={"device": 0x10001, "msg": int(LineMsg.REPLY), "instance": 0,
                                            "param1": cite["facts"]["request_id"], "param2": 0, "param3": 0,
                                            "new_call": 0, "data": "", "time": between["time"]})
    assert any("is a LINE_REPLY of request" in p for p in check_test(answered)), check_test(answered)


def test_text_naming_what_the_log_does_not_hold_is_caught() -> None:
    """The safety net under the cites: requests, LINEERRs and call handles a text names must be in the log."""
    from conformance._recorder import Record
    from simulator._messages import LineMessage

    reply = LineMessage(device=0x10001, msg=LineMsg.REPLY, param1=3, param2=int(LineErr.OPERATIONFAILED),
                        new_call=0x30001)
    records = [Record(seq=1, time=0.0, kind="return", function="lineMakeCall", actor="app", request_id=3),
               Record(seq=2, time=0.1, kind="message", function="lineGetMessage", actor="app", message=reply)]
    fine = "lineMakeCall (request 3) was answered LINEERR_OPERATIONFAILED; call 0x00030001 went IDLE"
    assert prose_problems(fine, records) == []
    wrong = "lineMakeCall (request 4) was answered LINEERR_RESOURCEUNAVAIL; call 0x00030002 went IDLE"
    assert len(prose_problems(wrong, records)) == 3


def test_judged_values_survive_results_json_in_full(pytester: pytest.Pytester) -> None:
    """The cited lineGetAddressStatus, LINEADDRESSCAPS / LINECALLSTATUS and PartyView are whole in the record
    (``value``), so the check compares structures, not the short text of the log line."""
    test = _run(pytester, PROFILES / "mutants" / "fwd-wrong-caller-id.yaml", "RO-FWD-06", "fwd_06")
    (rec,) = records_from_jsonable([_record(test, test["failed_seq"])])
    assert rec.value is not None and rec.value.presented_number == "0409876543" and rec.value.role == "remote_office"
    calls = [r for r in test["records"] if r["kind"] == "return" and r["function"] == "lineGetCallStatus"]
    caps = [r for r in test["records"] if r["kind"] == "return" and r["function"] == "lineGetAddressCaps"]
    assert caps and all(r["value"]["$struct"] == "LineAddressCaps" for r in caps)
    assert all(r["value"]["$struct"] == "LineCallStatus" for r in calls)



def test_a_trunk_shortage_verdict_is_checked_against_the_busy_mode(pytester: pytest.Pytester) -> None:
    """"LINEBUSYMODE_TRUNK: the PBX ran out of trunk channels" must stand on a BUSY whose dwParam2 says so."""
    test = _run(pytester, PROFILES / "mutants" / "trunks-busy.yaml", "RO-CONS-01", "cons_01")
    cite = _first(test)
    assert cite["facts"]["blame"] == "trunk" and "LINEBUSYMODE_TRUNK" in test["reason"]
    changed = copy.deepcopy(test)
    _record(changed, cite["seq"])["message"]["param2"] = 0x1          # LINEBUSYMODE_STATION: the far party
    assert any("no trunk shortage" in p for p in check_test(changed)), check_test(changed)


@pytest.mark.parametrize(("mutant", "requirement", "k", "blamed"), [
    ("fwd-not-routed", "RO-FWD-06", "fwd_06", "LINE_CALLSTATE(hCall=0x00030001, LINECALLSTATE_OFFERING"),
    ("trunks-busy", "RO-TRUNK-01", "trunk_01", "caller: observe -> busy"),
    ("blind-recall", "RO-BLIND-01", "blind_01", "LINECALLSTATE_OFFERING"),
])
def test_a_flow_that_rewords_an_inner_timeout_blames_what_its_text_says(
        pytester: pytest.Pytester, mutant: str, requirement: str, k: str, blamed: str) -> None:
    """Found by the evidence check: "the call rings at the desk line" / "the caller's leg is busy" were
    blamed on the note of the RO phone's wait that ran out (the first record marked failed), and the
    desk's OFFERING or the caller's observation was never marked; a recall left the target's superseded
    wait marked as well. Now the blamed record is the one the text names, and only cited records are
    marked."""
    test = _run(pytester, PROFILES / "mutants" / f"{mutant}.yaml", requirement, k)
    assert blamed in _record(test, test["failed_seq"])["text"]
    assert {r["seq"] for r in test["records"] if r["failed"]} == {c["seq"] for c in test["judged"]}
    assert check_test(test) == []


def test_verify_names_a_verdict_that_contradicts_its_log(pytester: pytest.Pytester) -> None:
    """``ro-conformance verify`` runs the same check on a run directory's results.json."""
    from conformance.cli._verify import _results_problems

    _, results = run_suite(pytester, PROFILES / "mutants" / "fwd-query-empty.yaml", "-k", "fwd_02")
    assert _results_problems(results) == []
    test = next(t for t in results["tests"] if t["id"] == "RO-FWD-02")
    _record(test, test["failed_seq"])["value"]["forward"] = [
        {"$struct": "LineForward", "forward_mode": 1, "dest_address": "0017"}]
    problems = _results_problems(results)
    assert problems and all(p.startswith("results.json: evidence: RO-FWD-02 (fail): ") for p in problems), problems
