"""The shared checks of conformance/suite/_flows.py judged on their own, on a desk line of the simulator:
what a party is shown against the caller-ID claim, how numbers compare, how long ``poll`` waits, and
what the desk must look like after the hand-over. The verdict texts are pinned word for word: they are
what a vendor reads. (Whole suite runs prove the same checks against lying PBXs: the catalogue in
profiles/mutants/; these cases are the ones no simulated PBX can show, and they are fast.)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance.backends.sim import SimBackend
from conformance.suite._desk import open_desk_line
from conformance.suite._errors import Inconclusive, NotHonoured
from conformance.suite._flows import (
    check_presented,
    consult_flow,
    consult_in,
    desk_idle,
    native_flow,
    numbers_match,
    poll,
    take_ownership,
)
from conformance.suite._session import LineSession
from simulator._constants import LineCallPrivilege as CP
from simulator._constants import LineCallState as S
from simulator._constants import LineErr
from simulator._errors import LineError
from simulator._partyview import PartyView
from simulator._profile import load_profile
from simulator._profile_model import Fault, Profile
from simulator._structs import LineAddressStatus, LineCallStatus

REFERENCE = load_profile(Path(__file__).resolve().parents[1] / "profiles" / "reference.yaml")
BUSINESS = "+49891234201"          # the desk's business number in reference.yaml


class Backend:
    """The simulator, with the desk party and the address status as a test sets them."""

    def __init__(self, profile: Profile = REFERENCE) -> None:
        self.sim = SimBackend(profile)
        self.desk: PartyView | None = None
        self.status: dict[str, int] = {}
        self.notes: list[str] = []
        sim_parties = self.sim.parties
        outer = self

        class Parties:
            def __getattr__(self, name: str) -> Any:
                return getattr(sim_parties, name)

            def observe(self, role: str) -> PartyView:
                return outer.desk if role == "desk" and outer.desk is not None else sim_parties.observe(role)
        self.parties = Parties()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sim, name)

    def note(self, text: str) -> None:
        self.notes.append(text)

    def line_get_address_status(self, h_line: int, address_id: int) -> LineAddressStatus:
        return dataclasses.replace(self.sim.line_get_address_status(h_line, address_id), **self.status)


@pytest.fixture
def session() -> Iterator[tuple[LineSession, Backend]]:
    backend = Backend()
    line = open_desk_line(backend, REFERENCE)   # type: ignore[arg-type]
    try:
        yield LineSession(backend, REFERENCE, line), backend   # type: ignore[arg-type]
    finally:
        backend.line_shutdown(line.h_line_app)
        backend.close()


def _claiming(s: LineSession, undocumented: frozenset[str] = frozenset(), **rules: str) -> None:
    caps = s.profile.capabilities
    s.profile = dataclasses.replace(s.profile, undocumented=undocumented, capabilities=dataclasses.replace(
        caps, caller_id=dataclasses.replace(caps.caller_id, **rules)))


@pytest.mark.parametrize(("shown", "expected", "same"), [
    ("+49891234201", "+49891234201", True),
    ("089 1234201", "+49891234201", True),       # national vs international: the last nine digits
    ("0049891234201", "089-1234201", True),
    ("201", "201", True),                        # short numbers: equal digits
    ("1201", "201", False),
    ("", "", False),                             # nothing shown is never a match
    ("+49 (89) 1234201", "+49891234201", True),
    ("891234201", "1891234201", True),           # exactly nine digits are enough
    ("91234201", "891234201", False),            # eight are not
    ("1891234201", "2891234201", True),          # the tenth digit from the end does not count ...
    ("0891234201", "0891234202", False),         # ... the last one does
    ("0891234201", "0791234201", False),         # ... and so does the ninth
])
def test_numbers_match_compares_digits_or_the_last_nine(shown: str, expected: str, same: bool) -> None:
    assert numbers_match(shown, expected) is same
    assert numbers_match(expected, shown) is same


def _party(presentation: str, number: str = "", name: str = "") -> PartyView:
    return PartyView("target", "alerting", presented_number=number, presentation=presentation,   # type: ignore[arg-type]
                     presented_name=name)


def _judge(s: LineSession, view: PartyView, path: str = "blind_transfer") -> BaseException | None:
    try:
        check_presented(s, view, path, "the target")
    except (NotHonoured, Inconclusive) as exc:
        return exc
    return None


# (claim, path, what the party sees) -> the verdict: None = holds, else (exception, text, cited field)
PRESENTED: list[tuple[str, str, PartyView, tuple[type[Exception], str, str] | None]] = [
    ("business", "blind_transfer", _party("shown", BUSINESS), None),
    ("business", "blind_transfer", _party("shown", "0891234201"), None),
    ("business", "blind_transfer", _party("shown", "201"), (
        NotHonoured, "the target was shown '201' instead of the business number '+49891234201' "
                     "(capabilities.caller_id.blind_transfer = business)", "presented_number")),
    ("business", "consult_transfer", _party("withheld"), (
        NotHonoured, "the target was shown no number (caller ID withheld) instead of the business number "
                     "'+49891234201' (capabilities.caller_id.consult_transfer = business)", "presentation")),
    ("business", "direct", _party("name_only", name="Desk under test"), (
        NotHonoured, "the target was shown only a name ('Desk under test'), no number, instead of the "
                     "business number '+49891234201' (capabilities.caller_id.direct = business)", "presented_name")),
    ("business", "blind_transfer", _party("unavailable"), (
        Inconclusive, "the target: the presented number is unavailable (not delivered by the network) on this "
                      "backend (capabilities.caller_id.blind_transfer = business)", "presentation")),
    ("business", "blind_transfer", _party("unknown"), (
        Inconclusive, "the target: the presented number is unknown on this backend "
                      "(capabilities.caller_id.blind_transfer = business)", "presentation")),
    ("extension", "blind_transfer", _party("shown", "201"), None),
    ("extension", "blind_transfer", _party("shown", BUSINESS), (
        NotHonoured, "the target was shown '+49891234201' instead of the desk extension '201' "
                     "(capabilities.caller_id.blind_transfer = extension)", "presented_number")),
    ("remote", "blind_transfer", _party("shown", "01711234567"), None),
    ("remote", "direct", _party("shown", BUSINESS), (
        NotHonoured, "the target was shown '+49891234201' instead of the RO number '01711234567' "
                     "(capabilities.caller_id.direct = remote)", "presented_number")),
    # "caller": the original caller; on a forwarded call that is the PIXIT caller, on a transfer the RO phone
    ("caller", "forwarded", _party("shown", "0409876543"), None),
    ("caller", "forwarded", _party("shown", "01711234567"), (
        NotHonoured, "the target was shown '01711234567' instead of the original caller '0409876543' "
                     "(capabilities.caller_id.forwarded = caller)", "presented_number")),
    ("caller", "blind_transfer", _party("shown", "01711234567"), None),
    ("caller", "blind_transfer", _party("shown", "0409876543"), (
        NotHonoured, "the target was shown '0409876543' instead of the original caller '01711234567' "
                     "(capabilities.caller_id.blind_transfer = caller)", "presented_number")),
    ("withheld", "blind_transfer", _party("withheld"), None),
    ("withheld", "blind_transfer", _party("shown", BUSINESS), (
        NotHonoured, "the target was shown '+49891234201', but capabilities.caller_id.blind_transfer = withheld "
                     "(withheld)", "presented_number")),
    ("withheld", "blind_transfer", _party("name_only", name="Desk under test"), (
        Inconclusive, "the target: the caller ID was a name only (no number presented), not seen withheld "
                      "(capabilities.caller_id.blind_transfer = withheld)", "presentation")),
    ("withheld", "blind_transfer", _party("unknown"), (
        Inconclusive, "the target: the caller ID was unknown, not seen withheld "
                      "(capabilities.caller_id.blind_transfer = withheld)", "presentation")),
]


@pytest.mark.parametrize(("claim", "path", "view", "verdict"), PRESENTED,
                         ids=[f"{c}-{p}-{v.presentation}-{bool(w)}" for c, p, v, w in PRESENTED])
def test_check_presented_judges_what_the_party_saw_against_the_claim(
        session: tuple[LineSession, Backend], claim: str, path: str, view: PartyView,
        verdict: tuple[type[Exception], str, str] | None) -> None:
    s, _ = session
    _claiming(s, **{path: claim})
    got = _judge(s, view, path)
    if verdict is None:
        assert got is None, got
        return
    kind, text, field = verdict
    assert type(got) is kind and str(got) == text, got
    (cite,) = got.cites   # type: ignore[union-attr]
    assert cite.kind == "party" and list(cite.facts["fields"]) == [field] and cite.obj is view


def test_an_undocumented_caller_id_claim_is_not_judged(session: tuple[LineSession, Backend]) -> None:
    """Nothing to hold the party's view against: a step says so, whatever the party saw."""
    s, backend = session
    _claiming(s, frozenset({"capabilities.caller_id.consult_transfer"}), consult_transfer="withheld")
    assert _judge(s, _party("shown", "201"), "consult_transfer") is None
    assert backend.notes[-1] == "step: not judged: capabilities.caller_id.consult_transfer is undocumented in " \
                                "the profile"
    assert type(_judge(s, _party("shown", "201"), "blind_transfer")) is NotHonoured   # the others still are


def test_poll_returns_as_soon_as_the_condition_holds(session: tuple[LineSession, Backend]) -> None:
    s, backend = session
    start = backend.now()
    assert poll(s, lambda: True, 10.0) and backend.now() == start        # already true: no wait at all
    assert poll(s, lambda: backend.now() >= start + 0.3, 10.0)
    assert backend.now() - start == pytest.approx(0.5)                  # re-evaluated every 0.25 s


def test_poll_gives_up_exactly_at_the_timeout(session: tuple[LineSession, Backend]) -> None:
    s, backend = session
    start = backend.now()
    assert poll(s, lambda: False, 0.6) is False
    assert backend.now() - start == pytest.approx(0.6)                  # the last wait is cut to the deadline
    start, asked = backend.now(), []

    def never() -> bool:                      # a zero timeout asks once and does not wait
        asked.append(backend.now())
        assert len(asked) < 3, "poll kept asking after its deadline"
        return False
    assert poll(s, never, 0.0) is False and asked == [start] and backend.now() == start
    assert poll(s, lambda: backend.now() >= start + 0.6, 0.6, interval=1.0)   # true exactly at the deadline


DESK_CASES = [
    ({"num_active_calls": 1}, PartyView("desk", "idle"),
     "the desk line still has 1 call(s) after the hand-over (lineGetAddressStatus num_active_calls=1, "
     "num_on_hold_calls=0, num_on_hold_pend_calls=0)"),
    ({"num_on_hold_calls": 1, "num_on_hold_pend_calls": 1}, PartyView("desk", "idle"),
     "the desk line still has 2 call(s) after the hand-over (lineGetAddressStatus num_active_calls=0, "
     "num_on_hold_calls=1, num_on_hold_pend_calls=1)"),
    ({}, PartyView("desk", "connected"), "the desk phone is still connected after the hand-over"),
    ({}, PartyView("desk", "alerting"), "the desk phone is still alerting after the hand-over"),
    ({}, PartyView("desk", "calling"), "the desk phone is still calling after the hand-over"),
    ({}, PartyView("desk", "idle", off_hook=True), "the desk phone is still off-hook (speaker) after the hand-over"),
    ({}, PartyView("desk", "busy"), None),
    ({}, PartyView("desk", "idle"), None),
]


@pytest.mark.parametrize(("status", "desk", "text"), DESK_CASES,
                         ids=[f"{'-'.join(s) or 'no-calls'}-{d.state}{'-off-hook' * d.off_hook}"
                              for s, d, _ in DESK_CASES])
def test_desk_idle_after_the_hand_over(session: tuple[LineSession, Backend], status: dict[str, int],
                                       desk: PartyView, text: str | None) -> None:
    """No call on the desk address and the desk set idle and on-hook; the desk set may be connected (to a
    second call appearance, a speaker path left up) while the line counts no call, which no simulated PBX
    does, so the backend here shows it."""
    s, backend = session
    backend.status, backend.desk = status, desk
    if text is None:
        desk_idle(s)
        return
    with pytest.raises(NotHonoured) as caught:
        desk_idle(s)
    assert str(caught.value) == text
    (cite,) = caught.value.cites    # type: ignore[attr-defined]
    if status:      # the counts lineGetAddressStatus returned
        assert cite.kind == "value" and cite.facts["function"] == "lineGetAddressStatus"
        assert list(cite.facts["fields"]) == ["num_active_calls", "num_on_hold_calls", "num_on_hold_pend_calls"]
    else:           # the desk party's view, the field judged
        field = "off_hook" if desk.off_hook else "state"
        assert cite.kind == "party" and cite.obj is desk and cite.facts["role"] == "desk"
        assert list(cite.facts["fields"]) == [field]


def test_an_unobservable_desk_after_the_hand_over_is_inconclusive(session: tuple[LineSession, Backend]) -> None:
    s, backend = session
    backend.desk = PartyView("desk", "unknown")
    with pytest.raises(Inconclusive, match=r"^the desk phone is idle and on-hook after the hand-over: the desk "
                                           r"party is not observable"):
        desk_idle(s)


class Privileges:
    """lineGetCallStatus / lineSetCallPrivilege of one offered call, as another application leaves them."""

    def __init__(self, privilege: int, refuse: int = 0) -> None:
        self.privilege, self.refuse = privilege, refuse
        self.asked: list[int] = []
        self.set: list[tuple[int, int]] = []

    def line_get_call_status(self, h_call: int) -> Any:
        self.asked.append(h_call)
        return dataclasses.replace(LineCallStatus(), call_privilege=self.privilege)

    def line_set_call_privilege(self, h_call: int, privilege: int) -> None:
        if self.refuse:
            raise LineError(self.refuse, "lineSetCallPrivilege")
        self.set.append((h_call, privilege))


@pytest.mark.parametrize(("announced", "status", "takes_over"), [
    (int(CP.OWNER), int(CP.MONITOR), False),          # announced OWNER: nothing to ask, nothing to take
    (int(CP.MONITOR | CP.OWNER), int(CP.MONITOR), False),
    (0, int(CP.OWNER), False),                        # not announced: lineGetCallStatus tells
    (0, int(CP.MONITOR), True),
    (int(CP.MONITOR), int(CP.OWNER), True),           # announced MONITOR: the announcement decides
])
def test_take_ownership_of_an_offered_call_only_when_monitoring(
        session: tuple[LineSession, Backend], monkeypatch: pytest.MonkeyPatch, announced: int, status: int,
        takes_over: bool) -> None:
    s, backend = session
    calls = Privileges(status)
    monkeypatch.setattr(backend, "line_get_call_status", calls.line_get_call_status, raising=False)
    monkeypatch.setattr(backend, "line_set_call_privilege", calls.line_set_call_privilege, raising=False)
    take_ownership(s, 0x10001, announced, "RO leg")
    assert calls.asked == ([] if announced else [0x10001])
    assert calls.set == ([(0x10001, int(CP.OWNER))] if takes_over else [])
    if takes_over:
        assert backend.notes[-1] == ("step: RO leg: another application owns the offered call (this line is "
                                     "MONITOR): lineSetCallPrivilege(OWNER) before answering")


def test_a_refused_take_over_is_inconclusive_naming_the_call(session: tuple[LineSession, Backend],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    s, backend = session
    calls = Privileges(int(CP.MONITOR), refuse=int(LineErr.NOTOWNER))
    monkeypatch.setattr(backend, "line_set_call_privilege", calls.line_set_call_privilege, raising=False)
    with pytest.raises(Inconclusive) as caught:
        take_ownership(s, 0x10001, int(CP.MONITOR), "RO leg")
    assert str(caught.value) == ("RO leg: cannot take ownership of the offered call 0x00010001 from the "
                                 "application that owns it: lineSetCallPrivilege: LINEERR_NOTOWNER (0x80000046)")
    (cite,) = caught.value.cites    # type: ignore[attr-defined]
    assert cite.kind == "error" and cite.facts == {"function": "lineSetCallPrivilege", "error": "LINEERR_NOTOWNER"}


def test_a_refused_native_reopen_cites_lineopen_when_the_error_names_no_function(
        session: tuple[LineSession, Backend], monkeypatch: pytest.MonkeyPatch) -> None:
    """RO-NATIVE-01 opens the desk line again with the provider's extension version. A backend plugin may
    raise LineError without naming the function (LineError.function is optional): the fail still cites
    lineOpen, the function that refused the extension version."""
    s, _ = session
    native = load_profile(Path(__file__).resolve().parents[1] / "profiles" / "native-ro.yaml")
    s.profile = native

    def refuse(ext_version: int) -> None:
        raise LineError(LineErr.INCOMPATIBLEEXTVERSION)
    monkeypatch.setattr(s, "reopen", refuse)
    with pytest.raises(NotHonoured) as caught:
        native_flow(s, answer=True)
    ext = native.capabilities.native_remote_office.ext_version   # type: ignore[union-attr]
    assert str(caught.value) == (f"opening the desk line with extension version 0x{ext:08X}: "
                                 f"LINEERR_INCOMPATIBLEEXTVERSION (0x{int(LineErr.INCOMPATIBLEEXTVERSION):08X})")
    (cite,) = caught.value.cites    # type: ignore[attr-defined]
    assert cite.kind == "error"
    assert cite.facts == {"function": "lineOpen", "error": "LINEERR_INCOMPATIBLEEXTVERSION"}


# ----- LINEERR_RESOURCEUNAVAIL up front or in the LINE_REPLY: one judgement ---------------------------
@pytest.mark.parametrize(("requirement", "leg_up", "verdict", "tail"), [
    ("RO-BLIND-01", True, Inconclusive, " - no free resource (trunk channel?); cannot be judged here, the "
                                        "trunks clause (RO-TRUNK-01) owns it"),
    ("RO-BLIND-01", False, NotHonoured, " - no other external call was up, so this is no shortage of the second "
                                        "trunk channel RO-TRUNK-01 judges (trunks.channels = 4 claimed)"),
    ("RO-TRUNK-01", True, NotHonoured, ""),      # the trunks clause's own test fails on it
], ids=["another leg up", "the first leg", "the trunks test"])
@pytest.mark.parametrize("form", ["up front", "in the reply"])
def test_a_resource_refusal_is_judged_alike_up_front_and_in_the_reply(
        monkeypatch: pytest.MonkeyPatch, form: str, requirement: str, leg_up: bool, verdict: type[Exception],
        tail: str) -> None:
    """lineMakeCall refused LINEERR_RESOURCEUNAVAIL: a TSP may return it at once (a negative result, MS docs
    "lineMakeCall") or in the LINE_REPLY. ``s.do`` judges both alike: a trunk shortage owned by RO-TRUNK-01
    while another external leg is up, a fail noting "no other external call" when none is, a fail in
    RO-TRUNK-01's own test. Only the head (how the PBX refused) differs."""
    fault = Fault("reply_error", function="lineMakeCall", error=int(LineErr.RESOURCEUNAVAIL))
    profile = REFERENCE if form == "up front" else dataclasses.replace(
        REFERENCE, simulation=dataclasses.replace(REFERENCE.simulation, faults=(fault,)))
    backend = Backend(profile)
    line = open_desk_line(backend, profile)   # type: ignore[arg-type]
    try:
        s = LineSession(backend, profile, line)   # type: ignore[arg-type]
        s.requirement = requirement
        if leg_up:           # the caller's incoming leg holds a trunk channel
            backend.sim.parties.call("caller", BUSINESS)
            poll(s, lambda: backend.sim.parties.observe("caller").state == "calling", 5.0)
        if form == "up front":
            def refuse(*args: Any) -> int:
                raise LineError(LineErr.RESOURCEUNAVAIL, "lineMakeCall")
            monkeypatch.setattr(backend, "line_make_call", refuse, raising=False)
        with pytest.raises(verdict) as caught:
            s.do("RO leg", "line_make_call", line.h_line, profile.dial_string(profile.pixit.remote_office), 0, None)
        head = ("RO leg: lineMakeCall: LINEERR_RESOURCEUNAVAIL (0x8000004B)" if form == "up front" else
                "RO leg: lineMakeCall (request 1) was answered LINEERR_RESOURCEUNAVAIL")
        assert str(caught.value) == head + tail
        (cite,) = caught.value.cites    # type: ignore[attr-defined]
        assert cite.kind == ("error" if form == "up front" else "reply")
        assert s.short_of_trunks("lineMakeCall", "LINEERR_RESOURCEUNAVAIL") is (verdict is Inconclusive)
    finally:
        backend.line_shutdown(line.h_line_app)
        backend.close()


def _faulted(kind: str) -> tuple[LineSession, Backend]:
    profile = dataclasses.replace(REFERENCE, simulation=dataclasses.replace(REFERENCE.simulation,
                                                                            faults=(Fault(kind),)))
    backend = Backend(profile)
    line = open_desk_line(backend, profile)   # type: ignore[arg-type]
    s = LineSession(backend, profile, line)   # type: ignore[arg-type]
    s.requirement = "RO-CONS-01"
    return s, backend


def test_consult_flow_completes_with_the_ro_leg_in_plain_onhold() -> None:
    """setup_transfer_holds: lineSetupTransfer leaves the RO leg ONHOLD, not ONHOLDPENDTRANSFER. The
    shared TAPI reference (lineCompleteTransfer: hCall ONHOLD or ONHOLDPENDTRANSFER) allows it, so the
    flow goes on and completes; it used to fail "the RO leg goes ONHOLDPENDTRANSFER ... (still ONHOLD)"."""
    s, backend = _faulted("setup_transfer_holds")
    try:
        h_call, h_consult = consult_flow(s)
        assert S.ONHOLD in s.history[h_call] and S.ONHOLDPENDTRANSFER not in s.history[h_call]
        assert s.state_of(h_call) == s.state_of(h_consult) == S.IDLE
    finally:
        backend.line_shutdown(s.line.h_line_app)
        backend.close()


@pytest.mark.parametrize("flow", ["consult_flow", "consult_in"])
def test_a_consultation_call_without_dialtone_is_dialled_after_a_bounded_wait(flow: str) -> None:
    """consult_without_dialtone: the consultation call has no state until lineDial (DIALTONE may be
    skipped, docs/tapi.md §5.2). The flow waits state_timeout for it, notes its absence in the log and
    dials; it used to fail (consult_flow) or be inconclusive (consult_in) "... has dial tone"."""
    s, backend = _faulted("consult_without_dialtone")
    try:
        begun = backend.now()
        if flow == "consult_flow":
            _, h_consult = consult_flow(s)
            assert s.state_of(h_consult) == S.IDLE
        else:
            _, h_consult = consult_in(s, "ringback")
            assert s.state_of(h_consult) == S.RINGBACK
        assert s.history[h_consult][0] == S.DIALING and S.DIALTONE not in s.history[h_consult]
        (note,) = [n for n in backend.notes if "has dial tone" in n]
        assert f"call 0x{h_consult:08X} reported none of DIALTONE/DIALING/RINGBACK/CONNECTED/PROCEEDING " \
               f"within {s.pixit.state_timeout:g} s (still no state yet); going on without it" in note
        # one bounded wait, not more: the PBX without DIALTONE costs exactly one state_timeout
        assert s.pixit.state_timeout <= backend.now() - begun < s.pixit.state_timeout + 15
    finally:
        backend.line_shutdown(s.line.h_line_app)
        backend.close()


def test_a_dial_tone_that_comes_is_waited_for_and_not_noted(session: tuple[LineSession, Backend]) -> None:
    """The honest PBX: DIALTONE is reported, the wait ends on it and nothing is noted as missing."""
    s, backend = session
    s.requirement = "RO-CONS-01"
    _, h_consult = consult_flow(s)
    assert s.history[h_consult][0] == S.DIALTONE
    assert not [n for n in backend.notes if "going on without it" in n]
