"""Call flows and checks the requirement tests share (Backend contract only, no simulator internals).

Numbers: the desk dials ``profile.dial_string(n)``; a party is *shown* numbers in whatever format the
PBX presents, so ``numbers_match`` compares digits, allowing national vs international forms.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Final

from conformance._evidence import Cite
from conformance.backend import HANDS_FREE, PartyView
from conformance.suite._errors import Inconclusive, NotApplicable, NotHonoured, cites_of
from conformance.suite._session import TRUNK_REQUIREMENT, LineSession, Want, state_names
from simulator._constants import (
    LineCallPrivilege,
    LineCallState,
    LineForwardMode,
    LineMsg,
    LineTransferMode,
)
from simulator._errors import LineError
from simulator._structs import LineForward

__all__ = [
    "ALERTED",
    "COMPLETE_IN",
    "ENDED",
    "blind_flow",
    "business_number",
    "check_forward_listed",
    "check_presented",
    "clear_calls",
    "clear_forwarding",
    "consult_flow",
    "consult_in",
    "desk_idle",
    "dial",
    "forward_to_ro",
    "forwarded_call_rings_ro",
    "forwarded_to_ro",
    "judged_by",
    "make_ro_leg",
    "native_flow",
    "numbers_match",
    "poll",
    "take_ownership",
    "target_connected_to_ro",
]

S = LineCallState
ENDED = int(S.IDLE | S.DISCONNECTED)
ALERTED = frozenset({"alerting", "connected"})


def business_number(s: LineSession) -> str:
    return s.profile.station(s.pixit.desk).business_number


def dial(s: LineSession, role: str) -> str:
    """What the desk dials to reach a PIXIT role (trunk prefix + external number)."""
    return s.profile.dial_string(str(getattr(s.pixit, role)))




def _digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


def numbers_match(shown: str, expected: str) -> bool:
    """Same number, allowing "+49 89..." vs "089..." vs "0049...": equal digits or equal last nine."""
    a, b = _digits(shown), _digits(expected)
    return bool(a) and (a == b or (min(len(a), len(b)) >= 9 and a[-9:] == b[-9:]))


def _expected(s: LineSession, path: str) -> tuple[str, str]:
    """(number, what it is) a party should be shown on ``path`` per the profile's caller_id claim."""
    rule = getattr(s.profile.capabilities.caller_id, path)
    original = s.pixit.caller if path == "forwarded" else s.pixit.remote_office
    return {"business": (business_number(s), "the business number"),
            "extension": (s.pixit.desk, "the desk extension"),
            "remote": (s.pixit.remote_office, "the RO number"),
            "caller": (original, "the original caller"),
            "withheld": ("", "no number (withheld)")}[rule]


# How each observation is named in a verdict (only the ones that leave the claim unjudged reach it).
_SEEN: Final = {"shown": "shown", "name_only": "a name only (no number presented)", "withheld": "withheld",
                "unavailable": "unavailable (not delivered by the network)", "unknown": "unknown"}


def check_presented(s: LineSession, view: PartyView, path: str, who: str) -> None:
    """``who`` must be shown what ``capabilities.caller_id.<path>`` claims (the business number, ...).

    A path the profile leaves undocumented is not checked (the step says so): there is no claim to hold.
    """
    if f"capabilities.caller_id.{path}" in s.profile.undocumented:
        s.step(f"not judged: capabilities.caller_id.{path} is undocumented in the profile")
        return
    number, label = _expected(s, path)
    shown = view.presented_number
    claim = f"capabilities.caller_id.{path} = {getattr(s.profile.capabilities.caller_id, path)}"
    seen = view.presentation      # shown / name_only / withheld / unavailable / unknown: different observations
    if not number:
        if seen == "shown":
            raise s.verdict("fail", f"{who} was shown {shown!r}, but {claim} (withheld)",
                            cause=Cite.party(view, "presented_number"))
        if seen != "withheld":
            raise s.verdict("inconclusive", f"{who}: the caller ID was {_SEEN[seen]}, not seen withheld ({claim})",
                            cause=Cite.party(view, "presentation"))
        return
    if seen == "withheld":
        raise s.verdict("fail", f"{who} was shown no number (caller ID withheld) instead of {label} {number!r} "
                                f"({claim})", cause=Cite.party(view, "presentation"))
    if seen == "name_only":
        # The caller-ID block reached the party and says a name is all it carries: the number was not
        # presented (LINECALLPARTYID_NAME without ADDRESS, docs/tapi.md §8.5). Observed, so a fail.
        raise s.verdict("fail", f"{who} was shown only a name ({view.presented_name!r}), no number, instead of "
                                f"{label} {number!r} ({claim})", cause=Cite.party(view, "presented_name"))
    if seen != "shown":
        raise s.verdict("inconclusive", f"{who}: the presented number is {_SEEN[seen]} on this backend ({claim})",
                        cause=Cite.party(view, "presentation"))
    if not numbers_match(shown, number):
        raise s.verdict("fail", f"{who} was shown {shown!r} instead of {label} {number!r} ({claim})",
                        cause=Cite.party(view, "presented_number"))


def poll(s: LineSession, cond: object, timeout: float, interval: float = 0.25) -> bool:
    """Re-evaluate ``cond()`` while taking in messages, until true or ``timeout`` (a real PBX may lag)."""
    assert callable(cond)
    deadline = s.backend.now() + timeout
    while not cond():
        if s.backend.now() >= deadline:
            return False
        s.settle(min(interval, max(deadline - s.backend.now(), 0.0)))
    return True


# ----- forwarding -----------------------------------------------------------------------------

@contextlib.contextmanager
def judged_by(s: LineSession, requirement: str) -> Iterator[None]:
    """Steps that ``requirement`` judges. In another requirement's test a failure there is not that test's
    to report: the test cannot be judged (inconclusive) and ``requirement`` carries the fail. The
    end-to-end scenarios own every step they take."""
    if s.owns(requirement):
        yield
        return
    try:
        yield
    except NotHonoured as exc:
        err = Inconclusive(f"cannot be judged: the prerequisite {requirement} does not hold ({exc})")
        err.cites = cites_of(exc)      # type: ignore[attr-defined]   # the evidence is the prerequisite's
        raise err from exc


def forward_to_ro(s: LineSession) -> int:
    """lineForward UNCOND to the RO number, accepted (RO-FWD-01 judges it); its request id."""
    entry = LineForward(forward_mode=int(LineForwardMode.UNCOND), dest_address=dial(s, "remote_office"))
    with judged_by(s, "RO-FWD-01"):
        return s.do("lineForward: unconditional to the RO number", "line_forward", s.line.h_line, False, 0,
                    (entry,), 0).request_id


def clear_forwarding(s: LineSession) -> None:
    """lineForward(NULL); skipped (and said so) where the profile declares forwarding cannot be cancelled."""
    if not (s.profile.capabilities.forwarding and s.profile.capabilities.forwarding.clear):
        s.step("forwarding is not cancelled: capabilities.forwarding.clear = false")
        return
    with judged_by(s, "RO-FWD-04"):
        s.do("lineForward: clear (NULL list)", "line_forward", s.line.h_line, False, 0, None, 0)


def check_forward_listed(s: LineSession) -> None:
    """lineGetAddressStatus lists UNCOND -> RO number within pixit.state_timeout (RO-FWD-02 judges it)."""
    s.step("lineGetAddressStatus shows UNCOND -> RO number")
    with judged_by(s, "RO-FWD-02"):
        if not poll(s, lambda: forwarded_to_ro(s), s.pixit.state_timeout):
            status = s.backend.line_get_address_status(s.line.h_line, 0)
            cite = Cite.value(status, "lineGetAddressStatus", "forward")
            raise s.verdict("fail", f"lineGetAddressStatus reports {cite.says()[0]} {s.pixit.state_timeout:g} s "
                                    f"after lineForward, not UNCOND -> RO number", cause=cite)


def forwarded_to_ro(s: LineSession) -> bool:
    status = s.backend.line_get_address_status(s.line.h_line, 0)
    return any(e.forward_mode & LineForwardMode.UNCOND and
               (e.dest_address == dial(s, "remote_office") or numbers_match(e.dest_address, s.pixit.remote_office))
               for e in status.forward)


def forwarded_call_rings_ro(s: LineSession) -> PartyView:
    """The caller dials the business number and the forwarded call alerts the RO phone (RO-FWD-06 judges
    that); returns the RO phone's view.

    When the RO phone stays silent the evidence says whose fault it is: a call still ringing at the desk
    was not forwarded (RO-FWD-06's fail); a caller left busy or idle means the PBX found no channel for
    the second external leg (a trunk shortage: RO-TRUNK-01's fail). Any other requirement cannot be judged
    on either. A silent RO phone with no such sign stays RO-FWD-06's.
    """
    mark = s.mark()
    s.step("the caller calls the business number")
    s.backend.parties.call("caller", business_number(s))
    try:
        return s.party_wait("remote_office", ALERTED, "the forwarded call alerts the RO phone")
    except NotHonoured as exc:
        cites = cites_of(exc)
        at_desk = [h for h in s.new_calls(mark) if s.state_of(h) & (S.OFFERING | S.ACCEPTED)]
        offered = s.state_message(at_desk[0], s.state_of(at_desk[0])) if at_desk else None
        if at_desk:
            owner, why = "RO-FWD-06", (f"the call to the business number rings at the desk line (call "
                                       f"0x{at_desk[0]:08X} {state_names(s.state_of(at_desk[0]))}): it was not "
                                       f"forwarded")
            if offered is not None:
                cites = (Cite.callstate(offered), *cites)
        else:
            caller = s.observed("caller", "why the RO phone never rang")
            if caller.state in ("idle", "busy"):
                owner, why = TRUNK_REQUIREMENT, (f"the caller's leg is {caller.state}: the PBX did not put the "
                                                 f"second external leg up (trunks.channels = {s.profile.trunks})")
                cites = (Cite.party(caller, "state"), *cites)
            else:
                owner, why = "RO-FWD-06", "the forwarded call never reached the RO phone"
        if s.owns(owner):
            raise s.verdict("fail", f"{why} ({exc})", cause=cites) from exc
        raise s.verdict("inconclusive", f"cannot be judged: the prerequisite {owner} does not hold - {why} ({exc})",
                        cause=cites) from exc


# ----- the RO leg and the transfers -------------------------------------------------------------

def take_ownership(s: LineSession, h_call: int, announced: int, leg: str) -> None:
    """Become OWNER of an offered call before acting on it, as a CTI client does (docs/tapi.md §3).

    ``announced`` is the privilege the call's first LINE_CALLSTATE carried (dwParam3; 0 when that message
    was not the first, then lineGetCallStatus tells). Another application that opened the desk line
    first (an attendant console, a call recorder) owns the offered calls; the suite's line then only
    monitors them and lineAnswer would be LINEERR_NOTOWNER. A refusal to hand over ownership is the
    installation, not the Remote Office feature: inconclusive.
    """
    privilege = announced or s.backend.line_get_call_status(h_call).call_privilege
    if privilege & LineCallPrivilege.OWNER:
        return
    s.step(f"{leg}: another application owns the offered call (this line is MONITOR): "
           f"lineSetCallPrivilege(OWNER) before answering")
    try:
        s.backend.line_set_call_privilege(h_call, int(LineCallPrivilege.OWNER))
    except LineError as exc:
        raise s.verdict("inconclusive", f"{leg}: cannot take ownership of the offered call "
                                        f"0x{h_call:08X} from the application that owns it: {exc}",
                        cause=Cite.error(exc, "lineSetCallPrivilege")) from exc


def make_ro_leg(s: LineSession) -> int:
    """A connected call between the desk line and the RO phone; returns its handle.

    Hands-free lineMakeCall (``HANDS_FREE``) where the profile claims automatic
    origination (docs/tapi.md §5.7 step 2); otherwise the RO phone calls in and the desk line
    answers, so transfer requirements are judged even on a PBX that prompts for origination.
    """
    if s.profile.capabilities.origination == "auto":
        params = HANDS_FREE
        with judged_by(s, "RO-ORIG-01"):
            reply = s.do("RO leg: lineMakeCall to the RO number, hands-free", "line_make_call", s.line.h_line,
                         dial(s, "remote_office"), 0, params)
        h_call = reply.new_call
    else:
        mark = s.mark()
        s.step("RO leg: the RO phone calls the business number")
        s.backend.parties.call("remote_office", business_number(s))
        offer = s.wait_message(Want(LineMsg.CALLSTATE, "param1", int(S.OFFERING)),
                               "LINE_CALLSTATE OFFERING of a call from the RO phone on the desk line", since=mark,
                               after={"role": "remote_office", "action": "call"})
        h_call = offer.device
        take_ownership(s, h_call, offer.param3, "RO leg")
        s.do("RO leg: lineAnswer", "line_answer", h_call)
    if not h_call:
        raise s.verdict("error", "RO leg: the LINE_REPLY carries no call handle")
    s.wait_state(h_call, int(S.CONNECTED), "RO leg: wait for the RO phone to answer",
                 timeout=s.pixit.answer_timeout, on_timeout="inconclusive")
    return h_call


def target_connected_to_ro(s: LineSession, path: str) -> None:
    """The target was alerted with the claimed number, answers, and talks to the RO phone.

    A target that never answers is inconclusive - unless the PBX gave the call back to the desk
    meanwhile (a recall: a new call OFFERING on the desk line), which is the PBX undoing the hand-over.
    """
    mark = s.mark()
    view = s.party_wait("target", ALERTED, "the target is alerted")
    check_presented(s, view, path, "the target")
    try:
        view = s.party_wait("target", frozenset({"connected"}), "the target answers",
                            timeout=s.pixit.answer_timeout, on_timeout="inconclusive")
    except Inconclusive as exc:
        s.drain()
        recalled = [h for h in s.new_calls(mark) if any(st & S.OFFERING for st in s.history.get(h, []))]
        if recalled:
            raise s.verdict("fail", f"the transferred call came back to the desk (call 0x{recalled[0]:08X} "
                                    f"OFFERING on the desk line) instead of staying with the target",
                            cause=s.state_message(recalled[0], int(S.OFFERING))) from exc
        raise
    ro = s.observed("remote_office", "the RO phone is connected to the target")
    if ro.state != "connected":
        raise s.verdict("fail", f"the target answered but the RO phone is {ro.state}, not connected to it",
                        cause=Cite.party(ro, "state"))
    if view.connected_number and not numbers_match(view.connected_number, s.pixit.remote_office):
        raise s.verdict("fail", f"the target is connected to {view.connected_number!r}, not the RO phone",
                        cause=Cite.party(view, "connected_number"))


def blind_flow(s: LineSession) -> int:
    """RO leg up, lineBlindTransfer to the target, the desk call leaves (IDLE, or DISCONNECTED first)."""
    h_call = make_ro_leg(s)
    s.do("lineBlindTransfer of the RO leg to the target", "line_blind_transfer", h_call, dial(s, "target"))
    s.wait_state(h_call, ENDED, "the desk call goes IDLE after the blind transfer")
    return h_call


# DIALTONE or any state a consultation call can reach after it (docs/tapi.md §5.2).
_DIALTONE_OR_LATER: Final = int(S.DIALTONE | S.DIALING | S.PROCEEDING | S.RINGBACK | S.CONNECTED)


def await_dial_tone(s: LineSession, h_consult: int) -> None:
    """Give the consultation call a bounded wait for DIALTONE (or a later state), then go on to lineDial
    either way. DIALTONE may be skipped (docs/tapi.md §5.2, §13: some PBXs give the call no state until
    lineDial), so its absence is only noted in the log; the wait is there so a DIALTONE that follows the
    LINE_REPLY is not raced by lineDial. A lineDial the PBX then refuses is judged as any other."""
    s.wait_state(h_consult, _DIALTONE_OR_LATER, "the consultation call has dial tone", on_timeout="continue")


def consult_flow(s: LineSession) -> tuple[int, int]:
    """RO leg up, lineSetupTransfer, lineDial the target, lineCompleteTransfer while it rings."""
    claims = s.profile.capabilities.transfer.complete_in
    ringing = S.RINGBACK if "ringback" in claims else S.PROCEEDING if "proceeding" in claims else None
    if ringing is None:
        raise NotApplicable(f"profile {s.profile.name}: capabilities.transfer.complete_in = {list(claims)}")
    h_call = make_ro_leg(s)
    h_consult = s.do("lineSetupTransfer on the RO leg", "line_setup_transfer", h_call, None).new_call
    if not h_consult:
        raise s.verdict("error", "lineSetupTransfer: the LINE_REPLY carries no consultation call handle")
    # lineCompleteTransfer takes the held call in ONHOLD or ONHOLDPENDTRANSFER (MS docs; the shared TAPI
    # reference, lineCompleteTransfer), so a PBX that holds the RO leg plainly is no reason to stop here
    s.wait_state(h_call, int(S.ONHOLD | S.ONHOLDPENDTRANSFER), "the RO leg goes ONHOLD or ONHOLDPENDTRANSFER")
    await_dial_tone(s, h_consult)
    s.do("lineDial the target on the consultation call", "line_dial", h_consult, dial(s, "target"))
    s.wait_state(h_consult, int(ringing), f"the consultation call reaches {ringing.name}")
    status = s.backend.line_get_call_status(h_consult)
    if not status.call_state & (S.RINGBACK | S.PROCEEDING):
        cite = Cite.value(status, "lineGetCallStatus", "call_state")
        raise s.verdict("inconclusive", f"the consultation call is {state_names(status.call_state)} already "
                                        f"(lineGetCallStatus {cite.says()[0]}): cannot complete while it rings",
                        cause=cite)
    s.do("lineCompleteTransfer(TRANSFER) while the target rings", "line_complete_transfer", h_call, h_consult,
         int(LineTransferMode.TRANSFER))
    s.wait_state(h_consult, ENDED, "the consultation call goes IDLE")
    s.wait_state(h_call, ENDED, "the held call goes IDLE")
    return h_call, h_consult


# capabilities.transfer.complete_in names -> the LINECALLSTATE of the consultation call, in the order
# RO-CAPS-02 tries them (docs/profiles.md; simulator._caps.completion_states maps them the same way).
COMPLETE_IN: Final = {"ringback": S.RINGBACK, "proceeding": S.PROCEEDING, "connected": S.CONNECTED,
                      "busy": S.BUSY}
# Where a consultation call goes after each state on its way to the target: seen instead, the wanted state
# was passed (unseen or too fast) and the wait need not run out first.
_BEYOND: Final = {S.PROCEEDING: int(S.RINGBACK | S.CONNECTED), S.RINGBACK: int(S.CONNECTED)}


def consult_in(s: LineSession, state: str, h_call: int = 0, h_consult: int = 0) -> tuple[int, int]:
    """The RO leg held for a transfer and a consultation call to the target in ``state`` (a
    ``complete_in`` name): (RO leg, consultation call). ``h_call`` / ``h_consult``: the connected RO leg
    and the consultation call (in DIALTONE, or with no state yet) the test already has; what is missing is made here.

    Only what the caller then tries in that state is judged: a step on the way that goes wrong is
    RO-CONS-01's (``judged_by``), a trunk shortage the trunks clause's (``wait_state``), a party that
    cannot be observed or does not play along, a state the call passes unseen, and BUSY (no PIXIT party
    is busy on demand) make it inconclusive - never a fail. For CONNECTED the target is told to answer
    (``PartyControl.answer``) once it is alerted, whatever its own answering habits.
    """
    wanted = COMPLETE_IN[state]
    if wanted == S.BUSY:
        raise s.verdict("inconclusive", "a consultation call in BUSY cannot be brought about (no PIXIT party is "
                                        "busy on demand): 'busy' of capabilities.transfer.complete_in is not tried",
                        cause=Cite.claim("capabilities.transfer.complete_in"))
    if not h_call:
        h_call = make_ro_leg(s)
    with judged_by(s, "RO-CONS-01"):
        if not h_consult:
            h_consult = s.do("lineSetupTransfer on the RO leg", "line_setup_transfer", h_call, None).new_call
            if not h_consult:
                raise s.verdict("error", "lineSetupTransfer: the LINE_REPLY carries no consultation call handle")
        await_dial_tone(s, h_consult)
        s.do("lineDial the target on the consultation call", "line_dial", h_consult, dial(s, "target"))
        if wanted == S.CONNECTED:
            s.party_wait("target", ALERTED, "the target is alerted", on_timeout="inconclusive")
            s.step("the target answers the consultation call")
            s.backend.parties.answer("target")
            s.party_wait("target", frozenset({"connected"}), "the target answers the consultation call",
                         timeout=s.pixit.answer_timeout, on_timeout="inconclusive")
        s.wait_state(h_consult, int(wanted) | _BEYOND.get(wanted, 0), f"the consultation call reaches "
                     f"{state_names(wanted)}", on_timeout="inconclusive")
    s.drain()
    now = s.state_of(h_consult)
    if now != wanted:
        seen = s.state_message(h_consult, now)
        raise s.verdict("inconclusive", f"the consultation call 0x{h_consult:08X} is {state_names(now)}, not "
                                        f"{state_names(wanted)}, when lineCompleteTransfer is due: it passed "
                                        f"{state_names(wanted)} unseen or too fast to be tried there",
                        cause=Cite.callstate(seen) if seen is not None else None)
    return h_call, h_consult


def clear_calls(s: LineSession, after: str) -> None:
    """After one attempt, before the next: every call the desk line holds is dropped (bounded wait for
    IDLE) and deallocated (``LineSession.release``), then the RO phone and the target hang up and are
    idle again, so the next attempt starts from a clean desk line."""
    s.step(f"clean up after {after}")
    s.release(list(s.history))
    for role in ("target", "remote_office"):
        if s.backend.parties.observe(role).state not in ("idle", "unknown"):
            s.backend.parties.hang_up(role)
        s.party_wait(role, frozenset({"idle", "unknown"}), f"{role} is idle again", on_timeout="error")


def desk_idle(s: LineSession) -> None:
    """After the hand-over the desk address has no call and the desk set is back on-hook (hands-free
    off), as far as the backend can observe the set (docs/tapi.md §5.7 step 4)."""
    status = s.backend.line_get_address_status(s.line.h_line, 0)
    calls = status.num_active_calls + status.num_on_hold_calls + status.num_on_hold_pend_calls
    if calls:
        cite = Cite.value(status, "lineGetAddressStatus", "num_active_calls", "num_on_hold_calls",
                          "num_on_hold_pend_calls")
        raise s.verdict("fail", f"the desk line still has {calls} call(s) after the hand-over "
                                f"(lineGetAddressStatus {', '.join(cite.says())})", cause=cite)
    desk = s.observed("desk", "the desk phone is idle and on-hook after the hand-over")
    if desk.state in ("alerting", "connected", "calling"):
        raise s.verdict("fail", f"the desk phone is still {desk.state} after the hand-over",
                        cause=Cite.party(desk, "state"))
    if desk.off_hook:
        raise s.verdict("fail", "the desk phone is still off-hook (speaker) after the hand-over",
                        cause=Cite.party(desk, "off_hook"))


def native_flow(s: LineSession, *, answer: bool) -> int:
    """Native Remote Office (§12.2): activate with lineDevSpecific, lineMakeCall rings the RO phone
    first with the business number, then the target with the business number; deactivated at the end."""
    native = s.profile.capabilities.native_remote_office
    try:
        s.reopen(native.ext_version)
    except LineError as exc:
        raise s.verdict("fail", f"opening the desk line with extension version 0x{native.ext_version:08X}: "
                                f"{exc}", cause=Cite.error(exc, exc.function or "lineOpen")) from exc
    mark = s.mark()
    request = native.activate.replace("{number}", dial(s, "remote_office")).encode("ascii")
    activated = s.do("lineDevSpecific: activate native Remote Office to the RO number", "line_dev_specific",
                     s.line.h_line, 0, 0, request)
    s.wait_message(Want(LineMsg.DEVSPECIFIC), "LINE_DEVSPECIFIC after activation", "wait for LINE_DEVSPECIFIC",
                   since=mark, after={"request_id": activated.request_id})
    h_call = s.do("lineMakeCall to the target on the native line", "line_make_call", s.line.h_line,
                  dial(s, "target"), 0, None).new_call
    ro = s.party_wait("remote_office", ALERTED, "the PBX rings the RO phone first")
    target = s.observed("target", "the target is not called before the RO phone answers")
    if target.state != "idle":
        raise s.verdict("fail", f"the target is {target.state} before the RO phone answered",
                        cause=Cite.party(target, "state"))
    check_presented(s, ro, "direct", "the RO phone")
    s.party_wait("remote_office", frozenset({"connected"}), "the RO phone answers",
                 timeout=s.pixit.answer_timeout, on_timeout="inconclusive")
    view = s.party_wait("target", ALERTED, "then the PBX calls the target")
    check_presented(s, view, "direct", "the target")
    if answer:
        view = s.party_wait("target", frozenset({"connected"}), "the target answers",
                            timeout=s.pixit.answer_timeout, on_timeout="inconclusive")
        if view.connected_number and not numbers_match(view.connected_number, s.pixit.remote_office):
            raise s.verdict("fail", f"the target is connected to {view.connected_number!r}, not the RO phone",
                            cause=Cite.party(view, "connected_number"))
        ro = s.observed("remote_office", "the RO phone is connected to the target")
        if ro.state != "connected":
            raise s.verdict("fail", f"the target answered but the RO phone is {ro.state}",
                            cause=Cite.party(ro, "state"))
    s.do("lineDevSpecific: deactivate native Remote Office", "line_dev_specific", s.line.h_line, 0, 0,
         native.deactivate.encode("ascii"))
    s.native_touched = False
    return h_call
