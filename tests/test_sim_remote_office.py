"""The Remote Office flows on the simulator (docs/tapi.md §5.6, §5.7), through the provider API.

Outbound: the desk calls the RO phone hands-free, then hands that call to the target by blind transfer
or by a consultation transfer completed while the target still rings. Inbound: forwarding of the desk
to the RO number. Forwarding set / query / clear with LINE_ADDRESSSTATE(FORWARD).
"""

from __future__ import annotations

import pytest
from conftest import MakeSim
from helpers import DeskSession

from conformance.backends.sim import SimBackend
from simulator._constants import LineAddressState, LineCallReason, LineDisconnectMode, LineErr, LineForwardMode, LineMsg
from simulator._constants import LineCallState as S
from simulator._structs import LineForward

ALERTING = frozenset({"alerting"})


def _ro_call(sim: SimBackend, s: DeskSession) -> int:
    """The first half of every outbound RO call: desk -> RO phone, answered, desk hands-free."""
    h_call = s.connected_call(s.open("desk"), sim.profile.pixit.remote_office)
    assert sim.parties.observe("desk").off_hook, "hands-free origination leaves the desk off-hook"
    assert sim.parties.observe("remote_office").presented_number == sim.profile.stations[0].business_number
    return h_call


def _assert_handed_over(sim: SimBackend, s: DeskSession, h_call: int, *extra: int) -> None:
    business = sim.profile.stations[0].business_number
    target = sim.parties.wait_for("target", ALERTING, 10.0)
    assert target is not None, "the target never rang"
    assert target.presented_number == business
    assert target.reason == LineCallReason.TRANSFER
    assert sim.pbx.trunks_in_use == 2, "RO leg and target leg each hold a trunk channel"
    for h in (h_call, *extra):
        assert s.states(h)[-1] == S.IDLE
    desk = sim.parties.observe("desk")
    assert desk.state == "idle" and not desk.off_hook
    connected = sim.parties.wait_for("target", frozenset({"connected"}), 30.0)
    assert connected is not None and connected.connected_number == sim.profile.pixit.remote_office
    assert sim.parties.observe("remote_office").connected_number == sim.profile.pixit.target
    assert sim.pbx.trunks_peak == 2
    for h in (h_call, *extra):
        sim.line_deallocate_call(h)
    sim.parties.hang_up("target")
    assert sim.pbx.trunks_in_use == 0 and sim.live_calls() == []


@pytest.mark.parametrize("name", ["reference", "blind-only", "forward-no-query"])
def test_outbound_via_blind_transfer(make_sim: MakeSim, name: str) -> None:
    sim = make_sim(name)
    s = DeskSession(sim)
    h_call = _ro_call(sim, s)
    s.ok(sim.line_blind_transfer(h_call, sim.profile.dial_string(sim.profile.pixit.target)))
    s.state(h_call, S.IDLE)
    _assert_handed_over(sim, s, h_call)


@pytest.mark.parametrize("name", ["reference", "consult-ringing"])
def test_outbound_via_consultation_completed_while_ringing(make_sim: MakeSim, name: str) -> None:
    sim = make_sim(name)
    s = DeskSession(sim)
    h_call = _ro_call(sim, s)
    h_consult = s.ok(sim.line_setup_transfer(h_call)).new_call
    s.state(h_call, S.ONHOLDPENDTRANSFER)
    s.state(h_consult, S.DIALTONE)
    s.ok(sim.line_dial(h_consult, sim.profile.dial_string(sim.profile.pixit.target)))
    s.state(h_consult, S.RINGBACK)
    assert sim.parties.observe("target").state == "alerting"
    assert sim.pbx.trunks_in_use == 2
    s.ok(sim.line_complete_transfer(h_call, h_consult, 1))
    s.state(h_call, S.IDLE)
    _assert_handed_over(sim, s, h_call, h_consult)


def test_consultation_cannot_complete_while_ringing_where_the_profile_says_so(make_sim: MakeSim) -> None:
    sim = make_sim("consult-connected-only")
    s = DeskSession(sim)
    h_call = _ro_call(sim, s)
    h_consult = s.ok(sim.line_setup_transfer(h_call)).new_call
    s.ok(sim.line_dial(h_consult, sim.profile.dial_string(sim.profile.pixit.target)))
    s.state(h_consult, S.RINGBACK)
    s.failed(sim.line_complete_transfer(h_call, h_consult, 1), LineErr.INVALCALLSTATE)
    s.pump(0.5)
    assert s.states(h_call)[-1] == S.ONHOLDPENDTRANSFER and s.states(h_consult)[-1] == S.RINGBACK
    s.state(h_consult, S.CONNECTED)      # once the target answers it works
    s.ok(sim.line_complete_transfer(h_call, h_consult, 1))
    s.state(h_call, S.IDLE)
    assert sim.parties.observe("target").connected_number == sim.profile.pixit.remote_office
    s.drop_all()


def _forward(sim: SimBackend, s: DeskSession, h_line: int, number: str | None) -> None:
    fwd = None if number is None else (LineForward(forward_mode=LineForwardMode.UNCOND, dest_address=number),)
    s.ok(sim.line_forward(h_line, False, 0, fwd))


@pytest.mark.parametrize(("name", "desk_sees"), [("reference", "nothing"),
                                                 ("forward-no-query", "offering_disconnected")])
def test_inbound_via_forwarding(make_sim: MakeSim, name: str, desk_sees: str) -> None:
    sim = make_sim(name)
    s = DeskSession(sim)
    h_line = s.open("desk")
    _forward(sim, s, h_line, sim.profile.dial_string(sim.profile.pixit.remote_office))
    business = sim.profile.stations[0].business_number
    sim.parties.call("caller", business)
    ro = sim.parties.wait_for("remote_office", ALERTING, 10.0)
    assert ro is not None
    assert ro.reason == LineCallReason.FWDUNCOND
    assert ro.redirecting_number == business
    rule = sim.profile.capabilities.caller_id.forwarded
    assert ro.presented_number == {"business": business, "caller": sim.profile.pixit.caller}[rule]
    s.pump(1.0)
    desk_states = [m for m in s.log if m.msg == LineMsg.CALLSTATE]
    if desk_sees == "nothing":
        assert desk_states == []
    else:
        assert [m.param1 for m in desk_states] == [S.OFFERING, S.DISCONNECTED]
        assert desk_states[1].param2 == LineDisconnectMode.FORWARDED
    sim.parties.answer("remote_office")
    assert sim.parties.observe("caller").state == "connected"
    assert sim.pbx.trunks_in_use == 2
    sim.parties.hang_up("caller")
    s.drop_all()


def test_forwarding_set_query_clear(sim: SimBackend) -> None:
    s = DeskSession(sim)
    h_line = s.open("desk")
    number = sim.profile.dial_string(sim.profile.pixit.remote_office)
    assert sim.line_get_address_status(h_line, 0).forward == ()
    _forward(sim, s, h_line, number)
    event = s.wait(lambda m: m.msg == LineMsg.ADDRESSSTATE and m.param2 == LineAddressState.FORWARD)
    assert event.device == h_line
    forward = sim.line_get_address_status(h_line, 0).forward
    assert [(f.forward_mode, f.dest_address) for f in forward] == [(LineForwardMode.UNCOND, number)]
    _forward(sim, s, h_line, None)
    s.wait(lambda m: m.msg == LineMsg.ADDRESSSTATE and m.param2 == LineAddressState.FORWARD)
    assert sim.line_get_address_status(h_line, 0).forward == ()
    sim.parties.call("caller", sim.profile.stations[0].business_number)   # cleared: the desk rings again
    offering = s.wait(lambda m: m.msg == LineMsg.CALLSTATE)
    assert offering.param1 == S.OFFERING
    assert sim.parties.observe("desk").state == "alerting"
    s.drop_all()


def test_forwarding_that_cannot_be_queried(make_sim: MakeSim) -> None:
    sim = make_sim("forward-no-query")
    s = DeskSession(sim)
    h_line = s.open("desk")
    _forward(sim, s, h_line, sim.profile.dial_string(sim.profile.pixit.remote_office))
    s.pump(5.0)
    assert sim.line_get_address_status(h_line, 0).forward == ()
    assert [m for m in s.messages(LineMsg.ADDRESSSTATE) if m.param2 == LineAddressState.FORWARD] == []
    # it still works at the switch
    sim.parties.call("caller", sim.profile.stations[0].business_number)
    assert sim.parties.wait_for("remote_office", ALERTING, 10.0) is not None
    sim.parties.hang_up("caller")
    s.drop_all()
