"""Push events on the bridge (``line_subscribe``; docs/bridge.md "Push events"), with a raw WebSocket client.

* a subscribed application's messages arrive as ``line_message`` notifications, each request's reply
  before any message it caused (a client knows the request id before its LINE_REPLY: docs/tapi.md §4);
* messages queued before the subscription are pushed at once; handles learnt from pushes are usable;
* an inbound call is pushed as LINE_APPNEWCALL before any LINE_CALLSTATE of that call;
* refused: line_get_message while subscribed, a virtual-clock server, another connection's application,
  a subscription while a line_get_message waits on the application;
* unsubscribe, line_shutdown and closing the connection end it; ``server.stats`` shows nothing left.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from bridge_client import RawClient, sim_server

from conformance.bridge import protocol as P
from conformance.bridge.server import ServerThread
from simulator._constants import LineCallState, LineErr

RO = "001711234567"       # PIXIT remote_office as dialled (trunk prefix 0)
DESK = "201"
V2_2 = 0x00020002


@pytest.fixture
def wall() -> Iterator[ServerThread]:
    st = sim_server("wall")
    yield st
    st.stop()


class Client(RawClient):
    """A raw JSON-RPC client that keeps every frame in arrival order (replies and notifications)."""

    def __init__(self, st: ServerThread) -> None:
        super().__init__(st)
        self.frames: list[dict[str, Any]] = []      # everything received, in order
        self.seen = 0                                # frames[:seen] were already looked at by next_push

    def _recv(self, timeout: float) -> dict[str, Any]:
        got = super()._recv(timeout)
        self.frames.append(got)
        return got

    def next_push(self, pred: Any = lambda m: True, timeout: float = 15.0) -> dict[str, Any]:
        """The next pushed LineMessage (params of a line_message notification) matching ``pred``."""
        deadline = time.monotonic() + timeout
        while True:
            while self.seen < len(self.frames):
                frame = self.frames[self.seen]
                self.seen += 1
                if frame.get("method") == "line_message" and pred(frame["params"]):
                    return dict(frame["params"])
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no matching line_message within {timeout} s; frames: {self.frames[-10:]}")
            self._recv(remaining)

    def open_desk(self) -> tuple[int, int]:
        app = int(self.call("line_initialize_ex", app_name="push")["h_line_app"])
        line = int(self.call("line_open", h_line_app=app, device_id=0, api_version=V2_2))
        return app, line

    def close(self) -> None:
        self.ws.close()


def _check_order(frames: list[dict[str, Any]]) -> None:
    """Every pushed LINE_REPLY names a request id whose reply this client had already received."""
    known: set[int] = set()
    for frame in frames:
        if "id" in frame and isinstance(frame.get("result"), int):
            known.add(frame["result"])
        params = frame.get("params") or {}
        if frame.get("method") == "line_message" and params.get("msg_name") == "LINE_REPLY":
            assert params["param1"] in known, f"LINE_REPLY of request {params['param1']} before its reply: {frames}"


def _stats(st: ServerThread) -> dict[str, int]:
    return dict(st.call(st.server.stats))


def _until(st: ServerThread, key: str, want: int, timeout: float = 5.0) -> int:
    deadline = time.monotonic() + timeout
    while (got := _stats(st)[key]) != want and time.monotonic() < deadline:
        time.sleep(0.02)
    return got


def test_a_call_is_pushed_reply_first_then_its_states(wall: ServerThread) -> None:
    c = Client(wall)
    app, line = c.open_desk()
    assert c.call("line_subscribe", h_line_app=app) is None
    assert _stats(wall)["subscriptions"] == 1
    req = c.call("line_make_call", h_line=line, dest_address=RO)
    assert isinstance(req, int) and req > 0
    reply = c.next_push(lambda m: m["msg_name"] == "LINE_REPLY" and m["param1"] == req)
    assert reply["h_line_app"] == app and reply["param2"] == 0 and reply["new_call"], reply
    h_call = reply["new_call"]
    states = [c.next_push(lambda m: m["msg_name"] == "LINE_CALLSTATE" and m["device"] == h_call)["param1"]]
    c.call("party.wait_for", role="remote_office", states=["alerting"], timeout=10)
    c.call("party.answer", role="remote_office")
    while states[-1] != LineCallState.CONNECTED:
        states.append(c.next_push(lambda m: m["msg_name"] == "LINE_CALLSTATE" and m["device"] == h_call)["param1"])
    assert states[0] != LineCallState.CONNECTED, states   # the states before the answer were pushed too
    # the handle learnt from pushes is this connection's: it may drop the call
    drop = c.call("line_drop", h_call=h_call)
    done = c.next_push(lambda m: m["msg_name"] == "LINE_REPLY" and m["param1"] == drop)
    assert done["param2"] == 0, done
    _check_order(c.frames)
    c.close()


def test_messages_queued_before_the_subscription_are_pushed_at_once(wall: ServerThread) -> None:
    c = Client(wall)
    app, line = c.open_desk()
    req = c.call("line_make_call", h_line=line, dest_address=RO)
    deadline = time.monotonic() + 5
    while not wall.call(lambda: len(wall.server.shared.backend.apps[app].queue)) and time.monotonic() < deadline:
        time.sleep(0.02)
    n_before = len(c.frames)
    assert c.call("line_subscribe", h_line_app=app) is None
    sub_reply = next(i for i, f in enumerate(c.frames) if i >= n_before and "id" in f)
    reply = c.next_push(lambda m: m["msg_name"] == "LINE_REPLY" and m["param1"] == req, timeout=2)
    first_push = next(i for i, f in enumerate(c.frames) if f.get("method") == "line_message")
    assert first_push > sub_reply, "a push came before line_subscribe's own reply"
    assert reply["new_call"]
    c.close()


def test_an_inbound_call_is_pushed_as_appnewcall_before_its_call_states(wall: ServerThread) -> None:
    c = Client(wall)
    app, _line = c.open_desk()
    c.call("line_subscribe", h_line_app=app)
    c.call("party.call", role="caller", number=DESK)
    new = c.next_push(lambda m: m["msg_name"] in ("LINE_APPNEWCALL", "LINE_CALLSTATE"))
    assert new["msg_name"] == "LINE_APPNEWCALL", new
    h_call = new["param2"]
    offering = c.next_push(lambda m: m["msg_name"] == "LINE_CALLSTATE" and m["device"] == h_call)
    assert offering["param1"] == LineCallState.OFFERING, offering
    req = c.call("line_answer", h_call=h_call)   # learnt from the push: accepted
    assert c.next_push(lambda m: m["msg_name"] == "LINE_REPLY" and m["param1"] == req)["param2"] == 0
    c.call("line_drop", h_call=h_call)
    c.close()


def test_line_get_message_is_refused_while_subscribed_and_works_again_after(wall: ServerThread) -> None:
    c = Client(wall)
    app, _line = c.open_desk()
    c.call("line_subscribe", h_line_app=app)
    err = c.error("line_get_message", h_line_app=app, timeout=0)
    assert err["code"] == P.INVALID_PARAMS and "subscribed" in err["message"], err
    assert c.call("line_unsubscribe", h_line_app=app) is None
    assert c.call("line_unsubscribe", h_line_app=app) is None       # idempotent
    assert _stats(wall)["subscriptions"] == 0
    c.call("party.call", role="caller", number=DESK)
    deadline = time.monotonic() + 10
    msg = None
    while msg is None and time.monotonic() < deadline:
        msg = c.call("line_get_message", h_line_app=app, timeout=1)
    assert msg is not None and msg["msg_name"] == "LINE_APPNEWCALL", msg   # polled, not pushed
    assert not any(f.get("method") == "line_message" for f in c.frames)
    c.close()


def test_a_virtual_clock_server_refuses_subscriptions() -> None:
    st = sim_server("virtual")
    try:
        c = Client(st)
        app, _line = c.open_desk()
        err = c.error("line_subscribe", h_line_app=app)
        assert err["code"] == P.INVALID_PARAMS and "wall-clock server (--clock wall)" in err["message"], err
        c.close()
    finally:
        st.stop()


def test_another_connections_application_is_refused(wall: ServerThread) -> None:
    a, b = Client(wall), Client(wall)
    app_a, _ = a.open_desk()
    err = b.error("line_subscribe", h_line_app=app_a)
    assert err["code"] == P.LINE_ERROR and err["data"]["lineerr"] == LineErr.INVALAPPHANDLE, err
    err = b.error("line_unsubscribe", h_line_app=app_a)
    assert err["data"]["lineerr"] == LineErr.INVALAPPHANDLE, err
    assert _stats(wall)["subscriptions"] == 0
    a.close()
    b.close()


def test_a_subscription_is_refused_while_a_line_get_message_waits(wall: ServerThread) -> None:
    c = Client(wall)
    app, _line = c.open_desk()
    rid = next(c.ids)
    c.ws.send(json.dumps({"jsonrpc": "2.0", "id": rid, "method": "line_get_message",
                          "params": {"h_line_app": app, "timeout": 30}}))
    assert _until(wall, "parked", 1) == 1
    err = c.error("line_subscribe", h_line_app=app)
    assert err["code"] == P.INVALID_PARAMS and "waiting" in err["message"], err
    c.close()


def test_shutdown_and_close_end_subscriptions_and_leave_nothing_behind(wall: ServerThread) -> None:
    base = _stats(wall)
    c = Client(wall)
    app, _line = c.open_desk()
    c.call("line_subscribe", h_line_app=app)
    c.call("line_shutdown", h_line_app=app)
    assert _stats(wall)["subscriptions"] == 0
    app2, line2 = c.open_desk()
    c.call("line_subscribe", h_line_app=app2)
    c.call("line_make_call", h_line=line2, dest_address=RO)
    c.next_push(lambda m: m["msg_name"] == "LINE_CALLSTATE")
    assert _stats(wall)["live_calls"] == 1
    c.close()   # mid-call, subscribed: the server shuts the app down and stops its pusher
    assert _until(wall, "connections", 0) == 0
    after = _stats(wall)
    assert after["subscriptions"] == 0 and after["apps"] == base["apps"] == 0, after
    assert _until(wall, "live_calls", 0) == 0
    assert _until(wall, "tasks", base["tasks"]) == base["tasks"], (base, _stats(wall))
