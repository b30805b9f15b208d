"""RO-BLIND-01, RO-CONS-01, RO-TRUNK-01: handing the RO leg to the target (tapi-reference.md §5.4, §5.5, §5.7)."""

from __future__ import annotations

from typing import NoReturn

import pytest

from conformance.suite._errors import NotHonoured
from conformance.suite._flows import (
    ALERTED,
    blind_flow,
    business_number,
    consult_flow,
    desk_idle,
    forward_to_ro,
    target_connected_to_ro,
)
from conformance.suite._session import LineSession
from simulator._constants import LineCallState as S


@pytest.mark.requirement("RO-BLIND-01")
@pytest.mark.tapi_requires("blind_transfer", "business_number_on_blind", "trunks>=2")
def test_ro_blind_01_blind_transfer(tapi_session: LineSession) -> None:
    """lineBlindTransfer of the connected RO leg to the target: LINE_REPLY 0, the desk call goes IDLE,
    the target is alerted showing the business number (capabilities.caller_id.blind_transfer) and, once
    it answers, talks to the RO phone (§5.4; MS docs "lineBlindTransfer")."""
    s = tapi_session
    blind_flow(s)
    target_connected_to_ro(s, "blind_transfer")
    desk_idle(s)


@pytest.mark.requirement("RO-CONS-01")
@pytest.mark.tapi_requires("consultation_in_ringing", "business_number_on_consult", "trunks>=2")
def test_ro_cons_01_complete_transfer_while_ringing(tapi_session: LineSession) -> None:
    """lineSetupTransfer puts the RO leg ONHOLDPENDTRANSFER and gives a consultation call in DIALTONE;
    lineDial the target; lineCompleteTransfer(LINETRANSFERMODE_TRANSFER) while the consultation call is
    RINGBACK/PROCEEDING is accepted, both desk calls go IDLE, the target is shown the business number
    and then talks to the RO phone (§5.5 (b); MS docs "lineCompleteTransfer")."""
    s = tapi_session
    consult_flow(s)
    target_connected_to_ro(s, "consult_transfer")
    desk_idle(s)


@pytest.mark.requirement("RO-TRUNK-01")
@pytest.mark.tapi_requires("forwarding", "trunks>=2")
def test_ro_trunk_01_two_external_legs(tapi_session: LineSession) -> None:
    """Two external legs at once: a call from the public network to the business number, forwarded to
    the external RO number, occupies an incoming and an outgoing trunk channel together; both must
    progress (the caller hears ringback, the RO phone rings). Every Remote Office call needs this (§12.1).
    A profile declaring one channel is not applicable here and fails the trunks clause of the verdict."""
    s = tapi_session
    forward_to_ro(s)
    mark = s.mark()
    s.step("the caller calls the business number (incoming external leg)")
    s.backend.parties.call("caller", business_number(s))
    try:
        s.party_wait("remote_office", ALERTED, "the RO phone rings on a second external leg")
    except NotHonoured as exc:
        _why_the_ro_phone_stayed_silent(s, mark, exc)
    caller = s.observed("caller", "the caller's leg is still up while the RO leg rings")
    if caller.state in ("idle", "busy"):
        raise s.verdict("fail", f"the caller's leg is {caller.state} while the RO leg rings: "
                                f"the two external legs were not up together")


def _why_the_ro_phone_stayed_silent(s: LineSession, mark: int, exc: NotHonoured) -> NoReturn:
    """The forwarded leg never rang: a trunk shortage is this requirement's fail; a call that was not
    forwarded at all (it rings at the desk) is RO-FWD-06's, and this one cannot be judged."""
    ringing_here = [h for h in s.new_calls(mark) if s.state_of(h) & (S.OFFERING | S.ACCEPTED)]
    if ringing_here:
        raise s.verdict("inconclusive", f"cannot be judged: the prerequisite RO-FWD-06 does not hold - the call "
                                        f"to the business number was offered to the desk line, not forwarded ({exc})")
    caller = s.observed("caller", "why the RO phone never rang")
    if caller.state in ("idle", "busy"):
        raise s.verdict("fail", f"the RO phone never rang and the caller's leg is {caller.state}: the PBX did "
                                f"not put the second external leg up (trunks.channels = {s.profile.trunks})") from exc
    raise s.verdict("inconclusive", f"cannot be judged: the forwarded call never reached the RO phone and the "
                                    f"caller still waits, with no sign of a trunk shortage; RO-FWD-06 judges "
                                    f"whether forwarding reaches the RO phone ({exc})") from exc
