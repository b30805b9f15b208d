"""RO-E2E-01/02: the Remote Office scenarios end to end (docs/tapi.md §5.7, §12.1)."""

from __future__ import annotations

import pytest

from conformance._evidence import Cite
from conformance.suite._claims import check_claim, undocumented_claims
from conformance.suite._errors import Inconclusive, NotApplicable
from conformance.suite._flows import (
    blind_flow,
    clear_forwarding,
    consult_flow,
    desk_idle,
    forward_to_ro,
    forwarded_call_rings_ro,
    native_flow,
    target_connected_to_ro,
)
from conformance.suite._session import LineSession

# every claim a route rests on, for telling "no route" from "no source says which route"
_ROUTE_CLAIMS = ("native", "business_number_on_direct", "blind_transfer", "business_number_on_blind",
                 "consultation_in_ringing", "business_number_on_consult")


def _on_claims(exc: Inconclusive, *claims: str) -> Inconclusive:
    """``exc`` citing the profile's claims it rests on (nothing in the log to cite: conformance._evidence)."""
    exc.cites = (Cite.claim(*claims),)      # type: ignore[attr-defined]
    return exc


@pytest.mark.requirement("RO-E2E-01")
@pytest.mark.tapi_requires("trunks>=2")
def test_ro_e2e_01_outbound(tapi_session: LineSession) -> None:
    """Outbound Remote Office call on the route the profile offers (native first, else blind, else
    consultation completed while ringing): the RO phone is called hands-free, the call is handed to the
    target, the target sees the business number, the desk is idle and RO phone and target talk (§5.7)."""
    s = tapi_session

    def offers(*claims: str) -> bool:   # the same claims that gate the route's own requirement
        return all(check_claim(s.profile, c)[0] for c in claims)
    if offers("native", "business_number_on_direct"):
        native_flow(s, answer=True)
        return
    blind = offers("blind_transfer", "business_number_on_blind")
    if not (blind or offers("consultation_in_ringing", "business_number_on_consult")):
        undecided = undocumented_claims(s.profile, _ROUTE_CLAIMS)
        if undecided:   # a route may exist, no source says: not judged
            raise _on_claims(Inconclusive("; ".join(undecided)),
                             *(c for c in _ROUTE_CLAIMS if undocumented_claims(s.profile, [c])))
        raise NotApplicable(f"profile {s.profile.name}: no route that shows the target the business number "
                            f"(capabilities.native_remote_office, capabilities.transfer, capabilities.caller_id)")
    hands_free, reason = check_claim(s.profile, "auto_origination")
    if not hands_free and undocumented_claims(s.profile, ["auto_origination"]):
        raise _on_claims(Inconclusive("; ".join(undocumented_claims(s.profile, ["auto_origination"]))),
                         "auto_origination")
    if not hands_free:
        raise NotApplicable(f"{reason}: the RO leg cannot be dialled hands-free")
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
    forwarded_call_rings_ro(s)
    s.party_wait("remote_office", frozenset({"connected"}), "the RO phone answers",
                 timeout=s.pixit.answer_timeout, on_timeout="inconclusive")
    s.party_wait("caller", frozenset({"connected"}), "the caller is connected to the RO phone")
    clear_forwarding(s)
