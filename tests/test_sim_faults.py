"""Every fault knob of ``simulation.faults`` (``Fault`` in simulator/_profile_model.py) on the simulator.

Each test runs the same flow with and without the fault where that makes the effect visible, so the
knob is shown to change exactly what it claims to change. (STRUCTURETOOSMALL lives in the ctypes layer.)
"""

from __future__ import annotations

import pytest
from conftest import MakeSim
from helpers import ALL_LINE_STATES, DeskSession

from conformance.backends.sim import SimBackend
from simulator._constants import (
    LineAddrCapFlags,
    LineAddressState,
    LineBusyMode,
    LineCallPrivilege,
    LineDevState,
    LineDevStatusFlags,
    LineDisconnectMode,
    LineErr,
    LineFeature,
    LineForwardMode,
    LineMsg,
)
from simulator._constants import LineCallFeature as CF
from simulator._constants import LineCallState as S
from simulator._errors import LineError
from simulator._faults import PARTY_APP_NAME
from simulator._profile_model import Fault
from simulator._structs import LineForward

V2_2 = 0x00020002


def _ro(sim: SimBackend) -> tuple[DeskSession, int, int]:
    s = DeskSession(sim)
    h_line = s.open("desk")
    return s, h_line, s.connected_call(h_line, sim.profile.pixit.remote_office)


def _forward(sim: SimBackend, s: DeskSession, h_line: int) -> None:
    number = sim.profile.dial_string(sim.profile.pixit.remote_office)
    s.ok(sim.line_forward(h_line, False, 0, (LineForward(forward_mode=LineForwardMode.UNCOND,
                                                         dest_address=number),)))


# ----- replies -----------------------------------------------------------------------------------
@pytest.mark.parametrize("function", ["lineHold", ""])
def test_reply_latency(make_sim: MakeSim, function: str) -> None:
    sim = make_sim(faults=[Fault("reply_latency", function=function, seconds=7.5)])
    s, _, h_call = _ro(sim)
    asked = sim.clock.now()
    reply = s.ok(sim.line_hold(h_call), timeout=10.0)
    assert reply.time == pytest.approx(asked + 7.5)
    asked = sim.clock.now()
    reply = s.ok(sim.line_unhold(h_call), timeout=10.0)
    expected = 7.5 if not function else sim.profile.simulation.timing.reply_latency
    assert reply.time == pytest.approx(asked + expected)
    s.drop_all()


def test_lost_reply(make_sim: MakeSim) -> None:
    sim = make_sim(faults=[Fault("lost_reply", function="lineHold")])
    s, _, h_call = _ro(sim)
    req = sim.line_hold(h_call)
    s.pump(600.0)
    assert not [m for m in s.messages(LineMsg.REPLY) if m.param1 == req]
    s.ok(sim.line_unhold(h_call))              # other functions still reply
    s.drop_all()


def test_reply_error(make_sim: MakeSim) -> None:
    fault = Fault("reply_error", function="lineBlindTransfer", error=int(LineErr.OPERATIONFAILED))
    sim = make_sim(faults=[fault])
    s, _, h_call = _ro(sim)
    s.failed(sim.line_blind_transfer(h_call, sim.profile.dial_string(sim.profile.pixit.target)),
             LineErr.OPERATIONFAILED)
    s.pump(5.0)
    assert s.states(h_call)[-1] == S.CONNECTED, "a failed request changes nothing"
    assert sim.parties.observe("target").state == "idle"
    s.drop_all()


def test_reply_error_on_a_creating_request_makes_no_call(make_sim: MakeSim) -> None:
    sim = make_sim(faults=[Fault("reply_error", function="lineMakeCall", error=int(LineErr.RESOURCEUNAVAIL))])
    s = DeskSession(sim)
    reply = s.failed(sim.line_make_call(s.open("desk"), "0123"), LineErr.RESOURCEUNAVAIL)
    assert reply.new_call == 0 and sim.live_calls() == [] and sim.handles == {}


@pytest.mark.parametrize("function", ["lineMakeCall", "lineSetupTransfer"])
def test_reply_without_call_handle(make_sim: MakeSim, function: str) -> None:
    """LINE_REPLY 0 without the new handle (lphCall / lphConsultCall stay 0); the call is made all the
    same and its LINE_CALLSTATEs come under a handle the reply never named. The other function, and the
    party-control helper (the harness, PARTY_APP_NAME), still get their handles."""
    sim = make_sim(faults=[Fault("reply_without_call_handle", function=function)])
    s = DeskSession(sim)
    h_line = s.open("desk")
    ro = sim.profile.dial_string(sim.profile.pixit.remote_office)
    reply = s.ok(sim.line_make_call(h_line, ro))
    if function == "lineMakeCall":
        assert reply.new_call == 0
        made = s.wait(lambda m: m.msg == LineMsg.CALLSTATE).device
        assert made in sim.handles, "the call exists under a handle the application was never given"
        assert sim.parties.wait_for("remote_office", frozenset({"alerting", "connected"}), 30.0) is not None
        s.drop_all()
        harness = DeskSession(sim, name=PARTY_APP_NAME)
        assert harness.ok(sim.line_make_call(harness.open("desk"), ro)).new_call, "the harness is not lied to"
        harness.drop_all()
        return
    assert reply.new_call, "lineMakeCall is not the function the fault names"
    s.state(reply.new_call, S.CONNECTED)
    setup = s.ok(sim.line_setup_transfer(reply.new_call))
    assert setup.new_call == 0
    consult = s.wait(lambda m: m.msg == LineMsg.CALLSTATE and m.param1 == S.DIALTONE).device
    assert consult != reply.new_call and consult in sim.handles
    s.drop_all()


def test_incoming_calls_unreported(make_sim: MakeSim) -> None:
    """A call to the desk rings the set (and the line: LINE_LINEDEVSTATE RINGING) but the application
    that owns the desk line gets no handle: no LINE_APPNEWCALL, no LINE_CALLSTATE. Its own calls are
    reported; the party-control helper (the harness) is still offered the call."""
    sim = make_sim("prompted", faults=[Fault("incoming_calls_unreported")])
    s = DeskSession(sim)
    h_line = s.open("desk")
    harness = DeskSession(sim, name=PARTY_APP_NAME)
    harness.open("desk", LineCallPrivilege.MONITOR)
    sim.parties.call("remote_office", sim.profile.station(sim.profile.pixit.desk).business_number)
    assert sim.parties.wait_for("desk", frozenset({"alerting"}), 30.0) is not None, "the desk set rings"
    got = s.pump(5.0)
    assert not [m for m in got if m.msg in (LineMsg.APPNEWCALL, LineMsg.CALLSTATE)], s.describe()
    assert [m for m in got if m.msg == LineMsg.LINEDEVSTATE and m.param1 & LineDevState.RINGING]
    assert [m for m in harness.pump() if m.msg == LineMsg.CALLSTATE and m.param1 == S.OFFERING]
    sim.parties.hang_up("remote_office")
    harness.pump(5.0)
    harness.drop_all()
    reply = s.ok(sim.line_make_call(h_line, sim.profile.dial_string(sim.profile.pixit.target)))
    assert reply.new_call and s.wait(lambda m: m.msg == LineMsg.CALLSTATE and m.device == reply.new_call)
    s.drop_all()


# ----- transfers ---------------------------------------------------------------------------------
def test_blind_transfer_never_completes(make_sim: MakeSim) -> None:
    sim = make_sim(faults=[Fault("transfer_never_completes", route="blind")])
    s, _, h_call = _ro(sim)
    s.ok(sim.line_blind_transfer(h_call, sim.profile.dial_string(sim.profile.pixit.target)))
    s.state(h_call, S.IDLE)                     # the desk sees success ...
    assert sim.parties.wait_for("target", frozenset({"alerting", "connected"}), 60.0) is None  # ... no join
    assert sim.parties.observe("remote_office").connected_number == ""
    s.drop_all()


def test_consult_transfer_never_completes(make_sim: MakeSim) -> None:
    sim = make_sim(faults=[Fault("transfer_never_completes", route="consult")])
    s, _, h_call = _ro(sim)
    h_consult = s.ok(sim.line_setup_transfer(h_call)).new_call
    s.ok(sim.line_dial(h_consult, sim.profile.dial_string(sim.profile.pixit.target)))
    s.state(h_consult, S.RINGBACK)
    s.ok(sim.line_complete_transfer(h_call, h_consult, 1))
    s.state(h_call, S.IDLE)
    s.state(h_consult, S.IDLE)
    assert sim.parties.wait_for("target", frozenset({"connected"}), 60.0) is None
    assert sim.parties.observe("remote_office").connected_number == ""
    s.drop_all()


@pytest.mark.parametrize("holds", [False, True])
def test_setup_transfer_holds(make_sim: MakeSim, holds: bool) -> None:
    sim = make_sim(faults=[Fault("setup_transfer_holds")] if holds else [])
    s, _, h_call = _ro(sim)
    h_consult = s.ok(sim.line_setup_transfer(h_call)).new_call
    s.state(h_consult, S.DIALTONE)
    s.pump(1.0)
    assert s.states(h_call)[-1] == (S.ONHOLD if holds else S.ONHOLDPENDTRANSFER)
    assert S.ONHOLDPENDTRANSFER not in s.states(h_call) or not holds
    s.ok(sim.line_dial(h_consult, sim.profile.dial_string(sim.profile.pixit.target)))
    s.state(h_consult, S.RINGBACK)
    # the held call of a pending transfer: lineCompleteTransfer takes ONHOLD as well, and says so
    assert sim.line_get_call_status(h_call).call_features & CF.COMPLETETRANSF
    # ... and LINEADDRESSCAPS says a hard-held call can be transferred (LINEADDRCAPFLAGS_TRANSFERHELD)
    caps = sim.line_get_address_caps(s.app, s.device_id("desk"), 0, s.api_version)
    assert bool(caps.addr_cap_flags & LineAddrCapFlags.TRANSFERHELD) == holds
    s.ok(sim.line_complete_transfer(h_call, h_consult, 1))
    s.state(h_consult, S.IDLE)
    s.state(h_call, S.IDLE)
    _target_answers(sim)
    assert sim.parties.observe("remote_office").state == "connected"
    s.drop_all()


def test_setup_transfer_holds_dropping_the_consultation_reconnects(make_sim: MakeSim) -> None:
    sim = make_sim(faults=[Fault("setup_transfer_holds")])
    s, _, h_call = _ro(sim)
    h_consult = s.ok(sim.line_setup_transfer(h_call)).new_call
    s.state(h_call, S.ONHOLD)
    s.ok(sim.line_drop(h_consult))
    s.state(h_consult, S.IDLE)
    s.state(h_call, S.CONNECTED)   # AUTORECONNECT from the plain hold of the pending transfer
    s.drop_all()


@pytest.mark.parametrize("without", [False, True])
def test_consult_without_dialtone(make_sim: MakeSim, without: bool) -> None:
    sim = make_sim(faults=[Fault("consult_without_dialtone")] if without else [])
    s, _, h_call = _ro(sim)
    h_consult = s.ok(sim.line_setup_transfer(h_call)).new_call
    s.state(h_call, S.ONHOLDPENDTRANSFER)
    s.pump(5.0)
    assert s.states(h_consult) == ([] if without else [S.DIALTONE])
    assert sim.line_get_call_status(h_consult).call_features & CF.DIAL   # it takes lineDial all the same
    s.ok(sim.line_dial(h_consult, sim.profile.dial_string(sim.profile.pixit.target)))
    s.state(h_consult, S.RINGBACK)
    assert S.DIALTONE not in s.states(h_consult) or not without
    assert s.states(h_consult)[0] == (S.DIALING if without else S.DIALTONE)
    s.ok(sim.line_complete_transfer(h_call, h_consult, 1))
    s.state(h_call, S.IDLE)
    _target_answers(sim)
    s.drop_all()


def test_consult_without_dialtone_leaves_other_calls_alone(make_sim: MakeSim) -> None:
    """Only the consultation call goes without dial tone: a lineMakeCall without an address still gets it."""
    sim = make_sim(faults=[Fault("consult_without_dialtone")])
    s = DeskSession(sim)
    h_line = s.open("desk")
    h_call = s.make_call(h_line, None)
    s.state(h_call, S.DIALTONE)
    s.drop_all()


@pytest.mark.parametrize(("call", "held_idle", "consult_idle"),
                         [("", False, False), ("both", False, False), ("held", False, True),
                          ("consultation", True, False)])
def test_desk_call_lingers_names_the_call(make_sim: MakeSim, call: str, held_idle: bool,
                                          consult_idle: bool) -> None:
    sim = make_sim(faults=[Fault("desk_call_lingers", route="consult", call=call)])
    s, _, h_call = _ro(sim)
    h_consult = s.ok(sim.line_setup_transfer(h_call)).new_call
    s.ok(sim.line_dial(h_consult, sim.profile.dial_string(sim.profile.pixit.target)))
    s.state(h_consult, S.RINGBACK)
    s.ok(sim.line_complete_transfer(h_call, h_consult, 1))
    _target_answers(sim)   # the hand-over itself works: only the desk side lingers
    assert sim.parties.observe("remote_office").state == "connected"
    s.pump(1.0)
    assert (s.states(h_call)[-1] == S.IDLE) is held_idle
    assert (s.states(h_consult)[-1] == S.IDLE) is consult_idle
    s.drop_all()


def _target_answers(sim: SimBackend) -> None:
    view = sim.parties.wait_for("target", frozenset({"connected"}), 60.0)
    assert view is not None


@pytest.mark.parametrize(("route", "acts"), [("", True), ("blind", True), ("consult", False), ("native", False)])
def test_wrong_connected_id_acts_on_its_route_only(make_sim: MakeSim, route: str, acts: bool) -> None:
    """No ``route``: every Remote Office route, as before the field existed; else that route alone."""
    sim = make_sim(faults=[Fault("wrong_connected_id", shows="business", route=route)])
    s, _, h_call = _ro(sim)
    s.ok(sim.line_blind_transfer(h_call, sim.profile.dial_string(sim.profile.pixit.target)))
    _target_answers(sim)
    shown = sim.parties.observe("target").connected_number
    assert shown == (sim.profile.stations[0].business_number if acts else sim.profile.pixit.remote_office)
    s.drop_all()


def _native_call(sim: SimBackend) -> tuple[DeskSession, int]:
    """Native Remote Office switched on at the desk, then lineMakeCall to the target (§12.2)."""
    s = DeskSession(sim)
    native = sim.profile.capabilities.native_remote_office
    h_line = s.open("desk", ext_version=native.ext_version)
    ro = sim.profile.dial_string(sim.profile.pixit.remote_office)
    s.ok(sim.line_dev_specific(h_line, 0, 0, native.activate.replace("{number}", ro).encode()))
    return s, s.make_call(h_line, sim.profile.dial_string(sim.profile.pixit.target))


@pytest.mark.parametrize("fault", [None, Fault("wrong_connected_id", shows="business", route="consult"),
                                   Fault("wrong_connected_id", shows="business", route="native"),
                                   Fault("wrong_connected_id", shows="extension")])
def test_wrong_connected_id_on_the_native_route(make_sim: MakeSim, fault: Fault | None) -> None:
    sim = make_sim("native-ro", faults=[fault] if fault else [])
    s, h_call = _native_call(sim)
    _target_answers(sim)
    s.state(h_call, S.CONNECTED)
    expected = {None: sim.profile.pixit.remote_office, "consult": sim.profile.pixit.remote_office,
                "native": sim.profile.stations[0].business_number, "": "201"}
    assert sim.parties.observe("target").connected_number == expected[fault.route if fault else None]
    assert sim.parties.observe("remote_office").state == "connected"
    s.drop_all()


@pytest.mark.parametrize("route", ["native", "blind"])
def test_native_drops_remote(make_sim: MakeSim, route: str) -> None:
    """route native: the RO leg (and the desk appearance with it) is lost as the target answers; the
    target talks to nobody. A transfer route's fault leaves the native call alone."""
    sim = make_sim("native-ro", faults=[Fault("transfer_drops_remote", route=route)])
    s, h_call = _native_call(sim)
    assert sim.parties.wait_for("target", frozenset({"alerting"}), 60.0) is not None
    assert sim.parties.observe("remote_office").state == "connected"    # nothing lost while it rings
    _target_answers(sim)
    if route == "native":
        s.state(h_call, S.IDLE)
        assert sim.parties.observe("remote_office").state == "idle"
        assert sim.parties.observe("target").connected_number == sim.profile.pixit.remote_office
        sim.parties.hang_up("target")
    else:
        s.state(h_call, S.CONNECTED)
        assert sim.parties.observe("remote_office").state == "connected"
    s.drop_all()


# ----- forwarding --------------------------------------------------------------------------------
def test_forward_query_empty(make_sim: MakeSim) -> None:
    sim = make_sim(faults=[Fault("forward_query_empty")])
    s = DeskSession(sim)
    h_line = s.open("desk")
    _forward(sim, s, h_line)
    s.wait(lambda m: m.msg == LineMsg.ADDRESSSTATE and m.param2 == LineAddressState.FORWARD)
    assert sim.line_get_address_status(h_line, 0).forward == ()
    sim.parties.call("caller", sim.profile.stations[0].business_number)   # yet it forwards
    assert sim.parties.wait_for("remote_office", frozenset({"alerting"}), 10.0) is not None
    sim.parties.hang_up("caller")
    s.drop_all()


def test_no_forward_events(make_sim: MakeSim) -> None:
    sim = make_sim(faults=[Fault("no_forward_events")])
    s = DeskSession(sim)
    h_line = s.open("desk")
    _forward(sim, s, h_line)
    s.pump(10.0)
    assert [m for m in s.messages(LineMsg.ADDRESSSTATE) if m.param2 == LineAddressState.FORWARD] == []
    assert len(sim.line_get_address_status(h_line, 0).forward) == 1


@pytest.mark.parametrize(("path", "shows", "expected"), [("blind_transfer", "extension", "201"),
                                                         ("blind_transfer", "withheld", ""),
                                                         ("forwarded", "caller", "0409876543")])
def test_wrong_caller_id(make_sim: MakeSim, path: str, shows: str, expected: str) -> None:
    sim = make_sim(faults=[Fault("wrong_caller_id", path=path, shows=shows)])
    if path == "blind_transfer":
        s, _, h_call = _ro(sim)
        s.ok(sim.line_blind_transfer(h_call, sim.profile.dial_string(sim.profile.pixit.target)))
        view = sim.parties.wait_for("target", frozenset({"alerting"}), 10.0)
    else:
        s = DeskSession(sim)
        _forward(sim, s, s.open("desk"))
        sim.parties.call("caller", sim.profile.stations[0].business_number)
        view = sim.parties.wait_for("remote_office", frozenset({"alerting"}), 10.0)
    assert view is not None and view.presented_number == expected
    s.drop_all()


def test_several_faults_of_one_kind_each_apply(make_sim: MakeSim) -> None:
    """One fault per path: the blind-transfer one must not be shadowed by the forwarded one after it."""
    sim = make_sim(faults=[Fault("wrong_caller_id", path="blind_transfer", shows="extension"),
                           Fault("wrong_caller_id", path="forwarded", shows="caller")])
    s, _, h_call = _ro(sim)
    s.ok(sim.line_blind_transfer(h_call, sim.profile.dial_string(sim.profile.pixit.target)))
    view = sim.parties.wait_for("target", frozenset({"alerting"}), 10.0)
    assert view is not None and view.presented_number == "201"
    assert sim.profile.simulation.fault("wrong_caller_id", path="forwarded") is not None
    s.drop_all()


# ----- trunks ------------------------------------------------------------------------------------
@pytest.mark.parametrize(("form", "state", "mode"), [
    ("disconnected", S.DISCONNECTED, LineDisconnectMode.CONGESTION),
    ("busy", S.BUSY, LineBusyMode.TRUNK),
    ("reply_error", S.BUSY, LineBusyMode.TRUNK),   # a forwarded call has no request whose reply could fail
    ("refused", S.BUSY, LineBusyMode.TRUNK),       # nor a request to refuse
])
def test_fewer_trunks_a_forwarded_call_meets_congestion_once(make_sim: MakeSim, form: str, state: S,
                                                              mode: int) -> None:
    """One real channel of four claimed: the incoming call holds it, forwarding it to the RO phone needs
    a second one. The caller sees the congestion form of simulation.trunk_exhaustion exactly once (a
    DISCONNECTED(CONGESTION) call is not also set BUSY, which would be an invalid move), the RO phone
    is never rung, and the PBX goes on working."""
    sim = make_sim(faults=[Fault("fewer_trunks", channels=1)], trunk_exhaustion=form)
    s = DeskSession(sim)
    h_line = s.open("desk")
    _forward(sim, s, h_line)
    watch = DeskSession(sim, "watch")
    watch.open("caller", LineCallPrivilege.MONITOR)
    sim.parties.call("caller", sim.profile.stations[0].business_number)
    watch.pump(10.0)
    moves = [(m.param1, m.param2) for m in watch.messages(LineMsg.CALLSTATE)]
    ends = [(st, md) for st, md in moves if st in (S.BUSY, S.DISCONNECTED)]
    assert ends == [(state, mode)], moves
    assert sim.parties.observe("remote_office").state == "idle"
    assert sim.pbx.trunks_in_use == 1 == sim.pbx.trunks_total
    sim.parties.hang_up("caller")
    watch.pump(1.0)
    assert sim.pbx.trunks_in_use == 0
    s.drop_all()


# ----- releasing a party's line ------------------------------------------------------------------
@pytest.mark.parametrize("how", ["far end leaves", "hangs up"])
def test_party_release_delay(make_sim: MakeSim, how: str) -> None:
    """The RO phone's connected call stays CONNECTED (and its trunk channel taken) for ``seconds`` after it
    ended, whichever side ended it; then it is idle. The other parties are released at once."""
    sim = make_sim(faults=[Fault("party_release_delay", role="remote_office", seconds=15.0)])
    s, _, h_call = _ro(sim)
    if how == "hangs up":
        sim.parties.hang_up("remote_office")
    else:
        s.ok(sim.line_drop(h_call))
    assert sim.parties.wait_for("remote_office", frozenset({"idle"}), 14.0) is None
    assert sim.parties.observe("remote_office").state == "connected" and sim.pbx.trunks_in_use == 1
    assert sim.parties.wait_for("remote_office", frozenset({"idle"}), 1.5) is not None
    assert sim.pbx.trunks_in_use == 0
    s.drop_all()


def test_party_release_delay_names_one_party(make_sim: MakeSim) -> None:
    sim = make_sim(faults=[Fault("party_release_delay", role="target", seconds=15.0)])
    s, _, h_call = _ro(sim)
    s.ok(sim.line_drop(h_call))
    assert sim.parties.wait_for("remote_office", frozenset({"idle"}), 1.0) is not None
    s.drop_all()


# ----- the line goes away ------------------------------------------------------------------------
def test_line_close_after_n_requests(make_sim: MakeSim) -> None:
    sim = make_sim(faults=[Fault("line_close", after_requests=3)])   # initialize, open, make call
    s = DeskSession(sim)
    h_line = s.open("desk")
    req = sim.line_make_call(h_line, sim.profile.dial_string(sim.profile.pixit.remote_office))
    s.pump(5.0)
    closes = s.messages(LineMsg.CLOSE)
    assert [m.device for m in closes] == [h_line]
    assert not [m for m in s.messages(LineMsg.REPLY) if m.param1 == req]
    with pytest.raises(LineError) as info:
        sim.line_make_call(h_line, "0123")
    assert info.value.code == LineErr.INVALLINEHANDLE
    assert sim.live_calls() == []


def test_out_of_service_after_n_requests(make_sim: MakeSim) -> None:
    sim = make_sim(faults=[Fault("out_of_service", after_requests=2)])
    s = DeskSession(sim)
    h_line = s.open("desk", status=False)
    in_service = int(LineDevStatusFlags.CONNECTED | LineDevStatusFlags.INSERVICE)
    assert sim.line_get_line_dev_status(h_line).dev_status_flags == in_service    # a query: not counted
    sim.line_set_status_messages(h_line, ALL_LINE_STATES, 0)
    s.pump(1.0)
    event = s.wait(lambda m: m.msg == LineMsg.LINEDEVSTATE)
    assert event.param1 == LineDevState.OUTOFSERVICE and event.device == h_line
    status = sim.line_get_line_dev_status(h_line)          # LINEDEVSTATUS agrees with the event
    assert status.dev_status_flags == LineDevStatusFlags.CONNECTED and not status.line_features & LineFeature.MAKECALL
    with pytest.raises(LineError) as info:
        sim.line_make_call(h_line, "0123")
    assert info.value.code == LineErr.INVALLINESTATE


def test_reinit_after_n_requests_reaches_every_application(make_sim: MakeSim) -> None:
    sim = make_sim(faults=[Fault("reinit", after_requests=2)])
    a, b = DeskSession(sim, "a"), DeskSession(sim, "b")     # request 1 of each application
    a.open("desk", status=False)                              # a's request 2: the provider reinitialises
    for s in (a, b):
        s.pump(1.0)
        assert [m.param1 for m in s.messages(LineMsg.LINEDEVSTATE)] == [LineDevState.REINIT]


# ----- caps and ordering -------------------------------------------------------------------------
def test_caps_omit_call_features(make_sim: MakeSim) -> None:
    omit = int(CF.BLINDTRANSFER | CF.HOLD)
    sim = make_sim(faults=[Fault("caps_omit_call_features", features=omit)])
    s, _, h_call = _ro(sim)
    caps = sim.line_get_address_caps(s.app, s.device_id("desk"), 0, V2_2)
    assert not caps.call_features & omit
    assert caps.call_features & CF.SETUPTRANSFER
    status = sim.line_get_call_status(h_call)
    assert not status.call_features & omit and status.call_features & CF.DROP
    s.drop_all()


@pytest.mark.parametrize("how", ["fault", "profile"])
def test_events_first(make_sim: MakeSim, how: str) -> None:
    sim = make_sim(faults=[Fault("events_first")]) if how == "fault" else make_sim(reply_order="events_first")
    s = DeskSession(sim)
    h_line = s.open("desk")
    make = sim.line_make_call(h_line, sim.profile.dial_string(sim.profile.pixit.remote_office))
    s.pump(30.0)
    reply = next(m for m in s.log if m.msg == LineMsg.REPLY and m.param1 == make)
    h_call = reply.new_call
    first = next(m for m in s.log if m.device == h_call)
    assert s.log.index(reply) < s.log.index(first), "a new call still replies first"
    hold = sim.line_hold(h_call)
    s.pump(1.0)
    hold_reply = next(i for i, m in enumerate(s.log) if m.msg == LineMsg.REPLY and m.param1 == hold)
    onhold = next(i for i, m in enumerate(s.log) if m.device == h_call and m.param1 == S.ONHOLD
                  and m.msg == LineMsg.CALLSTATE)
    assert onhold < hold_reply, s.describe()
    s.drop_all()


def test_reply_first_by_default(make_sim: MakeSim) -> None:
    sim = make_sim()
    s, _, h_call = _ro(sim)
    hold = sim.line_hold(h_call)
    s.pump(1.0)
    hold_reply = next(i for i, m in enumerate(s.log) if m.msg == LineMsg.REPLY and m.param1 == hold)
    onhold = next(i for i, m in enumerate(s.log) if m.msg == LineMsg.CALLSTATE and m.param1 == S.ONHOLD)
    assert hold_reply < onhold
    s.drop_all()
