"""Simulator behaviour at the limits a profile claims, and the presentation of identities.

* Forwarding: lineForward accepts as many entries as LINEADDRESSCAPS dwMaxForwardEntries advertises
  (``capabilities.forwarding.max_entries``); one more is refused synchronously with LINEERR_INVALPARAM
  and leaves the stored list as it was. Microsoft documents dwMaxForwardEntries as the most entries
  lpForwardList may hold and lists LINEERR_INVALPARAM among lineForward's errors
  (https://learn.microsoft.com/en-us/windows/win32/api/tapi/ns-tapi-lineaddresscaps,
  https://learn.microsoft.com/en-us/windows/win32/api/tapi/nf-tapi-lineforward); which error a TSP
  gives for too many entries is not specified, so this is the simulator's documented rule
  (docs/profiles.md).
* Presentation (``presentation_differs``): one LINECALLINFO party-ID block shows the name only
  (dwCallerIDFlags LINECALLPARTYID_NAME, no number) or the number only; the other blocks are untouched
  and a ``shows`` value the kind cannot take is a validate error.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import MakeSim
from helpers import DeskSession
from suite_runner import PROFILES

from conformance.backends.sim import SimBackend
from simulator._constants import LineCallPartyId, LineCallPrivilege, LineCallState, LineErr, LineForwardMode
from simulator._errors import LineError
from simulator._partyview import PartyView
from simulator._profile_model import Fault
from simulator._structs import LineCallInfo, LineForward

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


# ----- presentation: displayed name versus number ------------------------------------------------
def _ro_call_info(sim: SimBackend) -> tuple[LineCallInfo, PartyView]:
    """The desk calls the RO phone; what a monitor of the RO phone's line reads in LINECALLINFO, and
    what the RO phone displays (PartyView)."""
    s = DeskSession(sim)
    h_desk = s.make_call(s.open("desk"), sim.profile.dial_string(sim.profile.pixit.remote_office))
    watch = DeskSession(sim, "watch")
    watch.open("remote_office", LineCallPrivilege.MONITOR)
    s.state(h_desk, LineCallState.CONNECTED)
    h_ro = next(h for h, handle in sim.handles.items() if handle.line.app.handle == watch.app)
    info = sim.line_get_call_info(h_ro)
    shown = sim.parties.observe("remote_office")
    s.drop_all()
    watch.drop_all()
    return info, shown


@pytest.mark.parametrize("shows", ["name_only", "number_only"])
def test_presentation_differs_shows_name_or_number_only(make_sim: MakeSim, shows: str) -> None:
    honest, honest_view = _ro_call_info(make_sim())
    assert honest.caller_id_flags == LineCallPartyId.ADDRESS | LineCallPartyId.NAME
    assert honest.caller_id and honest.caller_id_name and honest_view.presented_number == honest.caller_id
    assert (honest_view.presentation, honest_view.presented_name) == ("shown", honest.caller_id_name)
    info, view = _ro_call_info(make_sim(faults=[Fault("presentation_differs", field="caller", shows=shows)]))
    if shows == "name_only":
        assert (info.caller_id_flags, info.caller_id, info.caller_id_name) == \
            (LineCallPartyId.NAME, "", honest.caller_id_name)
        # the RO phone displays the name and no number: "name_only", told apart from "unknown"
        assert (view.presented_number, view.presentation, view.presented_name) == \
            ("", "name_only", honest.caller_id_name)
    else:
        assert (info.caller_id_flags, info.caller_id, info.caller_id_name) == \
            (LineCallPartyId.ADDRESS, honest.caller_id, "")
        assert (view.presented_number, view.presentation, view.presented_name) == \
            (honest_view.presented_number, "shown", "")
    for block in ("called", "connected", "redirection", "redirecting"):   # only the named block differs
        assert [getattr(info, f"{block}_id{x}") for x in ("_flags", "", "_name")] == \
            [getattr(honest, f"{block}_id{x}") for x in ("_flags", "", "_name")]


def test_presentation_differs_is_validated(tmp_path: Path) -> None:
    from simulator._errors import ProfileError
    from simulator._profile import load_profile

    bad = tmp_path / "bad.yaml"
    bad.write_text("schema: 1\nbase: " + str(PROFILES / "reference.yaml") + "\npbx: {name: bad}\nsimulation:\n"
                   "  faults:\n    - {kind: presentation_differs, field: caller, shows: withheld}\n"
                   "    - {kind: wrong_connected_id, shows: remote}\n", encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        load_profile(bad)
    text = str(info.value)
    assert "simulation.faults[0].shows: kind 'presentation_differs' cannot show 'withheld'" in text
    assert "simulation.faults[1].shows: kind 'wrong_connected_id' cannot show 'remote'" in text


def test_fault_routes_are_validated_per_kind(tmp_path: Path) -> None:
    """route: native exists for the faults the native route can meet; a transfer-only fault refuses it."""
    from simulator._errors import ProfileError
    from simulator._profile import load_profile

    bad = tmp_path / "bad.yaml"
    bad.write_text("schema: 1\nbase: " + str(PROFILES / "native-ro.yaml") + "\npbx: {name: bad}\nsimulation:\n"
                   "  faults:\n    - {kind: transfer_recall, route: native, seconds: 2}\n"
                   "    - {kind: transfer_drops_remote, route: native}\n"
                   "    - {kind: wrong_connected_id, shows: business, route: native}\n"
                   "    - {kind: party_release_delay, role: desk, seconds: 2}\n"
                   "    - {kind: party_release_delay, seconds: 2}\n"
                   "    - {kind: wrong_caller_id, path: direct, shows: extension, role: caller}\n"
                   "    - {kind: wrong_caller_id, path: direct, shows: extension, role: target}\n", encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        load_profile(bad)
    text = str(info.value)
    assert "simulation.faults[0].route: kind 'transfer_recall' does not act on route 'native'; valid: blind, " \
           "consult" in text
    assert "faults[1]" not in text and "faults[2]" not in text
    assert "simulation.faults[3].role: 'desk' is not one of ['remote_office', 'target', 'caller']" in text
    assert "simulation.faults[4].role: required key is missing (needed by kind 'party_release_delay')" in text
    assert "simulation.faults[5].role: the caller is never shown the desk's caller ID" in text
    assert "faults[6]" not in text
