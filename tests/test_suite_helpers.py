"""The suite's helper functions judged on their own: what they return and the verdicts they raise, word
for word, with the evidence they cite.

The helpers of RO-CAPS-02 (``_moved``, ``_tried``, ``_short_of_trunks``) read a handful of session
attributes, so a small stand-in session shows each case exactly; the flows (``consult_in``,
``consult_flow``, ``forwarded_to_ro``) run on a desk line of the simulator, a fault where the PBX has to
misbehave, parties or backend calls stood in for where the case needs them (what lineForward and
lineMakeCall are given is recorded on the way to the simulator). (A whole-suite run shows the same paths,
but can pin neither a helper's return value nor a step that no requirement's outcome depends on.)
"""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_suite_flows import Backend

from conformance._evidence import Cite
from conformance.backend import HANDS_FREE
from conformance.backend import Backend as BackendContract
from conformance.suite import test_caps, test_tapi
from conformance.suite._desk import open_desk_line
from conformance.suite._errors import HarnessTimeout, Inconclusive, NotApplicable, NotHonoured
from conformance.suite._flows import (
    _expected,
    clear_calls,
    clear_forwarding,
    consult_flow,
    consult_in,
    forward_to_ro,
    forwarded_call_rings_ro,
    forwarded_to_ro,
    make_ro_leg,
    poll,
    target_connected_to_ro,
)
from conformance.suite._session import LineSession
from simulator._constants import LineCallFeature, LineCallPrivilege, LineErr, LineForwardMode, LineMsg
from simulator._constants import LineCallState as S
from simulator._errors import LineError
from simulator._messages import LineMessage
from simulator._partyview import PartyView
from simulator._profile import load_profile
from simulator._profile_model import Fault, Profile
from simulator._structs import LineCallInfo, LineCallStatus, LineForward

REFERENCE = load_profile(Path(__file__).resolve().parents[1] / "profiles" / "reference.yaml")
H, OTHER = 0x10002, 0x10001        # the consultation call, the held RO leg


# ----- _moved: did the consultation call leave the wanted state before the PBX answered? ----------------

def _cs(h_call: int, state: int) -> LineMessage:
    return LineMessage(device=h_call, msg=LineMsg.CALLSTATE, param1=int(state))


def _reply(result: int = 0) -> LineMessage:
    return LineMessage(device=0, msg=LineMsg.REPLY, param1=7, param2=result)


class Attempted:
    """What ``_moved`` reads of a session: the last attempt's answer, the messages taken in so far, and
    ``drain`` (which takes in ``queued``)."""

    def __init__(self, messages: list[LineMessage], answer: Cite | None,
                 queued: tuple[LineMessage, ...] = ()) -> None:
        self.messages, self.last_attempt, self.queued = list(messages), answer, list(queued)
        self.drained = 0

    def drain(self) -> None:
        self.drained += 1
        self.messages.extend(self.queued)
        self.queued.clear()


def _moved(s: Attempted, since: int = 0, wanted: int = int(S.RINGBACK), accepted: bool = False
           ) -> LineMessage | None:
    return test_caps._moved(s, H, since, wanted, accepted)     # type: ignore[arg-type]


def test_moved_finds_the_state_the_consultation_call_took_before_the_reply() -> None:
    reply = _reply()
    moved = _cs(H, S.CONNECTED)
    s = Attempted([_cs(H, S.RINGBACK), moved, reply], Cite.reply(reply, "lineCompleteTransfer"))
    assert _moved(s) is moved
    assert s.drained == 0           # the reply bounds what counts: nothing queued is taken in


@pytest.mark.parametrize("result", [0, int(LineErr.INVALCALLSTATE) - 2**32], ids=["accepted", "refused"])
def test_moved_ignores_states_after_the_reply(result: int) -> None:
    """What the consultation call does once the PBX answered (accepted or refused) says nothing about the
    state the PBX judged; nor do the states before ``since``."""
    reply = _reply(result)
    s = Attempted([_cs(H, S.CONNECTED), _cs(H, S.RINGBACK), reply, _cs(H, S.CONNECTED), _cs(H, S.IDLE)],
                  Cite.reply(reply, "lineCompleteTransfer"))
    assert _moved(s, since=1) is None


def test_moved_counts_only_line_callstate_of_the_consultation_call_out_of_the_wanted_state() -> None:
    reply = _reply()
    others = [_cs(OTHER, S.CONNECTED),                                  # the held RO leg
              LineMessage(device=H, msg=LineMsg.CALLINFO, param1=int(S.CONNECTED)),   # not a call state
              _cs(H, S.RINGBACK)]                                       # the wanted state itself
    s = Attempted([*others, reply], Cite.reply(reply, "lineCompleteTransfer"))
    assert _moved(s) is None


@pytest.mark.parametrize("state", [S.DISCONNECTED, S.IDLE], ids=["disconnected", "idle"])
def test_moved_an_accepted_completion_ending_the_call_is_no_move(state: S) -> None:
    """The consultation call ending is what an accepted lineCompleteTransfer does; refused, it moved."""
    reply = _reply()
    ended = _cs(H, state)
    s = Attempted([_cs(H, S.RINGBACK), ended, reply], Cite.reply(reply, "lineCompleteTransfer"))
    assert _moved(s, accepted=True) is None
    assert _moved(s, accepted=False) is ended


@pytest.mark.parametrize("how", ["refused up front", "no answer"], ids=["refused-up-front", "no-answer"])
def test_moved_without_a_reply_takes_in_what_is_queued_first(how: str) -> None:
    """Refused up front (no LINE_REPLY): what the PBX had already queued happened before the refusal and
    counts, up to the last message."""
    answer = Cite.error(LineError(LineErr.INVALCALLSTATE, "lineCompleteTransfer"), "lineCompleteTransfer") \
        if how == "refused up front" else None
    moved = _cs(H, S.CONNECTED)
    s = Attempted([_cs(H, S.RINGBACK)], answer, queued=(moved,))
    assert _moved(s) is moved
    assert s.drained == 1


# ----- _short_of_trunks / _tried -------------------------------------------------------------------------

class Tried:
    """What ``_tried`` and ``_short_of_trunks`` read of a session."""

    def __init__(self, answer: Cite | None, short: bool = False) -> None:
        self.last_attempt = answer
        self.short = short

    def short_of_trunks(self, function: str, error: str) -> bool:
        return self.short


def test_short_of_trunks_without_an_answer_is_false() -> None:
    assert test_caps._short_of_trunks(Tried(None, short=True)) is False    # type: ignore[arg-type]


def _bit(set_: bool) -> Cite:
    status = dataclasses.replace(LineCallStatus(), call_features=int(LineCallFeature.BLINDTRANSFER) if set_ else 0)
    return Cite.flag(status, "lineGetCallStatus", "call_features", LineCallFeature.BLINDTRANSFER,
                     "LINECALLFEATURE_BLINDTRANSFER")


def test_tried_a_bit_set_with_no_answer_recorded_cites_the_bit_alone() -> None:
    p: test_caps.Problems = []
    bit = _bit(True)
    assert test_caps._tried(p, Tried(None), bit, "on the RO leg", "lineBlindTransfer") is False  # type: ignore[arg-type]
    assert p == [("LINECALLFEATURE_BLINDTRANSFER is set on the RO leg but lineBlindTransfer was refused", (bit,))]


def test_tried_a_refusal_cites_the_bit_and_the_answer() -> None:
    p: test_caps.Problems = []
    bit = _bit(True)
    reply = _reply(int(LineErr.OPERATIONFAILED) - 2**32)
    answer = Cite.reply(reply, "lineBlindTransfer")
    assert test_caps._tried(p, Tried(answer), bit, "on the RO leg", "lineBlindTransfer") is False  # type: ignore[arg-type]
    assert p == [("LINECALLFEATURE_BLINDTRANSFER is set on the RO leg but lineBlindTransfer was refused "
                  "(lineBlindTransfer (request 7) was answered LINEERR_OPERATIONFAILED)", (bit, answer))]


# ----- the simulator's desk line --------------------------------------------------------------------------

def _with(profile: Profile = REFERENCE, *faults: Fault, undocumented: frozenset[str] | None = None,
          proceeding_state: bool | None = None, **transfer: Any) -> Profile:
    """``profile`` with ``faults``, the transfer claims ``transfer`` and the other changes named."""
    caps, sim = profile.capabilities, profile.simulation
    if faults:
        sim = dataclasses.replace(sim, faults=faults)
    if proceeding_state is not None:
        sim = dataclasses.replace(sim, proceeding_state=proceeding_state)
    if transfer:
        caps = dataclasses.replace(caps, transfer=dataclasses.replace(caps.transfer, **transfer))
    return dataclasses.replace(profile, capabilities=caps, simulation=sim,
                               undocumented=profile.undocumented if undocumented is None else undocumented)


@contextlib.contextmanager
def _desk(profile: Profile = REFERENCE, requirement: str = "") -> Iterator[tuple[LineSession, Backend]]:
    backend = Backend(profile)
    line = open_desk_line(backend, profile)   # type: ignore[arg-type]
    try:
        s = LineSession(backend, profile, line)   # type: ignore[arg-type]
        s.requirement = requirement
        yield s, backend
    finally:
        backend.line_shutdown(line.h_line_app)
        backend.close()


# ----- forwarded_to_ro: does lineGetAddressStatus list UNCOND -> the RO number? --------------------------

RO = REFERENCE.pixit.remote_office       # "01711234567", dialled "001711234567"


@pytest.mark.parametrize(("entries", "listed"), [
    ([(LineForwardMode.UNCOND, "0" + RO)], True),                   # as the desk dialled it
    ([(LineForwardMode.UNCOND, "+49 171 1234567")], True),          # as the PBX writes it back
    ([(LineForwardMode.UNCOND, RO)], True),
    ([(LineForwardMode.UNCOND, "00301234567")], False),             # another number
    ([(LineForwardMode.BUSY, "0" + RO)], False),                    # the RO number, but not unconditional
    ([(LineForwardMode.NOANSW, "0" + RO), (LineForwardMode.UNCOND, "0301234567")], False),
    ([(LineForwardMode.BUSY, "00301234567"), (LineForwardMode.UNCOND, "+491711234567")], True),
    ([], False),
], ids=["dialled-form", "international-form", "national-form", "other-number", "busy-to-ro",
        "noansw-to-ro-uncond-elsewhere", "second-entry", "none"])
def test_forwarded_to_ro_needs_an_uncond_entry_to_the_ro_number(entries: list[tuple[int, str]],
                                                                 listed: bool) -> None:
    with _desk() as (s, backend):
        backend.status = {"forward": tuple(LineForward(forward_mode=int(mode), dest_address=dest)
                                           for mode, dest in entries)}   # type: ignore[dict-item]
        assert forwarded_to_ro(s) is listed


# ----- _expected: what the caller-ID claim says a party is shown ------------------------------------------

@pytest.mark.parametrize(("rule", "expected"), [
    ("business", ("+49891234201", "the business number")),
    ("extension", (REFERENCE.pixit.desk, "the desk extension")),
    ("remote", (RO, "the RO number")),
    ("caller", (RO, "the original caller")),       # on the transfer paths the original caller is the RO phone
    ("withheld", ("", "no number (withheld)")),
], ids=["business", "extension", "remote", "caller", "withheld"])
def test_expected_names_the_number_and_what_it_is(rule: Any, expected: tuple[str, str]) -> None:
    with _desk() as (s, _):
        caps = s.profile.capabilities
        s.profile = dataclasses.replace(s.profile, capabilities=dataclasses.replace(
            caps, caller_id=dataclasses.replace(caps.caller_id, blind_transfer=rule)))
        assert _expected(s, "blind_transfer") == expected


# ----- consult_in: the consultation call brought into a complete_in state --------------------------------

def test_consult_in_busy_is_inconclusive_citing_the_claim() -> None:
    with _desk() as (s, _), pytest.raises(Inconclusive) as caught:
        consult_in(s, "busy")
    assert str(caught.value) == ("a consultation call in BUSY cannot be brought about (no PIXIT party is busy on "
                                 "demand): 'busy' of capabilities.transfer.complete_in is not tried")
    (cite,) = caught.value.cites    # type: ignore[attr-defined]
    assert cite.kind == "claim" and cite.facts == {"keys": ["capabilities.transfer.complete_in"]}


@pytest.mark.parametrize("requirement", ["", "RO-CAPS-02"], ids=["own-steps", "RO-CAPS-02"])
def test_consult_in_a_setup_reply_without_the_consultation_call_is_an_error(requirement: str) -> None:
    """lineSetupTransfer answered 0 without lphConsultCall: nothing can be tried on a call the suite has no
    handle of - an error in every test (RO-TAPI-01 judges the reply)."""
    profile = _with(REFERENCE, Fault("reply_without_call_handle", function="lineSetupTransfer"))
    with _desk(profile, requirement) as (s, _):
        h_call = make_ro_leg(s)
        with pytest.raises(HarnessTimeout) as caught:
            consult_in(s, "ringback", h_call)
    assert str(caught.value) == "lineSetupTransfer: the LINE_REPLY carries no consultation call handle"


@pytest.mark.parametrize(("requirement", "verdict", "text"), [
    ("RO-CONS-01", NotHonoured, "lineDial the target on the consultation call: lineDial (request 3) was answered "
                                "LINEERR_OPERATIONFAILED"),
    ("RO-CAPS-02", Inconclusive, "cannot be judged: the prerequisite RO-CONS-01 does not hold (lineDial the target "
                                 "on the consultation call: lineDial (request 3) was answered "
                                 "LINEERR_OPERATIONFAILED)"),
], ids=["RO-CONS-01", "RO-CAPS-02"])
def test_consult_in_a_step_on_the_way_is_judged_by_ro_cons_01(requirement: str, verdict: type[Exception],
                                                              text: str) -> None:
    profile = _with(REFERENCE, Fault("reply_error", function="lineDial", error=int(LineErr.OPERATIONFAILED)))
    with _desk(profile, requirement) as (s, _), pytest.raises(verdict) as caught:
        consult_in(s, "ringback")
    assert str(caught.value) == text


def test_consult_in_a_state_passed_unseen_is_inconclusive_citing_the_state_seen() -> None:
    """A PBX that never reports PROCEEDING: the consultation call is RINGBACK when the completion is due;
    the verdict cites the LINE_CALLSTATE RINGBACK of the consultation call."""
    with _desk(_with(REFERENCE, proceeding_state=False)) as (s, _):
        with pytest.raises(Inconclusive) as caught:
            consult_in(s, "proceeding")
        (cite,) = caught.value.cites    # type: ignore[attr-defined]
        assert cite.kind == "callstate" and cite.facts["state"] == "RINGBACK"
        h_consult = cite.facts["h_call"]
        assert cite.obj is s.state_message(h_consult, int(S.RINGBACK)) and cite.obj is not None
        assert h_consult not in (0, s.line.h_line)
    assert str(caught.value) == (f"the consultation call 0x{h_consult:08X} is RINGBACK, not PROCEEDING, when "
                                 f"lineCompleteTransfer is due: it passed PROCEEDING unseen or too fast to be "
                                 f"tried there")


# ----- consult_flow: RO-CONS-01's lineCompleteTransfer while the target rings ------------------------------

@pytest.mark.parametrize("claims", [("connected",), ("busy", "connected"), ()],
                         ids=["connected", "busy-connected", "none"])
def test_consult_flow_without_a_ringing_state_claimed_is_not_applicable(claims: tuple[str, ...]) -> None:
    with _desk(_with(REFERENCE, complete_in=claims)) as (s, backend):
        with pytest.raises(NotApplicable) as caught:
            consult_flow(s)
        assert backend.sim.parties.observe("remote_office").state == "idle"   # judged before any call is made
    assert caught.value.msg == (f"not applicable: profile {REFERENCE.name}: "
                                f"capabilities.transfer.complete_in = {list(claims)}")


def test_consult_flow_a_consultation_call_no_longer_ringing_is_inconclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    """lineGetCallStatus says the consultation call is CONNECTED already (the target answered at once): a
    completion now would not be one while it rings - inconclusive, citing the call_state read."""
    with _desk() as (s, backend):
        real = backend.sim.line_get_call_status

        def answered(h_call: int) -> LineCallStatus:
            return dataclasses.replace(real(h_call), call_state=int(S.CONNECTED))
        monkeypatch.setattr(backend, "line_get_call_status", answered, raising=False)
        with pytest.raises(Inconclusive) as caught:
            consult_flow(s)
    assert str(caught.value) == ("the consultation call is CONNECTED already (lineGetCallStatus "
                                 "call_state=LINECALLSTATE_CONNECTED): cannot complete while it rings")
    (cite,) = caught.value.cites    # type: ignore[attr-defined]
    assert cite.kind == "value" and cite.obj.call_state == S.CONNECTED
    assert cite.facts["function"] == "lineGetCallStatus" and list(cite.facts["fields"]) == ["call_state"]


# ----- _complete_in: RO-CAPS-02's lineCompleteTransfer with the consultation call in a claimed state ----------

COMPLETE_IN = "capabilities.transfer.complete_in"


def _refusing(error: LineErr) -> Profile:
    return _with(REFERENCE, Fault("reply_error", function="lineCompleteTransfer", error=int(error)))


def _complete_ringing(s: LineSession, before: Any = None) -> tuple[test_caps.Problems, test_caps.Problems, int]:
    """consult_in RINGBACK, ``before(s)``, then _complete_in: (problems, unjudged, consultation call)."""
    h_call, h_consult = consult_in(s, "ringback")
    if before is not None:
        before(s)
    p: test_caps.Problems = []
    unjudged: test_caps.Problems = []
    test_caps._complete_in(s, p, unjudged, "ringback", h_call, h_consult)
    return p, unjudged, h_consult


BIT_REFUSED = ("LINECALLFEATURE_COMPLETETRANSF is set on the held call while the target rings but "
               "lineCompleteTransfer(TRANSFER) while it rings was refused (lineCompleteTransfer (request 4) was "
               "answered LINEERR_OPERATIONFAILED)")


@pytest.mark.parametrize("undocumented", [False, True], ids=["documented", "undocumented"])
def test_complete_in_a_refusal_fails_the_claim_unless_it_is_undocumented(undocumented: bool) -> None:
    """Refused while the target rings: the COMPLETETRANSF bit disagrees either way; the refusal of a claimed
    state is a problem of its own only where complete_in is documented (an undocumented claim claims nothing)."""
    profile = _refusing(LineErr.OPERATIONFAILED)
    if undocumented:
        profile = dataclasses.replace(profile, undocumented=frozenset({COMPLETE_IN}))
    with _desk(profile) as (s, _):
        p, unjudged, h_consult = _complete_ringing(s)
        ringback = s.state_message(h_consult, int(S.RINGBACK))
    assert [text for text, _ in p][:1] == [BIT_REFUSED] and unjudged == []
    if undocumented:
        assert len(p) == 1
        return
    text, cites = p[1]
    assert text == (f"lineCompleteTransfer(TRANSFER) with the consultation call 0x{h_consult:08X} RINGBACK: "
                    f"lineCompleteTransfer (request 4) was answered LINEERR_OPERATIONFAILED, although "
                    f"capabilities.transfer.complete_in claims ringback")
    assert [c.kind for c in cites] == ["reply", "callstate"] and cites[1].obj is ringback
    assert len(p) == 2


def test_complete_in_a_trunk_shortage_is_noted_unjudged_not_a_problem() -> None:
    """LINEERR_RESOURCEUNAVAIL while the RO leg holds a trunk channel: neither the bit nor the claim is
    judged; the trunks clause owns it."""
    with _desk(_refusing(LineErr.RESOURCEUNAVAIL), "RO-CAPS-02") as (s, _):
        p, unjudged, _h = _complete_ringing(s)
    assert p == []
    assert [text for text, _ in unjudged] == [
        "lineCompleteTransfer(TRANSFER) while it rings was refused (lineCompleteTransfer (request 4) was answered "
        "LINEERR_RESOURCEUNAVAIL) - no free resource (trunk channel?) while another external leg was up: "
        "LINECALLFEATURE_COMPLETETRANSF on the held call while the target rings cannot be judged here, the trunks "
        "clause (RO-TRUNK-01) owns it"]


def _answer_first(s: LineSession) -> None:
    s.backend.parties.answer("target")   # the consultation call goes CONNECTED before the PBX answers


@pytest.mark.parametrize("undocumented", [False, True], ids=["documented", "undocumented"])
def test_complete_in_a_call_that_moved_on_judges_the_bit_against_the_claim(undocumented: bool) -> None:
    """The target answered before the PBX answered lineCompleteTransfer: the attempt says nothing about
    RINGBACK, so the COMPLETETRANSF bit (set) is held against the claim (ringback not claimed) instead -
    unless complete_in is undocumented."""
    def claim_connected_only(s: LineSession) -> None:
        _answer_first(s)
        s.profile = _with(s.profile, complete_in=("connected",),
                          undocumented=frozenset({COMPLETE_IN}) if undocumented else frozenset())
    with _desk() as (s, backend):
        p, unjudged, _h = _complete_ringing(s, claim_connected_only)
    assert backend.notes[-1] == ("step: the consultation call went CONNECTED before lineCompleteTransfer was "
                                 "answered: COMPLETETRANSF while the target rings judged against the claim, not by "
                                 "this attempt")
    assert unjudged == []
    if undocumented:
        assert p == []
        return
    ((text, (cite,)),) = p
    assert text == "LINECALLFEATURE_COMPLETETRANSF is set but the profile says transfer.complete_in = ['connected']"
    assert cite.kind == "flag" and cite.facts["name"] == "LINECALLFEATURE_COMPLETETRANSF" and cite.facts["set"]


def test_complete_in_a_refusal_after_the_call_moved_on_is_unjudged() -> None:
    with _desk(_refusing(LineErr.OPERATIONFAILED)) as (s, _):
        p, unjudged, h_consult = _complete_ringing(s, _answer_first)
        connected = s.state_message(h_consult, int(S.CONNECTED))
    assert p == []                       # the bit is set and ringback is claimed: they agree
    ((text, cites),) = unjudged
    assert text == (f"ringback: the consultation call 0x{h_consult:08X} went CONNECTED before the PBX answered, "
                    f"so lineCompleteTransfer (request 4) was answered LINEERR_OPERATIONFAILED says nothing about "
                    f"RINGBACK")
    assert [c.kind for c in cites] == ["callstate", "reply"] and cites[0].obj is connected is not None


def test_complete_in_an_accepted_completion_waits_for_both_calls_to_go_idle() -> None:
    with _desk() as (s, backend):
        h_call, h_consult = consult_in(s, "ringback")
        p: test_caps.Problems = []
        unjudged: test_caps.Problems = []
        start = backend.now()
        test_caps._complete_in(s, p, unjudged, "ringback", h_call, h_consult)
        took = backend.now() - start
        assert s.state_of(h_call) & S.IDLE and s.state_of(h_consult) & S.IDLE
    assert p == unjudged == []
    assert took < 1.0 < s.pixit.state_timeout        # as soon as both are IDLE, not at the timeout


def test_complete_in_calls_ending_before_the_accepting_reply_are_no_move() -> None:
    """A PBX that reports the consultation call IDLE before the LINE_REPLY 0 (events_first): the completion
    did that, so the attempt is judged as it is, not as a call that moved on."""
    with _desk(_with(REFERENCE, Fault("events_first"))) as (s, backend):
        p, unjudged, h_consult = _complete_ringing(s)
        reply = s.messages.index(next(m for m in reversed(s.messages) if m.msg == LineMsg.REPLY))
        assert _cs(h_consult, S.IDLE) in s.messages[:reply]        # the case at hand: IDLE came first
    assert p == unjudged == []
    assert backend.notes[-1] == "step: lineCompleteTransfer while the target rings (is COMPLETETRANSF right?)"

# ----- target_connected_to_ro: a target that never answers, and a recall ----------------------------------

BUSINESS = "+49891234201"          # the desk's business number in reference.yaml
OFFERED, OTHER_NEW = 0x20001, 0x20002


def _never_answers(s: LineSession, monkeypatch: pytest.MonkeyPatch, meanwhile: list[LineMessage]) -> None:
    """The target is alerted with the business number but never answers; ``meanwhile`` is what the desk
    line is told while it rings."""
    def party_wait(role: str, states: frozenset[str], step: str | None = None, **_: Any) -> PartyView:
        if "alerting" in states:
            return PartyView("target", "alerting", presented_number=BUSINESS,
                             presentation="shown")
        for m in meanwhile:
            s._absorb(m)
        raise Inconclusive(f"{step}: target did not become connected within 30 s (still alerting)")
    monkeypatch.setattr(s, "party_wait", party_wait)


def test_target_never_answering_is_inconclusive_whatever_rang_the_desk_before(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A call offered to the desk before the hand-over, and a new call that never was OFFERING, are no
    recall: the unanswered target stays inconclusive."""
    with _desk() as (s, _):
        s._absorb(_cs(OFFERED, S.OFFERING))
        s._absorb(_cs(OFFERED, S.CONNECTED))
        _never_answers(s, monkeypatch, [_cs(OTHER_NEW, S.CONNECTED)])
        with pytest.raises(Inconclusive, match=r"^the target answers: target did not become connected"):
            target_connected_to_ro(s, "blind_transfer")


def test_target_never_answering_with_a_recall_to_the_desk_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    with _desk() as (s, _):
        offered = _cs(OFFERED, S.OFFERING)
        _never_answers(s, monkeypatch, [_cs(OTHER_NEW, S.CONNECTED), offered])
        with pytest.raises(NotHonoured) as caught:
            target_connected_to_ro(s, "blind_transfer")
    assert str(caught.value) == (f"the transferred call came back to the desk (call 0x{OFFERED:08X} OFFERING on the "
                                 f"desk line) instead of staying with the target")
    (cite,) = caught.value.cites    # type: ignore[attr-defined]
    assert cite.kind == "callstate" and cite.obj is offered


# ----- the waits of consult_in / consult_flow: a state the PBX never reports -------------------------------

def _unreported(monkeypatch: pytest.MonkeyPatch, backend: Backend, dropped: Any) -> None:
    """The PBX never reports the messages ``dropped(msg)`` picks (the call goes on all the same)."""
    real = backend.sim.line_get_message

    def get(h_app: int, timeout: float) -> LineMessage | None:
        while (msg := real(h_app, timeout)) is not None and dropped(msg):
            pass
        return msg
    monkeypatch.setattr(backend, "line_get_message", get, raising=False)


def _state_of(*states: S, device: Any = None) -> Any:
    mask = 0
    for st in states:
        mask |= int(st)
    return lambda m: (m.msg == LineMsg.CALLSTATE and m.param1 & mask
                      and (device is None or device(m.device)))


def test_consult_in_a_wanted_state_never_reached_is_inconclusive_naming_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The consultation call never reports RINGBACK (nor CONNECTED, where it would go next): inconclusive
    after pixit.state_timeout, naming the state it stayed in."""
    with _desk() as (s, backend):
        h_call = make_ro_leg(s)
        _unreported(monkeypatch, backend, _state_of(S.RINGBACK, S.CONNECTED, device=lambda h: h != h_call))
        with pytest.raises(Inconclusive) as caught:
            consult_in(s, "ringback", h_call)
    assert re.fullmatch(r"the consultation call reaches RINGBACK: call 0x[0-9A-F]{8} did not reach "
                        r"RINGBACK/CONNECTED within 10 s \(still PROCEEDING\)", str(caught.value)), str(caught.value)


def test_consult_in_a_target_that_does_not_answer_when_told_is_inconclusive(monkeypatch: pytest.MonkeyPatch) -> None:
    """For CONNECTED the target is told to answer; one that does not within pixit.answer_timeout (30 s, not
    the state timeout) leaves the state unreachable: inconclusive."""
    with _desk() as (s, backend):
        real = backend.sim.parties.wait_for

        def wait_for(role: str, states: frozenset[str], timeout: float) -> PartyView | None:
            return None if states == frozenset({"connected"}) else real(role, states, timeout)
        monkeypatch.setattr(backend.parties, "answer", lambda role: None, raising=False)
        monkeypatch.setattr(backend.parties, "wait_for", wait_for, raising=False)
        with pytest.raises(Inconclusive) as caught:
            consult_in(s, "connected")
    assert str(caught.value) == ("the target answers the consultation call: target did not become connected "
                                 "within 30 s (still alerting)")


@pytest.mark.parametrize(("dropped", "text"), [
    ("ONHOLDPENDTRANSFER", r"the RO leg goes ONHOLD or ONHOLDPENDTRANSFER: call 0x[0-9A-F]{8} did not reach "
                           r"ONHOLD/ONHOLDPENDTRANSFER within 10 s \(still CONNECTED\)"),
    ("held call ended", r"the held call goes IDLE: call 0x[0-9A-F]{8} did not reach IDLE/DISCONNECTED within 10 s "
                        r"\(still ONHOLDPENDTRANSFER\)"),
], ids=["onholdpendtransfer", "held-call-ended"])
def test_consult_flow_a_state_never_reported_fails_naming_the_step(monkeypatch: pytest.MonkeyPatch, dropped: str,
                                                                   text: str) -> None:
    with _desk() as (s, backend):
        if dropped == "held call ended":      # the RO leg is the first call the desk line hears of
            _unreported(monkeypatch, backend, _state_of(
                S.IDLE, S.DISCONNECTED, device=lambda h: h == next(iter(s.history))))
        else:
            _unreported(monkeypatch, backend, _state_of(S[dropped]))
        with pytest.raises(NotHonoured) as caught:
            consult_flow(s)
    assert re.fullmatch(text, str(caught.value)), str(caught.value)


# ----- clear_calls: between two attempts of RO-CAPS-02 -----------------------------------------------------

def _parties_seen(monkeypatch: pytest.MonkeyPatch, backend: Backend, states: dict[str, str]) -> list[str]:
    """The parties as ``states`` shows them, whatever they do; returns the list of those hung up."""
    hung: list[str] = []
    monkeypatch.setattr(backend.parties, "observe", lambda role: PartyView(role, states[role]),  # type: ignore[arg-type]
                        raising=False)
    monkeypatch.setattr(backend.parties, "hang_up", hung.append, raising=False)
    monkeypatch.setattr(backend.parties, "wait_for", lambda role, wanted, timeout:
                        PartyView(role, states[role]) if states[role] in wanted else None,  # type: ignore[arg-type]
                        raising=False)
    return hung


def test_clear_calls_hangs_up_only_a_party_still_in_a_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """An idle party and one that cannot be observed are left alone (nothing to hang up, nothing known)."""
    for states in ({"target": "idle", "remote_office": "unknown"}, {"target": "unknown", "remote_office": "idle"}):
        with _desk() as (s, backend):
            hung = _parties_seen(monkeypatch, backend, states)
            clear_calls(s, "the first attempt")
            assert hung == []
            assert "step: clean up after the first attempt" in backend.notes


def test_clear_calls_a_party_that_stays_in_its_call_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with _desk() as (s, backend):
        hung = _parties_seen(monkeypatch, backend, {"target": "connected", "remote_office": "idle"})
        with pytest.raises(HarnessTimeout) as caught:
            clear_calls(s, "the first attempt")
    assert hung == ["target"]
    assert str(caught.value) == "target is idle again: target did not become idle/unknown within 10 s (still connected)"


def test_fresh_ro_leg_hangs_up_no_idle_or_unobservable_party(monkeypatch: pytest.MonkeyPatch) -> None:
    """RO-CAPS-02's new RO leg after a blind transfer: the parties are freed the way clear_calls frees them."""
    for states in ({"target": "idle", "remote_office": "unknown"}, {"target": "unknown", "remote_office": "idle"}):
        with _desk() as (s, backend):
            hung = _parties_seen(monkeypatch, backend, states)
            h_call = test_caps._fresh_ro_leg(s, 0x7FFF0001)      # a handle the PBX no longer knows: nothing to drop
            assert hung == [] and s.state_of(h_call) == S.CONNECTED


def test_consult_in_a_consultation_call_ending_instead_of_connected_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """The target answers and hangs up at once, the PBX never reporting CONNECTED: the wait for CONNECTED
    ends as soon as the call goes DISCONNECTED, and says so."""
    with _desk() as (s, backend):
        h_call = make_ro_leg(s)
        real = backend.sim.parties.wait_for

        def answers_and_leaves(role: str, states: frozenset[str], timeout: float) -> PartyView | None:
            view = real(role, states, timeout)
            if states == frozenset({"connected"}):
                backend.sim.parties.hang_up(role)
            return view
        monkeypatch.setattr(backend.parties, "wait_for", answers_and_leaves, raising=False)
        _unreported(monkeypatch, backend, _state_of(S.CONNECTED, device=lambda h: h != h_call))
        with pytest.raises(Inconclusive) as caught:
            consult_in(s, "connected", h_call)
    assert re.match(r"the consultation call reaches CONNECTED: call 0x[0-9A-F]{8} went DISCONNECTED instead of "
                    r"reaching CONNECTED", str(caught.value)), str(caught.value)


# ----- what the desk sends: lineForward of forward_to_ro / clear_forwarding, lineMakeCall of make_ro_leg ---

def _recording(monkeypatch: pytest.MonkeyPatch, backend: Backend, method: str) -> list[dict[str, Any]]:
    """Each call of ``method`` (passed on to the simulator), its arguments named as the Backend contract
    names them, defaults filled in."""
    signature = inspect.signature(getattr(BackendContract, method))
    real = getattr(backend.sim, method)
    calls: list[dict[str, Any]] = []

    def record(*args: Any) -> Any:
        bound = signature.bind(None, *args)
        bound.apply_defaults()
        calls.append({k: v for k, v in bound.arguments.items() if k != "self"})
        return real(*args)
    monkeypatch.setattr(backend, method, record, raising=False)
    return calls


def test_forward_to_ro_forwards_the_desk_address_unconditionally_with_no_ring_count(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """lineForward(hLine, bAllAddresses FALSE, dwAddressID 0, {UNCOND -> RO number as dialled}, dwNumRingsNoAnswer
    0): the desk address alone - the one lineGetAddressStatus(hLine, 0) then reads and the post-condition
    restores (TRUE would forward every address of the line, dwAddressID ignored: MS docs "lineForward"); no
    ring count, since no NOANSW entry is set (the count would become the address's dwNumRingsNoAnswer)."""
    with _desk() as (s, backend):
        calls = _recording(monkeypatch, backend, "line_forward")
        request = forward_to_ro(s)
        status = backend.line_get_address_status(s.line.h_line, 0)
        assert s.replies[request].result == 0 and s.replies[request].msg == LineMsg.REPLY
    assert calls == [{"h_line": s.line.h_line, "all_addresses": False, "address_id": 0,
                      "forward_list": (LineForward(forward_mode=int(LineForwardMode.UNCOND), dest_address="0" + RO),),
                      "num_rings_no_answer": 0}]
    assert status.num_rings_no_answer == 0 and [e.forward_mode for e in status.forward] == [LineForwardMode.UNCOND]


def test_clear_forwarding_cancels_on_the_desk_address_with_a_null_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """lineForward(hLine, FALSE, 0, NULL, 0): cancels the desk address's forwarding only, leaving no ring
    count behind."""
    with _desk() as (s, backend):
        forward_to_ro(s)
        calls = _recording(monkeypatch, backend, "line_forward")
        clear_forwarding(s)
        status = backend.line_get_address_status(s.line.h_line, 0)
    assert calls == [{"h_line": s.line.h_line, "all_addresses": False, "address_id": 0, "forward_list": None,
                      "num_rings_no_answer": 0}]
    assert status.forward == () and status.num_rings_no_answer == 0


def test_make_ro_leg_dials_the_ro_number_with_the_default_country_code(monkeypatch: pytest.MonkeyPatch) -> None:
    """lineMakeCall(hLine, PBX dial string, dwCountryCode 0, hands-free): 0 is the dialling location's
    country; the dial string (trunk prefix + number) is the PBX's, and 1 would name country 1 (NANP)."""
    with _desk() as (s, backend):
        calls = _recording(monkeypatch, backend, "line_make_call")
        h_call = make_ro_leg(s)
        assert s.state_of(h_call) == S.CONNECTED
    assert calls == [{"h_line": s.line.h_line, "dest_address": "0" + RO, "country_code": 0,
                      "call_params": HANDS_FREE}]


# ----- forwarded_call_rings_ro: whose fault a silent RO phone is ---------------------------------------------

RO_SILENT = ("the forwarded call alerts the RO phone: remote_office did not become alerting/connected within 10 s "
             "(still idle)")


def _ro_silent(s: LineSession, monkeypatch: pytest.MonkeyPatch, caller: str,
               at_desk: tuple[LineMessage, ...] = ()) -> list[tuple[str, str]]:
    """The RO phone never rings: the caller's call (recorded, not placed) tells the desk line ``at_desk``,
    the caller is seen ``caller``; returns the calls placed."""
    placed: list[tuple[str, str]] = []

    def call(role: str, number: str) -> None:
        placed.append((role, number))
        for m in at_desk:
            s._absorb(m)
    states = {"caller": caller, "remote_office": "idle"}
    monkeypatch.setattr(s.backend.parties, "call", call, raising=False)
    monkeypatch.setattr(s.backend.parties, "observe", lambda role: PartyView(role, states[role]),  # type: ignore[arg-type]
                        raising=False)
    monkeypatch.setattr(s.backend.parties, "wait_for", lambda role, wanted, timeout: None, raising=False)
    return placed


@pytest.mark.parametrize(("requirement", "verdict", "text"), [
    ("RO-FWD-06", NotHonoured, f"the forwarded call never reached the RO phone ({RO_SILENT})"),
    ("RO-FWD-02", Inconclusive, f"cannot be judged: the prerequisite RO-FWD-06 does not hold - the forwarded call "
                                f"never reached the RO phone ({RO_SILENT})"),
], ids=["RO-FWD-06", "RO-FWD-02"])
def test_forwarded_call_rings_ro_a_call_lost_on_the_way_is_ro_fwd_06s(monkeypatch: pytest.MonkeyPatch,
                                                                      requirement: str, verdict: type[Exception],
                                                                      text: str) -> None:
    """No call at the desk, the caller still hearing it ring: neither "not forwarded" nor a trunk shortage
    is shown, so the silent RO phone is RO-FWD-06's fail (inconclusive in another requirement's test)."""
    with _desk(requirement=requirement) as (s, _):
        placed = _ro_silent(s, monkeypatch, "alerting")
        with pytest.raises(Exception) as caught:
            forwarded_call_rings_ro(s)
    assert type(caught.value) is verdict and str(caught.value) == text
    assert placed == [("caller", BUSINESS)]
    (cite,) = caught.value.cites    # type: ignore[attr-defined]
    assert cite.kind == "party_timeout" and cite.facts["role"] == "remote_office"


@pytest.mark.parametrize("before", ["ringing-before", "offered-then-forwarded"])
def test_forwarded_call_rings_ro_only_a_new_call_still_at_the_desk_is_not_forwarded(
        monkeypatch: pytest.MonkeyPatch, before: str) -> None:
    """A call ringing at the desk since before the caller called is not the caller's; and a new one the desk
    was offered and lost at once (OFFERING -> DISCONNECTED, the PBX forwarding it: docs/tapi.md §5.6) is no
    longer at the desk. Neither says the call was not forwarded."""
    with _desk(requirement="RO-FWD-06") as (s, _):
        if before == "ringing-before":
            s._absorb(_cs(OFFERED, S.OFFERING))
            at_desk: tuple[LineMessage, ...] = ()
        else:
            at_desk = (_cs(OTHER_NEW, S.OFFERING), _cs(OTHER_NEW, S.DISCONNECTED))
        _ro_silent(s, monkeypatch, "alerting", at_desk)
        with pytest.raises(NotHonoured) as caught:
            forwarded_call_rings_ro(s)
    assert str(caught.value) == f"the forwarded call never reached the RO phone ({RO_SILENT})"


def test_forwarded_call_rings_ro_a_new_call_ringing_at_the_desk_was_not_forwarded(
        monkeypatch: pytest.MonkeyPatch) -> None:
    offered = _cs(OTHER_NEW, S.OFFERING)
    with _desk(requirement="RO-FWD-06") as (s, _):
        _ro_silent(s, monkeypatch, "alerting", (offered,))
        with pytest.raises(NotHonoured) as caught:
            forwarded_call_rings_ro(s)
    assert str(caught.value) == (f"the call to the business number rings at the desk line (call 0x{OTHER_NEW:08X} "
                                 f"OFFERING): it was not forwarded ({RO_SILENT})")
    assert [c.kind for c in caught.value.cites] == ["callstate", "party_timeout"]    # type: ignore[attr-defined]
    assert caught.value.cites[0].obj is offered                                       # type: ignore[attr-defined]


# ----- _offered_call_handles (RO-TAPI-01): the offered call judged and cleared, nothing else ------------------

NOT_OFFERED = "step: one handle per offered call not seen: no call was offered to the desk line within 10 s " \
              "(pixit.state_timeout)"


def _caller_placed(monkeypatch: pytest.MonkeyPatch, backend: Backend) -> tuple[list[tuple[str, str]], list[str]]:
    """The caller's call goes nowhere (recorded, not placed; the caller stays idle); returns the calls
    placed and the parties hung up."""
    placed: list[tuple[str, str]] = []
    hung: list[str] = []
    monkeypatch.setattr(backend.parties, "call", lambda role, number: placed.append((role, number)), raising=False)
    monkeypatch.setattr(backend.parties, "hang_up", hung.append, raising=False)
    return placed, hung


def test_offered_call_handles_a_call_that_never_reaches_the_desk_leaves_nothing_to_judge(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with _desk() as (s, backend):
        placed, hung = _caller_placed(monkeypatch, backend)
        found = test_tapi._offered_call_handles(s)
    assert found == [] and isinstance(found, list)
    assert placed == [("caller", BUSINESS)]
    assert NOT_OFFERED in backend.notes
    assert hung == []              # an idle caller is not hung up (nor is an operator asked to)


def test_offered_call_handles_leaves_a_call_ringing_before_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """A call already ringing at the desk (the target called) is not the caller's offered call: it is not
    taken for it, and the clean-up does not drop it."""
    with _desk() as (s, backend):
        mark = s.mark()
        backend.parties.call("target", BUSINESS)
        assert poll(s, lambda: any(s.state_of(h) == S.OFFERING for h in s.new_calls(mark)), 10.0)
        (h_earlier,) = s.new_calls(mark)
        _caller_placed(monkeypatch, backend)
        assert test_tapi._offered_call_handles(s) == []
        assert NOT_OFFERED in backend.notes
        assert backend.line_get_call_status(h_earlier).call_state == S.OFFERING
        assert backend.sim.parties.observe("target").state == "calling"    # still calling the desk


def test_offered_call_handles_a_new_call_not_offered_is_not_judged(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the desk line learns meanwhile is a call that is not OFFERING/ACCEPTED (one already CONNECTED,
    say the desk set's own): no offered call to judge."""
    with _desk() as (s, backend):
        _caller_placed(monkeypatch, backend)
        monkeypatch.setattr(backend.parties, "call", lambda role, number: s._absorb(_cs(OTHER_NEW, S.CONNECTED)),
                            raising=False)
        assert test_tapi._offered_call_handles(s) == []
        assert NOT_OFFERED in backend.notes


def test_offered_call_handles_a_caller_that_cannot_call_is_a_step(monkeypatch: pytest.MonkeyPatch) -> None:
    error = LineError(LineErr.RESOURCEUNAVAIL, "lineMakeCall", "no line for the caller")

    def cannot(role: str, number: str) -> None:
        raise error
    with _desk() as (s, backend):
        monkeypatch.setattr(backend.parties, "call", cannot, raising=False)
        assert test_tapi._offered_call_handles(s) == []
    assert backend.notes[-1] == f"step: one handle per offered call not seen: the caller could not call ({error})"


def test_offered_call_handles_a_caller_that_stays_in_the_call_is_said(monkeypatch: pytest.MonkeyPatch) -> None:
    with _desk() as (s, backend):
        _, hung = _caller_placed(monkeypatch, backend)
        monkeypatch.setattr(backend.parties, "observe", lambda role: PartyView(role, "connected"),  # type: ignore[arg-type]
                            raising=False)
        monkeypatch.setattr(backend.parties, "wait_for", lambda role, wanted, timeout: None, raising=False)
        assert test_tapi._offered_call_handles(s) == []
    assert hung == ["caller"]
    assert backend.notes[-1] == ("step: the caller is not idle 10 s after hanging up (the clean-up checks it "
                                 "again)")


def test_offered_call_handles_judges_the_offered_call_not_calls_held_before(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two handles of one call the desk line held before the caller called (a stand-in: one dwCallID for
    both) are not the offered call's: this step reports a second handle of the call offered now only
    (here there is none); what the desk held before is RO-TAPI-01's to judge with the calls it creates."""
    earlier = (0x7FFF0001, 0x7FFF0002)
    with _desk() as (s, backend):
        for h in earlier:
            s._absorb(_cs(h, S.CONNECTED))
        real = backend.sim.line_get_call_info
        monkeypatch.setattr(backend, "line_get_call_info", lambda h_call: LineCallInfo(
            line=s.line.h_line, call_id=0x99) if h_call in earlier else real(h_call), raising=False)
        assert len(s.calls_under_two_handles(list(earlier))) == 1     # the stand-in is one call under two handles
        assert test_tapi._offered_call_handles(s) == []
        assert NOT_OFFERED not in backend.notes                         # the caller's call was offered and judged


def test_offered_call_handles_waits_half_a_second_for_a_second_announcement(monkeypatch: pytest.MonkeyPatch) -> None:
    """A PBX that announces the offered call under two handles (duplicate_call_handle: two LINE_APPNEWCALL,
    one dwCallID): the second comes with the first, and the check runs half a second after the call is seen
    offered - not later, as every RO-TAPI-01 run pays for it."""
    with _desk(_with(REFERENCE, Fault("duplicate_call_handle"))) as (s, backend):
        offered_at: list[float] = []
        checked_at: list[float] = []
        absorb, check = s._absorb, s.calls_under_two_handles

        def absorbing(m: LineMessage) -> None:
            absorb(m)
            if m.msg == LineMsg.CALLSTATE and m.param1 & S.OFFERING and not offered_at:
                offered_at.append(backend.now())

        def checking(handles: list[int]) -> list[tuple[str, LineMessage | None]]:
            checked_at.append(backend.now())
            return check(handles)
        monkeypatch.setattr(s, "_absorb", absorbing)
        monkeypatch.setattr(s, "calls_under_two_handles", checking)
        ((text, cause),) = test_tapi._offered_call_handles(s)
    assert text.startswith("one call reported under two handles: LINE_APPNEWCALL") and cause is not None
    assert cause.msg == LineMsg.APPNEWCALL
    assert len(offered_at) == len(checked_at) == 1
    assert 0.5 <= checked_at[0] - offered_at[0] < 1.0


# ----- make_ro_leg on a prompting PBX: the RO leg is offered to a line another application owns -----------

def test_make_ro_leg_takes_ownership_of_the_offered_ro_leg_as_announced(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where origination prompts, the RO phone calls the business number and the desk line answers. When the
    offering LINE_CALLSTATE announces MONITOR (dwParam3: an attendant console or recorder opened the line
    first and owns the call), the leg is taken over with lineSetCallPrivilege(OWNER) on that very call
    before lineAnswer (docs/tapi.md §3) - the announcement decides, lineGetCallStatus is not asked."""
    prompting = dataclasses.replace(REFERENCE, capabilities=dataclasses.replace(REFERENCE.capabilities,
                                                                                origination="prompt_offering"))
    with _desk(prompting) as (s, backend):
        real_get, real_set = backend.line_get_message, backend.line_set_call_privilege
        taken: list[tuple[int, int]] = []

        def get_message(h_app: int, timeout: float) -> LineMessage | None:
            msg = real_get(h_app, timeout)
            if msg is not None and msg.msg == LineMsg.CALLSTATE and msg.param1 & S.OFFERING:
                return dataclasses.replace(msg, param3=int(LineCallPrivilege.MONITOR))
            return msg

        def set_privilege(h_call: int, privilege: int) -> None:
            taken.append((h_call, privilege))
            real_set(h_call, privilege)
        monkeypatch.setattr(backend, "line_get_message", get_message, raising=False)
        monkeypatch.setattr(backend, "line_set_call_privilege", set_privilege, raising=False)
        h_call = make_ro_leg(s)
        assert s.state_of(h_call) == S.CONNECTED
    assert taken == [(h_call, int(LineCallPrivilege.OWNER))]
    assert ("step: RO leg: another application owns the offered call (this line is MONITOR): "
            "lineSetCallPrivilege(OWNER) before answering") in backend.notes
