"""RO-TAPI-01: TAPI message ordering and call handles an application relies on (docs/tapi.md §3, §7.1;
MS docs "LINE_REPLY", "LINE_APPNEWCALL").

Advisory: a PBX that breaks it may still carry Remote Office calls for an application that tolerates
it (the suite does: it keeps call states of handles it has not learnt yet, and drops every handle it
holds), but a TAPI application written to the documentation loses the first states of its own calls,
or counts one call twice.
"""

from __future__ import annotations

import pytest

from conformance._evidence import Cite
from conformance.suite._errors import HarnessTimeout, Inconclusive
from conformance.suite._flows import business_number, make_ro_leg, poll
from conformance.suite._session import LineSession
from simulator._constants import LineCallState
from simulator._errors import TapiError
from simulator._messages import LineMessage

_OFFERED = int(LineCallState.OFFERING | LineCallState.ACCEPTED)


def _offered_call_handles(s: LineSession) -> list[tuple[str, LineMessage | None]]:
    """The caller calls the business number; the desk line is offered the call and must learn it under
    one handle (a spontaneous handle comes with LINE_APPNEWCALL, docs/tapi.md §7.1). The offered call is
    then cleared: the caller hangs up, the desk's handles are dropped and deallocated.

    Returns the handle violations seen. A call that never reaches the desk line (forwarded, do not
    disturb, no free channel, a caller that cannot dial) leaves nothing to judge: a step says so, and
    the handles of the calls this test creates are still judged.
    """
    mark = s.mark()
    s.step("the caller calls the business number: the desk line learns the offered call under one handle")
    try:
        s.backend.parties.call("caller", business_number(s))
    except TapiError as exc:
        s.step(f"one handle per offered call not seen: the caller could not call ({exc})")
        return []
    found: list[tuple[str, LineMessage | None]] = []
    try:
        if poll(s, lambda: any(s.state_of(h) & _OFFERED for h in s.new_calls(mark)), s.pixit.state_timeout):
            s.settle(0.5)       # a second announcement of the same call comes with the first
            found = s.calls_under_two_handles(s.new_calls(mark))
        else:
            s.step(f"one handle per offered call not seen: no call was offered to the desk line within "
                   f"{s.pixit.state_timeout:g} s (pixit.state_timeout)")
    finally:
        s.step("clear the offered call: the caller hangs up, the desk line drops and deallocates its handles")
        if s.backend.parties.observe("caller").state != "idle":     # unknown: the operator is asked
            s.backend.parties.hang_up("caller")
        s.release(s.new_calls(mark))
        if s.backend.parties.wait_for("caller", frozenset({"idle"}), s.pixit.state_timeout) is None:
            s.step(f"the caller is not idle {s.pixit.state_timeout:g} s after hanging up (the clean-up "
                   f"checks it again)")
    return found


@pytest.mark.requirement("RO-TAPI-01")
def test_ro_tapi_01_reply_before_new_call_events(tapi_session: LineSession) -> None:
    """Two rules of TAPI's message model, judged on the desk line:

    * the LINE_REPLY of a request that creates a call (lineMakeCall; lineSetupTransfer where
      consultation transfer is claimed) comes before any LINE_CALLSTATE of that call: the application
      learns the new hCall from the reply (MS docs "lineMakeCall": "the hCall is not valid until the
      LINE_REPLY ..."). On a PBX that prompts for origination the RO leg is an incoming call, so only
      lineSetupTransfer is tried there;
    * a LINE_REPLY 0 of such a request carries the new call's handle;
    * one handle per call: a call offered to the desk (the caller dials the business number) and the
      calls the test creates are each held under one handle - two handles held at once with the same
      LINECALLINFO dwCallID on the desk line are one call reported twice (docs/tapi.md §7.1).
    """
    s = tapi_session
    duplicates = _offered_call_handles(s)
    created = []
    try:
        h_call = make_ro_leg(s)
    except (Inconclusive, HarnessTimeout):   # e.g. the RO leg's reply carried no handle: an error there
        if s.ordering_violations or duplicates:  # what was seen before the broken step is judged all the same
            _fail(s, duplicates)
        raise
    if s.profile.capabilities.origination == "auto":
        created.append("lineMakeCall")
    if s.profile.capabilities.transfer.consultation and s.attempt(
            "lineSetupTransfer on the RO leg (a new consultation call)", "line_setup_transfer", h_call, None):
        created.append("lineSetupTransfer")
    s.settle(0.5)       # states that follow a reply at once are part of the evidence too
    duplicates += s.calls_under_two_handles(list(s.history))
    s.step(f"LINE_REPLY before the new call's LINE_CALLSTATE ({', '.join(created) or 'no call created'}); "
           f"one handle per call")
    if s.ordering_violations or duplicates:
        _fail(s, duplicates)
    if not created:
        raise s.verdict("inconclusive", "no request of this run created a call (prompted origination, "
                                        "lineSetupTransfer refused or not claimed), so the order was not seen")


def _fail(s: LineSession, duplicates: list[tuple[str, LineMessage | None]]) -> None:
    """Fail with every violation seen; the first duplicate's announcement is the record blamed."""
    texts = s.ordering_violations + [text for text, _ in duplicates]
    first = next((c for _, c in duplicates if c is not None), None)
    cites = list(s.ordering_cites) + ([Cite.message(first)] if first is not None else [])
    raise s.verdict("fail", "; ".join(texts), cause=cites)
