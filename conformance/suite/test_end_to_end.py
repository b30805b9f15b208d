"""RO-E2E-01/02: the Remote Office scenarios end to end (tapi-reference.md §5.7, §12.1)."""

from __future__ import annotations

import pytest

from conformance._suite_errors import NotApplicable
from conformance._suite_session import LineSession
from conformance.suite._flows import (
    ALERTED,
    blind_flow,
    business_number,
    clear_forwarding,
    consult_flow,
    desk_idle,
    forward_to_ro,
    native_flow,
    target_connected_to_ro,
)


@pytest.mark.requirement("RO-E2E-01")
@pytest.mark.tapi_requires("trunks>=2")
def test_ro_e2e_01_outbound(tapi_session: LineSession) -> None:
    """Outbound Remote Office call on the route the profile offers (native first, else blind, else
    consultation completed while ringing): the RO phone is called hands-free, the call is handed to the
    target, the target sees the business number, the desk is idle and RO phone and target talk (§5.7)."""
    s = tapi_session
    caps, ids = s.profile.capabilities, s.profile.capabilities.caller_id
    if caps.native_remote_office.mechanism != "none" and ids.direct == "business":
        native_flow(s, answer=True)
        return
    blind = caps.transfer.blind and ids.blind_transfer == "business"
    consult = caps.transfer.consultation and ids.consult_transfer == "business" and bool(
        {"ringback", "proceeding"} & set(caps.transfer.complete_in))
    if not (blind or consult):
        raise NotApplicable(f"profile {s.profile.name}: no route that shows the target the business number "
                            f"(capabilities.native_remote_office, capabilities.transfer, capabilities.caller_id)")
    if caps.origination != "auto":
        raise NotApplicable(f"profile {s.profile.name}: capabilities.origination = {caps.origination!r} "
                            f"(the RO leg cannot be dialled hands-free)")
    if blind:
        blind_flow(s)
        target_connected_to_ro(s, "blind_transfer")
    else:
        consult_flow(s)
        target_connected_to_ro(s, "consult_transfer")
    desk_idle(s)


@pytest.mark.requirement("RO-E2E-02")
@pytest.mark.tapi_requires("forwarding", "trunks>=2")
def test_ro_e2e_02_inbound(tapi_session: LineSession) -> None:
    """Inbound Remote Office call: forwarding to the RO number is set, a caller dials the business
    number, the RO phone rings and answers, caller and RO phone are connected; forwarding is cleared
    afterwards (§5.6, §12.1)."""
    s = tapi_session
    forward_to_ro(s)
    s.step("the caller calls the business number")
    s.backend.parties.call("caller", business_number(s))
    s.party_wait("remote_office", ALERTED, "the RO phone rings")
    s.party_wait("remote_office", frozenset({"connected"}), "the RO phone answers",
                 timeout=s.pixit.answer_timeout, on_timeout="inconclusive")
    s.party_wait("caller", frozenset({"connected"}), "the caller is connected to the RO phone")
    clear_forwarding(s)
