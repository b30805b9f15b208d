"""RO-TAPI-01: TAPI message ordering an application relies on (docs/tapi.md §3; MS docs "LINE_REPLY").

Advisory: a PBX that breaks it may still carry Remote Office calls for an application that tolerates
the order (the suite does: it keeps call states of handles it has not learnt yet), but a TAPI
application written to the documentation loses the first states of its own calls.
"""

from __future__ import annotations

import pytest

from conformance.suite._errors import Inconclusive
from conformance.suite._flows import make_ro_leg
from conformance.suite._session import LineSession


@pytest.mark.requirement("RO-TAPI-01")
def test_ro_tapi_01_reply_before_new_call_events(tapi_session: LineSession) -> None:
    """The LINE_REPLY of a request that creates a call (lineMakeCall; lineSetupTransfer where consultation
    transfer is claimed) comes before any LINE_CALLSTATE of that call: the application learns the new
    hCall from the reply (MS docs "lineMakeCall": "the hCall is not valid until the LINE_REPLY ...").
    On a PBX that prompts for origination the RO leg is an incoming call, so only lineSetupTransfer is
    tried there."""
    s = tapi_session
    created = []
    try:
        h_call = make_ro_leg(s)
    except Inconclusive:
        if s.ordering_violations:       # what was seen before the broken step is judged all the same
            raise s.verdict("fail", "; ".join(s.ordering_violations), cause=s.ordering_cites) from None
        raise
    if s.profile.capabilities.origination == "auto":
        created.append("lineMakeCall")
    if s.profile.capabilities.transfer.consultation and s.attempt(
            "lineSetupTransfer on the RO leg (a new consultation call)", "line_setup_transfer", h_call, None):
        created.append("lineSetupTransfer")
    s.settle(0.5)       # states that follow a reply at once are part of the evidence too
    s.step(f"LINE_REPLY before the new call's LINE_CALLSTATE ({', '.join(created) or 'no call created'})")
    if s.ordering_violations:
        raise s.verdict("fail", "; ".join(s.ordering_violations), cause=s.ordering_cites)
    if not created:
        raise s.verdict("inconclusive", "no request of this run created a call (prompted origination, "
                                        "lineSetupTransfer refused or not claimed), so the order was not seen")
