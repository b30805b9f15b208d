"""The bridge round trip: every Backend method through ``BridgeBackend`` gives what ``SimBackend`` gives.

The served simulator runs on a virtual clock (``mode="virtual"``), so a scenario played through the
bridge and the same scenario played in-process on a fresh simulator must produce identical results:
the same messages in the same order, the same structures, the same LINEERR codes.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conformance._registry import open_backend
from conformance.backend import Backend, PartyControl, PartyView
from conformance.backends.bridge import BridgeBackend, parse_target
from conformance.backends.sim import SimBackend
from conformance.bridge.protocol import METHODS
from conformance.bridge.server import BridgeServer, NotifyingWallClock, ServerThread
from simulator._constants import LineCallState, LineErr, LineForwardMode, LineMsg, LineTransferMode
from simulator._errors import BridgeError, LineError, TapiError
from simulator._messages import LineMessage
from simulator._structs import LineCallParams, LineForward

REFERENCE = Path(__file__).resolve().parent.parent / "profiles" / "reference.yaml"
NATIVE = REFERENCE.with_name("native-ro.yaml")
V2_2 = 0x00020002
RO, TARGET = "001711234567", "00301234567"


@pytest.fixture
def served() -> Iterator[ServerThread]:
    with ServerThread(BridgeServer(SimBackend(REFERENCE), mode="virtual")) as st:
        yield st


@pytest.fixture
def client(served: ServerThread) -> Iterator[BridgeBackend]:
    be = BridgeBackend.from_spec(served.url, None)
    yield be
    be.close()


class Recorder:
    """Wraps a backend; records every call's name and outcome (result or LINEERR) for comparison."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.log: list[tuple[str, Any]] = []
        self.used: set[str] = set()

    def __call__(self, method: str, *args: Any) -> Any:
        self.used.add(method)
        target = self.backend
        for part in method.replace("party.", "parties.").split("."):
            target = getattr(target, part)
        try:
            result = target(*args)
        except LineError as exc:
            self.log.append((method, ("LINEERR", exc.code, exc.function)))
            return None
        except TapiError as exc:
            self.log.append((method, ("TapiError", type(exc).__name__)))
            return None
        if isinstance(result, PartyView) or type(result).__name__ == "PartyView":
            result = (result.role, result.state, result.presented_number, result.reason,
                      result.redirecting_number, result.connected_number, result.off_hook, result.presentation,
                      result.presented_name)
        self.log.append((method, result))
        return result

    def drain(self, app: int, timeout: float = 2.0) -> list[LineMessage]:
        got = []
        while (msg := self("line_get_message", app, timeout)) is not None:
            got.append(msg)
        return got

    def reply(self, app: int, req: int) -> LineMessage:
        for msg in self.drain(app):
            if msg.msg == LineMsg.REPLY and msg.request_id == req:
                return msg
        raise AssertionError(f"no LINE_REPLY for {req}")


def scenario(r: Recorder) -> None:
    """Touches every bridge method, successes and failures alike."""
    r("info")
    r("now")
    app, _n, _v = r("line_initialize_ex", "bridge-test", V2_2)
    r("line_initialize_ex", "too-old", 0x00010000)                      # INCOMPATIBLEAPIVERSION
    r("line_negotiate_api_version", app, 0, 0x00010004, 0x00030001)
    r("line_negotiate_ext_version", app, 0, V2_2, 1, 2)                  # OPERATIONUNAVAIL here
    r("line_get_dev_caps", app, 0, V2_2, 0)
    r("line_get_address_caps", app, 0, 0, V2_2, 0)
    r("line_get_address_caps", app, 0, 7, V2_2, 0)                      # INVALADDRESSID
    line = r("line_open", app, 0, V2_2, 0, 42, 6, 4)
    r("line_set_status_messages", line, 0, 0x3FF)
    r("line_set_status_messages", line, 0, 0)
    req = r("line_make_call", line, RO, 0, LineCallParams(comment="through the bridge"))
    call = r.reply(app, req).new_call
    r("party.wait_for", "remote_office", frozenset({"alerting", "connected"}), 30.0)
    r("party.answer", "remote_office")
    r.drain(app)
    r("line_get_call_info", call)
    r("line_get_call_status", call)
    r("line_set_call_privilege", call, 0x4)                              # already OWNER: no change
    r("line_set_call_privilege", call, 0x6)                              # INVALCALLPRIVILEGE
    r("line_get_address_status", line, 0)
    r("line_get_line_dev_status", line)                                  # one active call, in service
    r.reply(app, r("line_hold", call))
    r.reply(app, r("line_unhold", call))
    consult = r.reply(app, r("line_setup_transfer", call, None)).new_call
    r.reply(app, r("line_dial", consult, TARGET, 0))
    r("party.observe", "target")
    r.drain(app)
    r("line_swap_hold", call, consult)
    r.drain(app)
    r.reply(app, r("line_complete_transfer", call, consult, int(LineTransferMode.TRANSFER)))
    r("party.answer", "target")
    r("party.observe", "target")
    r("line_answer", call)                                               # INVALCALLHANDLE or state
    r("line_redirect", call, TARGET, 0)
    r("line_blind_transfer", call, TARGET, 0)
    r("line_drop", call)
    r.drain(app)
    for h in (call, consult):
        r("line_deallocate_call", h)
    r("line_deallocate_call", 0xDEAD)                                     # INVALCALLHANDLE
    r("party.hang_up", "target")
    r("party.hang_up", "remote_office")
    fwd = (LineForward(forward_mode=int(LineForwardMode.UNCOND), dest_address=TARGET),)
    r.reply(app, r("line_forward", line, True, 0, fwd, 3))
    r("line_get_address_status", line, 0)
    r.reply(app, r("line_forward", line, True, 0, None, 0))
    r("line_dev_specific", line, 0, 0, b"\x00\x01\xfe\xff")
    r.drain(app)
    r("party.call", "caller", "201")
    r("party.wait_for", "desk", frozenset({"alerting"}), 30.0)
    r("party.reject", "desk")
    r.drain(app)
    r("party.go_off_hook", "desk")
    r("party.observe", "desk")
    r("party.hang_up", "desk")
    r("party.observe", "nobody-at-all")                                 # TapiError: unknown party
    r("line_close", line)
    r("line_close", line)                                                # INVALLINEHANDLE
    r("line_get_line_dev_status", line)                                  # INVALLINEHANDLE
    r("line_shutdown", app)
    r("line_get_message", app, 0.0)                                      # INVALAPPHANDLE
    r("now")


def test_every_method_round_trips_identically(client: BridgeBackend) -> None:
    direct, bridged = Recorder(SimBackend(REFERENCE)), Recorder(client)
    scenario(direct)
    scenario(bridged)
    served_by_the_server = {"session.reset", "server.stats", "line_subscribe", "line_unsubscribe"}  # not Backend
    assert bridged.used == set(METHODS) - served_by_the_server, "the scenario must touch every bridge method"
    assert len(bridged.log) == len(direct.log)
    for (m1, r1), (m2, r2) in zip(direct.log, bridged.log, strict=True):
        assert m1 == m2
        if m1 == "info":
            assert r2["backend"] == "bridge" and r2["served_backend"] == "sim" and r2["profile"] == r1["profile"]
        else:
            assert r2 == r1, m1
    codes = {r[1] for _, r in bridged.log if isinstance(r, tuple) and r and r[0] == "LINEERR"}
    assert {int(LineErr.INCOMPATIBLEAPIVERSION), int(LineErr.INVALCALLHANDLE),
            int(LineErr.INVALAPPHANDLE), int(LineErr.INVALLINEHANDLE)} <= codes


def test_messages_keep_their_types_and_times(client: BridgeBackend) -> None:
    app, _, _ = client.line_initialize_ex("types")
    line = client.line_open(app, 0, V2_2)
    req = client.line_make_call(line, RO)
    reply = client.line_get_message(app, 5)
    assert reply is not None and reply.msg is LineMsg.REPLY and reply.request_id == req and reply.result == 0
    assert reply.new_call > 0 and isinstance(reply.data, bytes)
    state = client.line_get_message(app, 5)
    assert state is not None and state.msg is LineMsg.CALLSTATE and state.device == reply.new_call
    assert state.param1 == LineCallState.DIALTONE and state.time >= reply.time


def test_line_error_is_raised_with_code_function_and_detail(client: BridgeBackend) -> None:
    with pytest.raises(LineError) as info:
        client.line_drop(0x1234)
    assert info.value.code == LineErr.INVALCALLHANDLE
    assert info.value.function == "lineDrop" and "0x00001234" in info.value.detail
    assert isinstance(info.value, LineError) and not isinstance(info.value, BridgeError)


def test_virtual_time_moves_only_when_a_client_waits(client: BridgeBackend) -> None:
    app, _, _ = client.line_initialize_ex("clock")
    t0 = client.now()
    assert client.line_get_message(app, 30.0) is None
    assert client.now() == pytest.approx(t0 + 30.0)


def test_party_control_is_a_party_control(client: BridgeBackend, served: ServerThread) -> None:
    assert isinstance(client.parties, PartyControl) and isinstance(client, Backend)
    client.parties.call("caller", "201")
    view = client.parties.wait_for("desk", frozenset({"alerting"}), 10)
    assert view is not None and view.state == "alerting" and view.presented_number
    assert client.parties.wait_for("desk", frozenset({"busy"}), 1) is None
    client.parties.hang_up("caller")
    assert served.call(lambda: served.server.backend.parties.observe("desk").state) == "idle"


def test_every_presentation_crosses_the_bridge_and_no_other() -> None:
    """PartyView.presentation and presented_name travel as themselves (docs/bridge.md Shapes); a value
    the protocol does not define is a malformed PartyView, never guessed."""
    from conformance.backends.bridge import _party_view
    from conformance.bridge.protocol import encode
    from simulator._partyview import PRESENTATIONS

    for presentation in PRESENTATIONS:
        view = PartyView("target", "alerting", presentation=presentation, presented_name="Office 201")
        assert _party_view(encode(view)) == view
    with pytest.raises(BridgeError, match="malformed PartyView"):
        _party_view({"role": "target", "state": "alerting", "presentation": "name"})


def test_applications_of_one_connection_are_invisible_to_another(served: ServerThread) -> None:
    a = BridgeBackend.from_spec(served.url, None)
    b = BridgeBackend.from_spec(served.url, None)
    try:
        app, _, _ = a.line_initialize_ex("a")
        with pytest.raises(LineError) as info:
            b.line_shutdown(app)
        assert info.value.code == LineErr.INVALAPPHANDLE
        a.line_shutdown(app)
    finally:
        a.close()
        b.close()


def test_spec_strings_and_registry(served: ServerThread) -> None:
    assert parse_target("h:1?token=x&timeout=2") == ("ws://h:1/", {"token": "x", "timeout": "2"})
    assert parse_target("[::1]:7755")[0] == "ws://[::1]:7755/"
    with pytest.raises(BridgeError):
        parse_target("no-port")
    be = open_backend(f"bridge://{served.url}?timeout=5", None)
    try:
        assert isinstance(be, BridgeBackend) and be.call_timeout == 5.0 and be.info()["backend"] == "bridge"
    finally:
        be.close()


def test_nothing_listening_is_a_bridge_error_not_a_lineerr() -> None:
    with pytest.raises(BridgeError, match="cannot connect"):
        BridgeBackend("ws://127.0.0.1:9/", connect_timeout=2)


def test_a_server_that_goes_away_is_a_bridge_error() -> None:
    st = ServerThread(BridgeServer(SimBackend(REFERENCE), mode="virtual", close_timeout=0.1)).start()
    be = BridgeBackend.from_spec(st.url, None)
    st.stop()
    with pytest.raises(BridgeError):
        be.now()
    be.close()


def test_native_profile_dev_specific_bytes_travel_both_ways() -> None:
    direct = SimBackend(NATIVE)
    with ServerThread(BridgeServer(SimBackend(NATIVE), mode="virtual")) as st:
        be = BridgeBackend.from_spec(st.url, None)
        results = []
        for backend in (direct, be):
            app, _, _ = backend.line_initialize_ex("native")
            ext = backend.line_negotiate_ext_version(app, 0, V2_2, 0, 0xFFFFFFFF)
            line = backend.line_open(app, 0, V2_2, ext)
            req = backend.line_dev_specific(line, 0, 0, b"RO ON 01711234567\x00\x00\x00")
            msgs = []
            while (m := backend.line_get_message(app, 2)) is not None:
                msgs.append(m)
            results.append((ext, req, msgs))
        be.close()
    assert results[0] == results[1]
    assert any(m.msg == LineMsg.REPLY for m in results[1][2])


def test_wall_mode_waits_do_not_block_other_clients_and_wake_on_events() -> None:
    with ServerThread(BridgeServer(SimBackend(REFERENCE, NotifyingWallClock()), mode="wall")) as st:
        a = BridgeBackend.from_spec(st.url + "?session=shared", None)
        b = BridgeBackend.from_spec(st.url + "?session=shared", None)
        try:
            app_a, _, _ = a.line_initialize_ex("a")
            a.line_open(app_a, 1, V2_2)                    # station 202
            app_b, _, _ = b.line_initialize_ex("b")
            got: list[tuple[LineMessage | None, float]] = []
            started = time.monotonic()
            waiter = threading.Thread(target=lambda: got.append((a.line_get_message(app_a, 10.0),
                                                                 time.monotonic() - started)))
            waiter.start()
            line_b = b.line_open(app_b, 0, V2_2)           # answered while a waits
            req = b.line_make_call(line_b, RO)
            reply = b.line_get_message(app_b, 2.0)         # the clock driver fired the reply in real time
            assert reply is not None and reply.msg is LineMsg.REPLY and reply.request_id == req
            assert waiter.is_alive()
            b.parties.call("caller", "202")                # wakes a's wait long before its 10 s
            waiter.join(5)
            msg, elapsed = got[0]
            assert msg is not None and msg.msg in (LineMsg.APPNEWCALL, LineMsg.CALLSTATE) and elapsed < 5
        finally:
            a.close()
            b.close()


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_the_javascript_example_client_runs(served: ServerThread) -> None:
    script = REFERENCE.parent.parent / "examples" / "bridge" / "client.mjs"
    out = subprocess.run(["node", "--experimental-websocket", str(script), f"ws://{served.url}/"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "LINE_REPLY" in out.stdout and "LINECALLSTATE" not in out.stderr
    assert '"state":"connected"' in out.stdout
    assert "LINEERR_INVALCALLHANDLE (code -32000)" in out.stdout
    assert served.call(lambda: len(served.server.backend.apps)) == 0
