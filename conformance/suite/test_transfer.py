"""RO-BLIND-01, RO-CONS-01, RO-TRUNK-01: handing the RO leg to the target (docs/tapi.md §5.4, §5.5, §5.7)."""

from __future__ import annotations

import pytest

from conformance.suite._flows import (
    blind_flow,
    consult_flow,
    desk_idle,
    forward_to_ro,
    forwarded_call_rings_ro,
    target_connected_to_ro,
)
from conformance.suite._session import LineSession


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
    forwarded_call_rings_ro(s)
    caller = s.observed("caller", "the caller's leg is still up while the RO leg rings")
    if caller.state in ("idle", "busy"):
        raise s.verdict("fail", f"the caller's leg is {caller.state} while the RO leg rings: "
                                f"the two external legs were not up together")
