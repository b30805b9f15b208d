"""Unit tests of the outcome and claim logic (fast: the mutation run of docs/testing.md uses them).

``classify`` maps the exception that ended a phase to an ISO 9646 outcome, ``ItemState`` settles the
verdict over set-up / call / tear-down, ``link_verdict`` turns judgements after a dead link into errors,
and ``check_claim`` answers each ``tapi_requires`` claim from the profile, citing the key.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from suite_runner import PROFILES

from conformance._plugin_outcomes import ItemState, classify, link_verdict, outcome_from_payload
from conformance.report._results import TestOutcome as Outcome
from conformance.suite._claims import CLAIMS, check_claim, unmet, unmet_claims
from conformance.suite._errors import HarnessError, HarnessTimeout, Inconclusive, NotApplicable, NotHonoured
from simulator._constants import LineErr
from simulator._errors import BridgeError, LineError
from simulator._profile import load_profile


def _excinfo(exc: BaseException) -> pytest.ExceptionInfo[BaseException]:
    try:
        raise exc
    except BaseException:
        return pytest.ExceptionInfo.from_current()


@pytest.mark.parametrize(("when", "exc", "outcome", "reason"), [
    ("call", NotHonoured("the target saw 0711"), "fail", "the target saw 0711"),
    ("call", AssertionError("bare assert\n\nmore"), "fail", "bare assert"),
    ("setup", AssertionError("in set-up"), "error", "set-up: AssertionError: in set-up"),
    ("teardown", AssertionError("late"), "error", "tear-down: AssertionError: late"),
    ("call", Inconclusive("nobody answered"), "inconclusive", "nobody answered"),
    ("setup", Inconclusive("not free"), "inconclusive", "not free"),
    ("call", HarnessTimeout("no LINE_REPLY"), "error", "no LINE_REPLY"),
    ("call", HarnessError("broken"), "error", "broken"),
    ("call", NotApplicable("profile x: no", claims=("native",)), "not-applicable", "profile x: no"),
    ("call", LineError(LineErr.OPERATIONFAILED, "lineDial"), "error", "unexpected "),
    ("call", BridgeError("gone"), "error", "test: the bridge connection died: gone"),
    ("call", ValueError("bug"), "error", "test: ValueError: bug"),
    ("call", ValueError(""), "error", "test: ValueError: ValueError"),
])
def test_classify(when: str, exc: BaseException, outcome: str, reason: str) -> None:
    got = classify(when, _excinfo(exc))
    assert got[0] == outcome
    assert got[1].startswith(reason) if reason.endswith(" ") else got[1] == reason


def test_classify_pass_and_plain_skip() -> None:
    assert classify("call", None) == ("pass", "")
    skipped = classify("call", _excinfo(pytest.skip.Exception("no time")))
    assert skipped == ("inconclusive", "skipped: no time")
    failed = classify("call", _excinfo(pytest.fail.Exception("explicit")))
    assert failed == ("fail", "explicit")
    assert classify("setup", _excinfo(pytest.fail.Exception("x")))[0] == "error"


def test_the_reason_is_the_first_paragraph_on_one_line() -> None:
    exc = NotHonoured("the target\n   saw 0711\n\nsecond paragraph")
    assert classify("call", _excinfo(exc)) == ("fail", "the target saw 0711")


@pytest.mark.parametrize(("outcome", "reason", "down", "expected"), [
    ("pass", "", "LINE_CLOSE at t=1", ("pass", "")),
    ("not-applicable", "n/a", "LINE_CLOSE at t=1", ("not-applicable", "n/a")),
    ("fail", "x", "", ("fail", "x")),
    ("fail", "x", "LINE_CLOSE at t=1", ("error", "LINE_CLOSE at t=1; afterwards x")),
    ("inconclusive", "", "LINE_CLOSE at t=1", ("error", "LINE_CLOSE at t=1")),
    ("error", "LINE_CLOSE at t=1; afterwards y", "LINE_CLOSE at t=1", ("error", "LINE_CLOSE at t=1; afterwards y")),
])
def test_link_verdict(outcome: Any, reason: str, down: str, expected: tuple[str, str]) -> None:
    assert link_verdict(outcome, reason, down) == expected


def test_item_state_keeps_the_worst_and_adds_teardown_errors() -> None:
    state = ItemState("RO-X-01")
    state.add("setup", "pass", "", 0.5)
    state.add("call", "fail", "the PBX", 1.0)
    state.add("teardown", "error", "post-condition: left a call", 0.25)
    assert (state.outcome, state.reason) == ("fail", "the PBX; post-condition: left a call")
    assert state.phases == ["setup", "call", "teardown"] and state.duration == 1.75
    state.add("teardown", "error", "post-condition: left a call", 0.0)     # the same text once only
    assert state.reason == "the PBX; post-condition: left a call"


def test_item_state_teardown_error_turns_a_pass_into_an_error() -> None:
    state = ItemState("RO-X-01")
    state.add("call", "pass", "", 0.0)
    state.add("teardown", "error", "post-condition: x", 0.0)
    assert (state.outcome, state.reason) == ("error", "post-condition: x")


def test_item_state_ranks() -> None:
    order = ["pass", "not-applicable", "inconclusive", "fail", "error"]
    for i, low in enumerate(order):
        for high in order[i:]:
            state = ItemState("R")
            state.add("setup", low, low, 0.0)          # type: ignore[arg-type]
            state.add("call", high, high, 0.0)         # type: ignore[arg-type]
            assert state.outcome == high, (low, high)
    state = ItemState("R")
    state.add("call", "fail", "", 0.0)
    state.add("call", "fail", "why", 0.0)            # same outcome: the first reason given wins
    assert state.reason == "why"
    state.add("call", "inconclusive", "lower", 0.0)
    assert (state.outcome, state.reason) == ("fail", "why")


def test_teardown_inconclusive_after_a_verdict_is_not_added() -> None:
    state = ItemState("R")
    state.add("call", "inconclusive", "nobody", 0.0)
    state.add("teardown", "fail", "odd", 0.0)
    assert (state.outcome, state.reason) == ("inconclusive", "nobody")


def test_payload_round_trip_ignores_unknown_keys() -> None:
    original = Outcome(id="RO-FWD-01", outcome="not-applicable", reason="r", clause="fwd_set",
                       unmet_claims=["forwarding"], failed_seq=3)
    data = {**original.to_jsonable(), "added_later": 1}
    assert outcome_from_payload(data) == original
    assert dataclasses.asdict(outcome_from_payload(data)) == original.to_jsonable()


# ----- claims ---------------------------------------------------------------------------------

REFERENCE = load_profile(PROFILES / "reference.yaml")


def _with(**caps: Any) -> Any:
    """The reference profile with capabilities fields replaced (dotted: ``forwarding__query``)."""
    capabilities = REFERENCE.capabilities
    for key, value in caps.items():
        if "__" in key:
            outer, inner = key.split("__")
            node = getattr(capabilities, outer)
            capabilities = dataclasses.replace(capabilities, **{outer: dataclasses.replace(node, **{inner: value})})
        else:
            capabilities = dataclasses.replace(capabilities, **{key: value})
    return dataclasses.replace(REFERENCE, capabilities=capabilities)


def test_every_claim_of_the_reference_profile_but_native_is_met() -> None:
    for claim in CLAIMS:
        met, reason = check_claim(REFERENCE, claim)
        assert met == (claim not in ("native",)), claim
        assert reason.startswith(f"profile {REFERENCE.name}: {CLAIMS[claim][1]} = ") and reason.endswith(
            f"(needs {claim})")


@pytest.mark.parametrize(("claim", "changes"), [
    ("forwarding", {"forwarding__modes": ("BUSY",)}),
    ("forwarding", {"forwarding": None}),
    ("forwarding_query", {"forwarding__query": False}),
    ("forwarding_query", {"forwarding": None}),
    ("forwarding_clear", {"forwarding__clear": False}),
    ("forwarding_clear", {"forwarding": None}),
    ("forwarding_events", {"forwarding__status_events": False}),
    ("forwarding_events", {"forwarding": None}),
    ("auto_origination", {"origination": "prompt_offering"}),
    ("blind_transfer", {"transfer__blind": False}),
    ("consultation", {"transfer__consultation": False}),
    ("consultation_in_ringing", {"transfer__complete_in": ("connected",)}),
    ("consultation_in_ringing", {"transfer__consultation": False}),
    ("business_number_on_blind", {"caller_id__blind_transfer": "remote"}),
    ("business_number_on_consult", {"caller_id__consult_transfer": "extension"}),
    ("business_number_on_direct", {"caller_id__direct": "withheld"}),
])
def test_each_claim_is_unmet_when_its_key_says_so(claim: str, changes: dict[str, Any]) -> None:
    profile = _with(**changes)
    met, reason = check_claim(profile, claim)
    assert not met
    if "forwarding" in changes:
        assert f"{CLAIMS[claim][1]} = null" in reason
    assert unmet(profile, [claim, "blind_transfer" if claim != "blind_transfer" else "consultation"]) == \
        [(claim, reason)]
    assert unmet_claims(profile, [claim]) == [reason]


def test_consultation_in_ringing_with_proceeding_only() -> None:
    assert check_claim(_with(transfer__complete_in=("proceeding",)), "consultation_in_ringing")[0]
    assert check_claim(_with(transfer__complete_in=("ringback",)), "consultation_in_ringing")[0]


def test_native_claim() -> None:
    native = load_profile(PROFILES / "native-ro.yaml")
    assert check_claim(native, "native")[0]
    assert check_claim(native, "native")[1] == (f"profile {native.name}: capabilities.native_remote_office."
                                                f"mechanism = 'devspecific' (needs native)")


@pytest.mark.parametrize(("claim", "trunks", "met"), [("trunks>=2", 2, True), ("trunks>=2", 1, False),
                                                      ("trunks >= 3", 2, False), ("  trunks>=1 ", 1, True)])
def test_trunk_claims(claim: str, trunks: int, met: bool) -> None:
    profile = dataclasses.replace(REFERENCE, trunks=trunks)
    got = check_claim(profile, claim)
    need = claim.split(">=")[1].strip()
    assert got == (met, f"profile {REFERENCE.name}: trunks.channels = {trunks} (needs >= {need})")


def test_an_unknown_claim_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown tapi_requires claim 'teleportation'; known: .*blind_transfer"
                                         r".*trunks>=N"):
        check_claim(REFERENCE, "teleportation")


# ----- requirement ids and finished outcomes (a stand-in for pytest.Item) -------------------------

class _Marker:
    def __init__(self, *args: object) -> None:
        self.args = args


class _Item:
    def __init__(self, name: str, marker: _Marker | None = None, doc: str | None = None,
                 originalname: str | None = None) -> None:
        self.name, self.nodeid = name, f"suite/test_x.py::{name}"
        if originalname is not None:
            self.originalname = originalname
        self._marker = marker
        self.obj = type("F", (), {"__doc__": doc})

    def get_closest_marker(self, name: str) -> _Marker | None:
        return self._marker if name == "requirement" else None


@pytest.mark.parametrize(("item", "expected"), [
    (_Item("test_anything", _Marker("RO-VENDOR-07")), "RO-VENDOR-07"),
    (_Item("test_ro_fwd_01_set"), "RO-FWD-01"),
    (_Item("test_RO_Blind_01[x]", originalname="test_RO_Blind_01"), "RO-BLIND-01"),
    (_Item("test_ro_caps_02"), "RO-CAPS-02"),
    (_Item("test_other"), None),
    (_Item("test_ro_fwd_x"), None),
    (_Item("test_ro_fwd_01", _Marker()), "RO-FWD-01"),        # a marker without an id falls back to the name
    (_Item("check_ro_fwd_01"), None),
])
def test_requirement_of(item: Any, expected: str | None) -> None:
    from conformance._plugin_outcomes import requirement_of
    assert requirement_of(item) == expected


def test_make_outcome() -> None:
    from conformance._plugin_outcomes import make_outcome
    state = ItemState("RO-FWD-06", outcome="not-applicable", reason="profile p: trunks", duration=0.1234567,
                      unmet_claims=["trunks>=2"])
    records = [{"seq": 1, "failed": False}, {"seq": 2, "failed": True}, {"seq": 3, "failed": True}]
    item = _Item("test_ro_fwd_06", doc="  A call to the business\n    number reaches the RO phone.\n\nDetails.")
    out = make_outcome(item, state, records)
    assert out == Outcome(id="RO-FWD-06", outcome="not-applicable", reason="profile p: trunks",
                          title="A call to the business number reaches the RO phone.",
                          nodeid="suite/test_x.py::test_ro_fwd_06", clause="fwd_set", duration=0.123457,
                          records=records, failed_seq=2, unmet_claims=["trunks>=2"])
    state.outcome = "fail"
    failed = make_outcome(_Item("test_ro_fwd_06"), state, [{"seq": 1}])
    assert failed.unmet_claims == [] and failed.failed_seq is None and failed.title == "test_ro_fwd_06"
    assert make_outcome(_Item("t", doc=""), ItemState("RO-NEW-01"), []).clause is None


def test_first_line_keeps_only_the_first_of_several_paragraphs() -> None:
    exc = NotHonoured("one\ntwo\n\nthree\n\nfour")
    assert classify("call", _excinfo(exc))[1] == "one two"


def test_classify_prefers_an_exceptions_msg() -> None:
    class WithMsg(Exception):
        msg = "from msg"
    assert classify("call", _excinfo(WithMsg("from str")))[1] == "test: WithMsg: from msg"


def test_item_state_reason_details() -> None:
    state = ItemState("R")
    state.add("call", "fail", "", 0.0)
    state.add("teardown", "error", "post-condition: x", 0.0)
    assert state.reason == "post-condition: x"                 # no leading "; "
    state = ItemState("R")
    state.add("setup", "inconclusive", "first", 0.0)
    state.add("call", "inconclusive", "second", 0.0)
    assert state.reason == "first"
    state = ItemState("R")
    state.add("setup", "fail", "", 0.0)
    state.add("call", "inconclusive", "x", 0.0)
    assert (state.outcome, state.reason) == ("fail", "")


def test_claim_reasons_for_a_present_forwarding_section_and_the_known_list() -> None:
    _, reason = check_claim(_with(forwarding__query=False), "forwarding_query")
    assert reason == f"profile {REFERENCE.name}: capabilities.forwarding.query = False (needs forwarding_query)"
    with pytest.raises(ValueError) as info:
        check_claim(REFERENCE, "x")
    assert str(info.value).endswith("; known: " + ", ".join([*sorted(CLAIMS), "trunks>=N"]))
