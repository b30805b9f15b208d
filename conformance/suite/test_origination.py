"""RO-ORIG-01: dialling without anybody at the desk (docs/tapi.md §11)."""

from __future__ import annotations

import pytest

from conformance.backend import HANDS_FREE
from conformance.suite._flows import dial
from conformance.suite._session import LineSession
from simulator._constants import LineCallState

S = LineCallState
PROGRESS = int(S.DIALING | S.PROCEEDING | S.RINGBACK | S.CONNECTED)
PROMPT = int(S.OFFERING | S.ACCEPTED)


@pytest.mark.requirement("RO-ORIG-01")
@pytest.mark.tapi_requires("auto_origination")
def test_ro_orig_01_make_call_hands_free(tapi_session: LineSession) -> None:
    """lineMakeCall with LINECALLPARAMFLAGS_ORIGOFFHOOK|IDLE on the desk line reaches DIALING, PROCEEDING or
    RINGBACK within pixit.state_timeout with no action at the desk phone. A first state of OFFERING or
    ACCEPTED (the desk set is prompted), or no progress at all, means the PBX needs a user (§11.3)."""
    s = tapi_session
    h_call = s.do("lineMakeCall to the RO number, ORIGOFFHOOK|IDLE, nobody at the desk", "line_make_call",
                  s.line.h_line, dial(s, "remote_office"), 0, HANDS_FREE).new_call
    if not h_call:
        raise s.verdict("error", "lineMakeCall: the LINE_REPLY carries no call handle")
    state = s.wait_state(h_call, PROGRESS | PROMPT, "the call progresses without the desk user")
    if state & PROMPT:
        raise s.verdict("fail", f"the new call 0x{h_call:08X} came up {S(state).name}: the PBX prompts the desk "
                                f"phone instead of dialling hands-free", cause=s.state_message(h_call, state))
