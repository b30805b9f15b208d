"""Origination modes, trunk exhaustion, native Remote Office (lineDevSpecific) and caps from the profile."""

from __future__ import annotations

import pytest
from conftest import MakeSim
from helpers import DeskSession

from simulator._constants import LineAddrCapFlags as ACF
from simulator._constants import LineAddressState, LineBusyMode, LineDisconnectMode, LineErr, LineForwardMode, LineMsg
from simulator._constants import LineCallFeature as CF
from simulator._constants import LineCallParamFlags as PF
from simulator._constants import LineCallState as S
from simulator._errors import LineError
from simulator._structs import LineCallParams, LineForward

V2_2 = 0x00020002
LIVE_PROGRESS = {S.DIALTONE, S.DIALING, S.PROCEEDING, S.RINGBACK, S.CONNECTED}


# ----- trunk exhaustion --------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["reply_error", "busy", "disconnected"])
def test_trunk_exhaustion(make_sim: MakeSim, mode: str) -> None:
    sim = make_sim("single-trunk", trunk_exhaustion=mode)
    s = DeskSession(sim)
    h_call = s.connected_call(s.open("desk"), sim.profile.pixit.remote_office)
    assert sim.pbx.trunks_in_use == 1 == sim.pbx.trunks_total
    h_consult = s.ok(sim.line_setup_transfer(h_call)).new_call
    s.state(h_consult, S.DIALTONE)
    req = sim.line_dial(h_consult, sim.profile.dial_string(sim.profile.pixit.target))
    if mode == "reply_error":
        s.failed(req, LineErr.RESOURCEUNAVAIL)
    elif mode == "busy":
        s.ok(req)
        busy = s.state(h_consult, S.BUSY)
        assert busy.param2 == LineBusyMode.TRUNK
    else:
        s.ok(req)
        gone = s.state(h_consult, S.DISCONNECTED)
        assert gone.param2 == LineDisconnectMode.CONGESTION
    assert sim.parties.observe("target").state == "idle"
    assert sim.pbx.trunks_in_use <= 1 and sim.pbx.trunks_peak == 1
    # a second station cannot get out either
    other = s.open("202")
    req = sim.line_make_call(other, sim.profile.dial_string(sim.profile.pixit.target))
    if mode == "reply_error":
        s.failed(req, LineErr.RESOURCEUNAVAIL)
    else:
        h_other = s.ok(req).new_call
        s.state(h_other, S.BUSY if mode == "busy" else S.DISCONNECTED)
    s.drop_all()


def test_trunk_exhaustion_refused_is_a_synchronous_error(make_sim: MakeSim) -> None:
    """trunk_exhaustion: refused - with the one channel taken, lineDial, lineMakeCall and lineBlindTransfer
    to an external number fail up front with LINEERR_RESOURCEUNAVAIL naming the function: no request id is
    used up and no LINE_REPLY follows (MS docs: "a negative error number if an error occurs")."""
    sim = make_sim("single-trunk", trunk_exhaustion="refused")
    s = DeskSession(sim)
    h_call = s.connected_call(s.open("desk"), sim.profile.pixit.remote_office)
    assert sim.pbx.trunks_in_use == 1 == sim.pbx.trunks_total
    setup = sim.line_setup_transfer(h_call)
    h_consult = s.ok(setup).new_call
    s.state(h_consult, S.DIALTONE)
    target = sim.profile.dial_string(sim.profile.pixit.target)
    other = s.open("202")
    refusals = []
    for call in (lambda: sim.line_dial(h_consult, target), lambda: sim.line_make_call(other, target)):
        with pytest.raises(LineError) as info:
            call()
        refusals.append((info.value.code, info.value.function))
    drop = sim.line_drop(h_consult)       # the held RO leg comes back CONNECTED
    s.ok(drop)
    sim.line_deallocate_call(h_consult)
    s.state(h_call, S.CONNECTED)
    with pytest.raises(LineError) as info:
        sim.line_blind_transfer(h_call, target)
    refusals.append((info.value.code, info.value.function))
    assert refusals == [(LineErr.RESOURCEUNAVAIL, fn) for fn in ("lineDial", "lineMakeCall", "lineBlindTransfer")]
    assert not sim.apps[s.app].pending
    last = sim.line_drop(h_call)
    assert (drop, last) == (setup + 1, setup + 2), "a refused request used up a request id"
    s.ok(last)
    s.pump(10.0)
    assert sorted(m.param1 for m in s.messages(LineMsg.REPLY)) == list(range(1, last + 1))   # one each, no more
    assert sim.parties.observe("target").state == "idle" and sim.pbx.trunks_peak == 1
    s.drop_all()


# ----- prompted origination ----------------------------------------------------------------------
@pytest.mark.parametrize("lift", ["go_off_hook", "lineAnswer"])
def test_prompt_offering_waits_for_the_handset(make_sim: MakeSim, lift: str) -> None:
    sim = make_sim("prompted")
    s = DeskSession(sim)
    h_call = s.make_call(s.open("desk"), sim.profile.dial_string(sim.profile.pixit.target))
    s.pump(10.0)
    assert s.states(h_call) == [S.OFFERING]
    assert sim.parties.observe("desk").state == "alerting"
    assert sim.parties.observe("target").state == "idle"
    if lift == "go_off_hook":
        sim.parties.go_off_hook("desk")
    else:
        s.ok(sim.line_answer(h_call))
    s.state(h_call, S.CONNECTED)
    states = s.states(h_call)
    assert states[0] == S.OFFERING and S.DIALING in states and S.RINGBACK in states
    assert sim.parties.observe("desk").off_hook
    s.drop_all()


@pytest.mark.parametrize(("flags", "hands_free"), [(None, False), (0, False), (int(PF.IDLE), False),
                                                   (int(PF.ORIGOFFHOOK), True), (int(PF.ORIGOFFHOOK | PF.IDLE), True)])
def test_origoffhook_needs_flag_prompts_unless_lineMakeCall_asks(make_sim: MakeSim, flags: int | None,
                                                                 hands_free: bool) -> None:
    """simulation.origoffhook_needs_flag: automatic origination only for LINECALLPARAMFLAGS_ORIGOFFHOOK;
    otherwise the desk set is prompted exactly as prompt_offering does (docs/tapi.md §11.1)."""
    sim = make_sim("reference", origoffhook_needs_flag=True)
    s = DeskSession(sim)
    params = None if flags is None else LineCallParams(call_param_flags=flags)
    h_call = s.make_call(s.open("desk"), sim.profile.dial_string(sim.profile.pixit.target), call_params=params)
    s.pump(10.0)
    if hands_free:
        assert s.states(h_call)[:2] == [S.DIALTONE, S.DIALING] and sim.parties.observe("desk").off_hook
    else:
        assert s.states(h_call) == [S.OFFERING]
        assert sim.parties.observe("desk").state == "alerting" and not sim.parties.observe("desk").off_hook
        assert sim.parties.observe("target").state == "idle"
    s.drop_all()


def test_without_origoffhook_needs_flag_no_flag_is_needed(make_sim: MakeSim) -> None:
    sim = make_sim("reference")
    s = DeskSession(sim)
    h_call = s.make_call(s.open("desk"), sim.profile.dial_string(sim.profile.pixit.target))
    s.pump(10.0)
    assert s.states(h_call)[:2] == [S.DIALTONE, S.DIALING]
    s.drop_all()


def test_prompt_offering_times_out_when_nobody_lifts(make_sim: MakeSim) -> None:
    sim = make_sim("prompted")
    s = DeskSession(sim)
    h_call = s.make_call(s.open("desk"), sim.profile.dial_string(sim.profile.pixit.target))
    gone = s.state(h_call, S.DISCONNECTED, timeout=60.0)
    assert gone.time >= sim.profile.simulation.timing.prompt_timeout
    assert s.states(h_call) == [S.OFFERING, S.DISCONNECTED]
    s.drop_all()


def test_prompt_silent_shows_nothing_until_lifted(make_sim: MakeSim) -> None:
    sim = make_sim("prompted", caps={"origination": "prompt_silent"})
    s = DeskSession(sim)
    h_call = s.make_call(s.open("desk"), sim.profile.dial_string(sim.profile.pixit.target))
    s.pump(10.0)
    assert s.states(h_call) == []
    sim.parties.go_off_hook("desk")
    s.state(h_call, S.CONNECTED)
    assert set(s.states(h_call)) <= LIVE_PROGRESS
    s.drop_all()


def test_rejected_origination(make_sim: MakeSim) -> None:
    sim = make_sim("reference", caps={"origination": "reject"})
    s = DeskSession(sim)
    reply = s.failed(sim.line_make_call(s.open("desk"), "0123"), LineErr.OPERATIONFAILED)
    assert reply.new_call == 0 and sim.handles == {} and sim.live_calls() == []
    s.pump(5.0)
    assert s.messages(LineMsg.CALLSTATE) == []


@pytest.mark.parametrize(("origination", "offhook"), [("auto", True), ("prompt_offering", False),
                                                      ("prompt_silent", False), ("reject", False)])
def test_origoffhook_cap_follows_origination(make_sim: MakeSim, origination: str, offhook: bool) -> None:
    sim = make_sim("reference", caps={"origination": origination})
    s = DeskSession(sim)
    caps = sim.line_get_address_caps(s.app, s.device_id("desk"), 0, V2_2)
    assert bool(caps.addr_cap_flags & ACF.ORIGOFFHOOK) == offhook


# ----- native Remote Office ----------------------------------------------------------------------
def test_native_remote_office(make_sim: MakeSim) -> None:
    sim = make_sim("native-ro")
    s = DeskSession(sim)
    native = sim.profile.capabilities.native_remote_office
    ext = sim.line_negotiate_ext_version(s.app, 0, V2_2, 0x00010000, 0x000F0000)
    assert ext == native.ext_version
    plain = s.open("desk")
    with pytest.raises(LineError) as info:
        sim.line_dev_specific(plain, 0, 0, b"RO ON 01711234567")
    assert info.value.code == LineErr.OPERATIONUNAVAIL
    h_line = s.open("desk", ext_version=ext)
    ro = sim.profile.dial_string(sim.profile.pixit.remote_office)
    request = native.activate.replace("{number}", ro).encode()
    # hCall is optional, but a handle that is not a call of this line is refused, not ignored
    with pytest.raises(LineError) as info:
        sim.line_dev_specific(h_line, 0, 1, request)
    assert info.value.code == LineErr.INVALCALLHANDLE and info.value.function == "lineDevSpecific"
    reply = s.ok(sim.line_dev_specific(h_line, 0, 0, request))
    assert reply.data == request
    event = s.wait(lambda m: m.msg == LineMsg.DEVSPECIFIC)
    assert event.device == h_line and (event.param1, event.param2) == (native.event_param1, 1)
    assert not [m for m in s.log if m.msg == LineMsg.DEVSPECIFIC and m.device == plain]
    assert sim.line_get_dev_caps(s.app, 0, V2_2).dev_specific == f"RO={ro}".encode()

    business = sim.profile.stations[0].business_number
    h_call = s.make_call(h_line, sim.profile.dial_string(sim.profile.pixit.target))
    first = sim.parties.wait_for("remote_office", frozenset({"alerting"}), 10.0)
    assert first is not None and first.presented_number == business
    assert sim.parties.observe("target").state == "idle", "the RO phone rings first"
    target = sim.parties.wait_for("target", frozenset({"alerting"}), 30.0)
    assert target is not None and target.presented_number == business
    s.state(h_call, S.CONNECTED)
    assert sim.parties.observe("target").connected_number == sim.profile.pixit.remote_office
    s.ok(sim.line_drop(h_call))
    s.state(h_call, S.IDLE)
    assert sim.live_calls() == [] and sim.pbx.trunks_in_use == 0

    # inbound: the business number reaches the RO phone while active
    sim.parties.call("caller", business)
    assert sim.parties.wait_for("remote_office", frozenset({"alerting"}), 10.0) is not None
    sim.parties.hang_up("caller")
    s.ok(sim.line_dev_specific(h_line, 0, 0, native.deactivate.encode()))
    off = s.wait(lambda m: m.msg == LineMsg.DEVSPECIFIC)
    assert off.param2 == 0
    sim.parties.call("caller", business)
    assert sim.parties.wait_for("desk", frozenset({"alerting"}), 10.0) is not None
    sim.parties.hang_up("caller")
    s.drop_all()


def test_no_native_remote_office_without_the_extension(make_sim: MakeSim) -> None:
    sim = make_sim("reference")
    s = DeskSession(sim)
    with pytest.raises(LineError) as info:
        sim.line_negotiate_ext_version(s.app, 0, V2_2, 0x00010000, 0x000F0000)
    assert info.value.code == LineErr.OPERATIONUNAVAIL
    with pytest.raises(LineError) as info:
        s.open("desk", ext_version=0x000C0000)
    assert info.value.code == LineErr.INCOMPATIBLEEXTVERSION


# ----- caps from the profile ---------------------------------------------------------------------
@pytest.mark.parametrize("name", ["reference", "blind-only", "consult-ringing", "consult-connected-only",
                                  "forward-no-query", "native-ro", "prompted", "single-trunk"])
def test_address_caps_follow_the_profile(make_sim: MakeSim, name: str) -> None:
    sim = make_sim(name)
    s = DeskSession(sim)
    caps = sim.line_get_address_caps(s.app, s.device_id("desk"), 0, V2_2)
    prof = sim.profile.capabilities
    fwd = prof.forwarding
    assert bool(caps.call_features & CF.BLINDTRANSFER) == prof.transfer.blind
    assert bool(caps.call_features & CF.SETUPTRANSFER) == prof.transfer.consultation
    assert bool(caps.call_features & CF.COMPLETETRANSF) == prof.transfer.consultation
    assert bool(caps.transfer_modes) == prof.transfer.consultation
    assert bool(caps.addr_cap_flags & ACF.FWDSTATUSVALID) == bool(fwd and fwd.query)
    assert bool(caps.address_states & LineAddressState.FORWARD) == bool(fwd and fwd.status_events)
    assert caps.max_forward_entries == (fwd.max_entries if fwd else 0)
    assert bool(caps.addr_cap_flags & ACF.ORIGOFFHOOK) == (prof.origination == "auto")


def _features(sim: object, h_call: int) -> int:
    return sim.line_get_call_status(h_call).call_features  # type: ignore[attr-defined, no-any-return]


@pytest.mark.parametrize("name", ["reference", "consult-connected-only"])
def test_per_state_call_features(make_sim: MakeSim, name: str) -> None:
    sim = make_sim(name)
    s = DeskSession(sim)
    complete_in = sim.profile.capabilities.transfer.complete_in
    h_call = s.make_call(s.open("desk"), sim.profile.dial_string(sim.profile.pixit.remote_office))
    s.state(h_call, S.DIALTONE)
    assert _features(sim, h_call) & (CF.DIAL | CF.DROP) == CF.DIAL | CF.DROP
    s.state(h_call, S.CONNECTED)
    f = _features(sim, h_call)
    assert f & CF.HOLD and f & CF.SETUPTRANSFER and not f & CF.ANSWER
    assert bool(f & CF.BLINDTRANSFER) == sim.profile.capabilities.transfer.blind
    h_consult = s.ok(sim.line_setup_transfer(h_call)).new_call
    s.state(h_consult, S.DIALTONE)
    assert not _features(sim, h_call) & CF.COMPLETETRANSF
    assert not _features(sim, h_consult) & CF.SETUPTRANSFER, "transfers do not nest"
    s.ok(sim.line_dial(h_consult, sim.profile.dial_string(sim.profile.pixit.target)))
    s.state(h_consult, S.RINGBACK)
    assert bool(_features(sim, h_call) & CF.COMPLETETRANSF) == ("ringback" in complete_in)
    s.state(h_consult, S.CONNECTED)
    assert _features(sim, h_call) & CF.COMPLETETRANSF
    assert _features(sim, h_call) & CF.UNHOLD
    s.drop_all()
    assert _features(sim, s.make_call(s.open("target"), None)) & CF.DIAL  # an external party's line too
    s.drop_all()


def test_offering_features(make_sim: MakeSim) -> None:
    sim = make_sim("reference")
    s = DeskSession(sim)
    s.open("desk")
    sim.parties.call("caller", sim.profile.stations[0].business_number)
    h_call = s.wait(lambda m: m.msg == LineMsg.CALLSTATE).device
    f = _features(sim, h_call)
    assert f & CF.ANSWER and f & CF.REDIRECT and f & CF.DROP and not f & CF.HOLD
    s.drop_all()


def test_single_trunk_inbound_reaches_the_desk_but_cannot_be_forwarded_out(make_sim: MakeSim) -> None:
    """The caller's own channel is enough to reach a station; forwarding it out needs a second one."""
    sim = make_sim("single-trunk")
    s = DeskSession(sim)
    h_line = s.open("desk")
    business = sim.profile.stations[0].business_number
    sim.parties.call("caller", business)
    assert sim.parties.wait_for("desk", frozenset({"alerting"}), 10.0) is not None
    assert sim.pbx.trunks_in_use == 1
    sim.parties.hang_up("caller")
    ro = sim.profile.dial_string(sim.profile.pixit.remote_office)
    s.ok(sim.line_forward(h_line, False, 0, (LineForward(forward_mode=LineForwardMode.UNCOND, dest_address=ro),)))
    sim.parties.call("caller", business)
    assert sim.parties.wait_for("caller", frozenset({"busy"}), 10.0) is not None
    assert sim.parties.observe("remote_office").state == "idle"
    sim.parties.hang_up("caller")
    # a party line cannot call in while the only channel is taken
    h_call = s.connected_call(h_line, sim.profile.pixit.target)
    s.failed(sim.line_make_call(s.open("caller"), business), LineErr.RESOURCEUNAVAIL)
    s.ok(sim.line_drop(h_call))
    s.drop_all()
