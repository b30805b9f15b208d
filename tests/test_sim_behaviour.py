"""Simulator behaviour at the limits a profile claims, and the presentation of identities.

* Forwarding: lineForward accepts as many entries as LINEADDRESSCAPS dwMaxForwardEntries advertises
  (``capabilities.forwarding.max_entries``); one more is refused synchronously with LINEERR_INVALPARAM
  and leaves the stored list as it was. Microsoft documents dwMaxForwardEntries as the most entries
  lpForwardList may hold and lists LINEERR_INVALPARAM among lineForward's errors
  (https://learn.microsoft.com/en-us/windows/win32/api/tapi/ns-tapi-lineaddresscaps,
  https://learn.microsoft.com/en-us/windows/win32/api/tapi/nf-tapi-lineforward); which error a TSP
  gives for too many entries is not specified, so this is the simulator's documented rule
  (docs/profiles.md).
"""

from __future__ import annotations

import pytest
from conftest import MakeSim
from helpers import DeskSession

from simulator._constants import LineErr, LineForwardMode
from simulator._errors import LineError
from simulator._structs import LineForward

V2_2 = 0x00020002
MODES = (LineForwardMode.UNCOND, LineForwardMode.BUSY, LineForwardMode.NOANSW, LineForwardMode.BUSYNA)


@pytest.mark.parametrize("name", ["boundary/one-forward-entry", "reference"])
def test_forwarding_takes_max_entries_and_refuses_one_more(make_sim: MakeSim, name: str) -> None:
    sim = make_sim(name)
    s = DeskSession(sim)
    h_line = s.open("desk")
    fwd = sim.profile.capabilities.forwarding
    assert fwd is not None
    most = sim.line_get_address_caps(s.app, s.device_id("desk"), 0, V2_2).max_forward_entries
    assert most == fwd.max_entries
    number = sim.profile.dial_string(sim.profile.pixit.remote_office)
    allowed = [m for m in MODES if m.name in fwd.modes]
    entries = tuple(LineForward(forward_mode=allowed[i % len(allowed)], dest_address=number) for i in range(most))
    s.ok(sim.line_forward(h_line, False, 0, entries))
    assert sim.line_get_address_status(h_line, 0).forward == entries
    one_more = (*entries, LineForward(forward_mode=allowed[0], dest_address=number))
    with pytest.raises(LineError) as info:
        sim.line_forward(h_line, False, 0, one_more)
    assert info.value.code == LineErr.INVALPARAM and info.value.function == "lineForward"
    assert f"{most + 1} entries, at most {most}" in str(info.value)
    assert sim.line_get_address_status(h_line, 0).forward == entries     # the stored list is unchanged
    s.ok(sim.line_forward(h_line, False, 0, None))
    s.drop_all()
