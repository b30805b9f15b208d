"""TAPI semantics of the simulator through the provider API: async replies, events, errors, life cycle.

Remote Office call flows are in ``test_sim_remote_office.py``; origination modes, trunks, native RO and
caps in ``test_sim_origination.py``; fault knobs in ``test_sim_faults.py``.
"""

from __future__ import annotations

import time

import pytest
from conftest import MakeSim
from helpers import MONITOR, OWNER, DeskSession

from conformance.backends.sim import SimBackend
from simulator._callstates import CallTrigger
from simulator._constants import LineAddressState, LineDevState, LineErr, LineForwardMode, LineMsg
from simulator._constants import LineCallState as S
from simulator._constants import LineDisconnectMode as DM
from simulator._errors import LineError
from simulator._structs import LineForward

V1_4 = 0x00010004


def _raises(code: LineErr, fn: object, *args: object) -> None:
    with pytest.raises(LineError) as info:
        fn(*args)  # type: ignore[operator]
    assert info.value.code == code, f"expected {code.tapi_name}, got {info.value}"


def _forward_to(number: str) -> tuple[LineForward, ...]:
    return (LineForward(forward_mode=LineForwardMode.UNCOND, dest_address=number),)


# ----- asynchronous semantics ---------------------------------------------------------------------
def test_async_request_ids_are_positive_increasing_and_get_exactly_one_reply(sim: SimBackend) -> None:
    s = DeskSession(sim)
    h_line = s.open("desk")
    req = sim.line_make_call(h_line, sim.profile.dial_string(sim.profile.pixit.remote_office))
    assert req > 0
    assert not sim.handles, "a handle exists before the LINE_REPLY"
    reply = s.ok(req)
    h_call = reply.new_call
    assert h_call in sim.handles
    req2 = sim.line_drop(h_call)
    assert req2 > req
    s.pump(120.0)
    replies = s.messages(LineMsg.REPLY)
    assert [m.param1 for m in replies] == [req, req2]
    assert all(m.device == 0 and m.param3 == 0 for m in replies)
    sim.line_deallocate_call(h_call)


def test_no_event_for_a_new_call_before_its_reply(sim: SimBackend) -> None:
    s = DeskSession(sim)
    h_line = s.open("desk")
    h_call = s.connected_call(h_line, sim.profile.pixit.remote_office)
    setup = sim.line_setup_transfer(h_call)
    s.pump(5.0)
    for new_call, req in ((h_call, 1), (s.reply(setup).new_call, setup)):
        first_event = next(i for i, m in enumerate(s.log) if m.device == new_call and m.msg != LineMsg.REPLY)
        reply_at = next(i for i, m in enumerate(s.log) if m.msg == LineMsg.REPLY and m.param1 == req)
        assert reply_at < first_event, s.describe()
    s.drop_all()


def test_status_messages_only_when_enabled(make_sim: MakeSim) -> None:
    for enabled in (False, True):
        sim = make_sim("reference")
        s = DeskSession(sim)
        h_line = s.open("desk", status=enabled)
        s.ok(sim.line_forward(h_line, False, 0, _forward_to("0" + sim.profile.pixit.remote_office)))
        s.ok(sim.line_forward(h_line, False, 0, None))
        sim.parties.call("caller", sim.profile.stations[0].business_number)
        s.wait(lambda m: m.msg == LineMsg.CALLSTATE and m.param1 == S.OFFERING)
        s.pump(1.0)
        addr = [m.param2 for m in s.messages(LineMsg.ADDRESSSTATE)]
        dev = [m.param1 for m in s.messages(LineMsg.LINEDEVSTATE)]
        if enabled:
            assert addr.count(LineAddressState.FORWARD) == 2
            assert LineDevState.RINGING in dev
        else:
            assert addr == [] and dev == [], s.describe()
        s.drop_all()


def test_new_incoming_call_carries_owner_privilege(sim: SimBackend) -> None:
    s = DeskSession(sim)
    h_line = s.open("desk")
    sim.parties.call("caller", sim.profile.stations[0].business_number)
    offering = s.wait(lambda m: m.msg == LineMsg.CALLSTATE)
    assert offering.param1 == S.OFFERING and offering.param3 == OWNER
    new = s.messages(LineMsg.APPNEWCALL)
    assert len(new) == 1 and new[0].device == h_line and new[0].param2 == offering.device
    assert new[0].param3 == OWNER
    assert s.log.index(new[0]) < s.log.index(offering)
    s.ok(sim.line_answer(offering.device))
    s.state(offering.device, S.CONNECTED)
    info = sim.line_get_call_info(offering.device)
    assert info.caller_id == sim.profile.pixit.caller
    s.drop_all()


def test_monitor_sees_calls_of_others_with_monitor_privilege(sim: SimBackend) -> None:
    owner, monitor = DeskSession(sim, "owner"), DeskSession(sim, "monitor")
    h_owner = owner.open("desk", OWNER)
    monitor.open("desk", MONITOR)
    h_call = owner.connected_call(h_owner, sim.profile.pixit.remote_office)
    first = monitor.wait(lambda m: m.msg == LineMsg.CALLSTATE)
    assert first.param3 == MONITOR
    assert [m.param3 for m in monitor.messages(LineMsg.APPNEWCALL)] == [MONITOR]
    _raises(LineErr.NOTOWNER, sim.line_drop, first.device)
    _raises(LineErr.NOTOWNER, sim.line_hold, first.device)
    assert sim.line_get_call_status(first.device).call_features == 0
    owner.ok(sim.line_drop(h_call))
    monitor.state(first.device, S.IDLE)
    owner.drop_all()
    monitor.drop_all()


def test_api_1_x_application_gets_no_appnewcall(sim: SimBackend) -> None:
    s = DeskSession(sim, api_version=V1_4)
    s.open("desk")
    sim.parties.call("caller", sim.profile.stations[0].business_number)
    offering = s.wait(lambda m: m.msg == LineMsg.CALLSTATE)
    assert offering.param3 == OWNER
    assert s.messages(LineMsg.APPNEWCALL) == []
    s.drop_all()


def test_redirect_deflects_an_offering_call_only(sim: SimBackend) -> None:
    """MS docs lineRedirect: "The call state of hCall must be offering" - an ACCEPTED call is refused
    with LINEERR_INVALCALLSTATE up front, and the call stays ACCEPTED; an OFFERING one is deflected."""
    s = DeskSession(sim)
    s.open("desk")
    target = sim.profile.dial_string(sim.profile.pixit.target)
    sim.parties.call("caller", sim.profile.stations[0].business_number)
    h_call = s.wait(lambda m: m.msg == LineMsg.CALLSTATE and m.param1 == S.OFFERING).device
    # SimBackend has no lineAccept (the Backend contract leaves it to party lines); the switch claims the
    # call the way a lineAccept would (the emulated tapi32.dll's lineAccept does the same)
    sim.pbx.fire(sim.handles[h_call].call, CallTrigger.ACCEPT)
    s.state(h_call, S.ACCEPTED)
    _raises(LineErr.INVALCALLSTATE, sim.line_redirect, h_call, target)
    assert sim.line_get_call_status(h_call).call_state == S.ACCEPTED
    s.drop_all()
    sim.parties.hang_up("caller")
    sim.parties.call("caller", sim.profile.stations[0].business_number)
    h_call = s.wait(lambda m: m.msg == LineMsg.CALLSTATE and m.param1 == S.OFFERING and m.device != h_call).device
    s.ok(sim.line_redirect(h_call, target))
    s.state(h_call, S.IDLE)
    assert sim.parties.wait_for("target", frozenset({"alerting", "connected"}), 30) is not None
    s.drop_all()


# ----- synchronous errors --------------------------------------------------------------------------
def test_bad_handles_states_and_modes_fail_up_front(sim: SimBackend) -> None:
    s = DeskSession(sim)
    h_line = s.open("desk")
    for fn in (sim.line_drop, sim.line_answer, sim.line_hold, sim.line_unhold, sim.line_get_call_info,
               sim.line_get_call_status, sim.line_deallocate_call):
        _raises(LineErr.INVALCALLHANDLE, fn, 0x0BAD)
    _raises(LineErr.INVALLINEHANDLE, sim.line_make_call, 0x0BAD, "0123")
    _raises(LineErr.INVALLINEHANDLE, sim.line_forward, 0x0BAD, False, 0, None)
    _raises(LineErr.INVALAPPHANDLE, sim.line_get_message, 0x0BAD, 0.0)
    _raises(LineErr.BADDEVICEID, sim.line_open, s.app, 99, 0x00020002)
    _raises(LineErr.INCOMPATIBLEAPIVERSION, sim.line_open, s.app, 0, 0x00040000)
    _raises(LineErr.INVALADDRESS, sim.line_make_call, h_line, "not a number")
    _raises(LineErr.INVALADDRESSID, sim.line_get_address_status, h_line, 3)
    _raises(LineErr.INVALPARAM, sim.line_forward, h_line, False, 0,
            (LineForward(forward_mode=LineForwardMode.UNCOND | LineForwardMode.BUSY, dest_address="0123"),))
    _raises(LineErr.OPERATIONUNAVAIL, sim.line_dev_specific, h_line, 0, 0, b"RO ON 0123")
    h_call = s.connected_call(h_line, sim.profile.pixit.remote_office)
    _raises(LineErr.INVALCALLSTATE, sim.line_answer, h_call)
    _raises(LineErr.INVALCALLSTATE, sim.line_unhold, h_call)
    _raises(LineErr.INVALCALLSTATE, sim.line_dial, h_call, "1")
    _raises(LineErr.INVALCALLSTATE, sim.line_redirect, h_call, "0123")
    _raises(LineErr.CALLUNAVAIL, sim.line_make_call, h_line, "0123")
    _raises(LineErr.INVALTRANSFERMODE, sim.line_complete_transfer, h_call, h_call, 3)
    _raises(LineErr.INVALCONSULTCALLHANDLE, sim.line_complete_transfer, h_call, 0x0BAD, 1)
    _raises(LineErr.INVALCALLSTATE, sim.line_complete_transfer, h_call, h_call, 1)
    # the provider is still usable after all of that
    s.ok(sim.line_hold(h_call))
    s.state(h_call, S.ONHOLD)
    s.ok(sim.line_unhold(h_call))
    s.state(h_call, S.CONNECTED)
    s.drop_all()


def test_unsupported_transfers_are_operationunavail(make_sim: MakeSim) -> None:
    for name, blind_ok, consult_ok in (("blind-only", True, False), ("consult-ringing", False, True)):
        sim = make_sim(name)
        s = DeskSession(sim)
        h_call = s.connected_call(s.open("desk"), sim.profile.pixit.remote_office)
        if not blind_ok:
            _raises(LineErr.OPERATIONUNAVAIL, sim.line_blind_transfer, h_call, "0123")
        if not consult_ok:
            _raises(LineErr.OPERATIONUNAVAIL, sim.line_setup_transfer, h_call)
        s.drop_all()


def test_deallocate_keeps_the_call_and_invalidates_the_handle(sim: SimBackend) -> None:
    s = DeskSession(sim)
    h_line = s.open("desk")
    h_call = s.connected_call(h_line, sim.profile.pixit.remote_office)
    sim.line_deallocate_call(h_call)           # API 2.x: allowed for a live call
    _raises(LineErr.INVALCALLHANDLE, sim.line_get_call_status, h_call)
    assert sim.parties.observe("remote_office").state == "connected"
    sim.parties.hang_up("remote_office")
    s.pump(1.0)
    assert sim.live_calls() == [] and sim.model_count() == 0


# ----- close, shutdown, time -----------------------------------------------------------------------
def test_line_close_drops_owned_calls_and_cancels_pending_replies(sim: SimBackend) -> None:
    s = DeskSession(sim)
    h_line = s.open("desk")
    h_call = s.connected_call(h_line, sim.profile.pixit.remote_office)
    assert sim.pbx.trunks_in_use == 1
    pending = sim.line_hold(h_call)
    sim.line_close(h_line)
    s.pump(30.0)
    assert not [m for m in s.messages(LineMsg.REPLY) if m.param1 == pending]
    assert sim.live_calls() == [] and sim.pbx.trunks_in_use == 0
    _raises(LineErr.INVALCALLHANDLE, sim.line_get_call_status, h_call)
    _raises(LineErr.INVALLINEHANDLE, sim.line_close, h_line)


def test_line_close_keeps_calls_another_owner_holds(sim: SimBackend) -> None:
    a, b = DeskSession(sim, "a"), DeskSession(sim, "b")
    h_a = a.open("desk", OWNER | MONITOR)
    b.open("desk", OWNER | MONITOR)
    sim.parties.call("caller", sim.profile.stations[0].business_number)
    offer_a = a.wait(lambda m: m.msg == LineMsg.CALLSTATE)
    offer_b = b.wait(lambda m: m.msg == LineMsg.CALLSTATE)
    assert {offer_a.param3, offer_b.param3} == {OWNER, MONITOR}   # one owner gets the offering call
    sim.line_close(h_a)
    a.pump(0.0)
    if offer_b.param3 == OWNER:
        assert sim.parties.observe("caller").state != "idle"
    b.drop_all()


def test_line_shutdown_frees_everything(sim: SimBackend) -> None:
    s = DeskSession(sim)
    h_line = s.open("desk")
    s.connected_call(h_line, sim.profile.pixit.remote_office)
    sim.line_make_call(s.open("target"), None)
    sim.line_shutdown(s.app)
    _raises(LineErr.INVALAPPHANDLE, sim.line_get_message, s.app, 0.0)
    _raises(LineErr.INVALLINEHANDLE, sim.line_set_status_messages, h_line, 0, 0)
    assert sim.live_calls() == [] and sim.handles == {} and sim.stray_timers() == []


def _scenario(sim: SimBackend) -> list[tuple[float, int, int, int, int, int, int]]:
    s = DeskSession(sim)
    h_line = s.open("desk")
    s.ok(sim.line_forward(h_line, False, 0, _forward_to("0" + sim.profile.pixit.remote_office)))
    h_call = s.connected_call(h_line, sim.profile.pixit.remote_office)
    s.ok(sim.line_blind_transfer(h_call, sim.profile.dial_string(sim.profile.pixit.target)))
    s.pump(30.0)
    sim.parties.call("caller", sim.profile.stations[0].business_number)
    s.pump(30.0)
    s.drop_all()
    return [(m.time, m.device, int(m.msg), m.param1, m.param2, m.param3, m.new_call) for m in s.log]


def test_determinism_same_profile_same_requests_same_messages(make_sim: MakeSim) -> None:
    first, second = _scenario(make_sim("reference")), _scenario(make_sim("reference"))
    assert first == second
    assert len(first) > 10


def test_virtual_time_costs_no_wall_time(make_sim: MakeSim) -> None:
    sim = make_sim("reference")
    s = DeskSession(sim)
    started = time.monotonic()
    h_call = s.make_call(s.open("desk"), "0" + "0309999999")      # default_external: never answers
    disconnected = s.state(h_call, S.DISCONNECTED, timeout=120.0)
    assert disconnected.param2 == DM.NOANSWER
    assert disconnected.time >= sim.profile.simulation.timing.no_answer_timeout
    assert sim.clock.now() >= 60.0
    assert time.monotonic() - started < 60.0   # a wall-clock simulator could not get here
    s.drop_all()
