"""A lost LINE_REPLY of a call-creating request: the application never learns the handle (TAPI §3:
nothing for a new call before its reply), so none of that call's events may reach it."""

from __future__ import annotations

from conftest import MakeSim

from simulator._constants import LineMsg
from simulator._profile_model import Fault


def test_lost_make_call_reply_hides_the_new_call_entirely(make_sim: MakeSim) -> None:
    sim = make_sim("reference", faults=[Fault(kind="lost_reply", function="lineMakeCall")])
    app, _, _ = sim.line_initialize_ex("lost reply")
    line = sim.line_open(app, 0, 0x00020002)
    sim.line_make_call(line, "001711234567")
    messages = []
    while (msg := sim.line_get_message(app, 10.0)) is not None:
        messages.append(msg)
    assert not [m for m in messages if m.msg in (LineMsg.REPLY, LineMsg.CALLSTATE, LineMsg.CALLINFO)]
    assert not sim.handles                                     # no handle the app was never told about
    assert sim.parties.observe("remote_office").state == "connected"   # the switch did place the call
    sim.parties.hang_up("remote_office")
    sim.clock.advance(1.0)
    assert not sim.live_calls() and sim.model_count() == 0     # nobody owns it: the switch clears it
    sim.line_shutdown(app)


def test_lost_setup_transfer_reply_hides_the_consultation_call(make_sim: MakeSim) -> None:
    sim = make_sim("reference", faults=[Fault(kind="lost_reply", function="lineSetupTransfer")])
    app, _, _ = sim.line_initialize_ex("lost reply")
    line = sim.line_open(app, 0, 0x00020002)
    req = sim.line_make_call(line, "001711234567")
    h_call = 0
    while (msg := sim.line_get_message(app, 10.0)) is not None:
        if msg.msg == LineMsg.REPLY and msg.request_id == req:
            h_call = msg.new_call
    sim.line_setup_transfer(h_call)
    seen = {m.device for m in iter(lambda: sim.line_get_message(app, 5.0), None) if m.msg == LineMsg.CALLSTATE}
    assert seen <= {h_call}                                    # only the held call's own events
    assert set(sim.handles) == {h_call}
    sim.line_drop(h_call)
    sim.clock.advance(1.0)
    sim.line_deallocate_call(h_call)
    sim.parties.hang_up("remote_office")
    sim.clock.advance(1.0)
    sim.line_shutdown(app)
