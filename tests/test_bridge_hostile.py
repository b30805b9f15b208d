"""Hostile input to the bridge server: every bad frame gets a JSON-RPC error, the server stays up, and a
client that vanishes leaves no application, call or state-machine model behind."""

from __future__ import annotations

import inspect
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from conformance import cli
from conformance.backends.bridge import BridgeBackend
from conformance.backends.sim import SimBackend
from conformance.bridge import protocol as P
from conformance.bridge.server import BridgeServer, NotifyingWallClock, ServerThread
from conformance.cli._serve import is_loopback, parse_listen
from simulator._errors import BridgeError

REFERENCE = Path(__file__).resolve().parent.parent / "profiles" / "reference.yaml"
RO = "001711234567"
# websockets >= 16 wants connect() as a context manager unless told legacy=True; older ones lack the flag
_LEGACY: dict[str, Any] = {"legacy": True} if "legacy" in inspect.signature(connect).parameters else {}


def _server(**kw: Any) -> ServerThread:
    kw.setdefault("mode", "virtual")
    backend = SimBackend(REFERENCE, NotifyingWallClock() if kw["mode"] == "wall" else None)
    return ServerThread(BridgeServer(backend, **kw)).start()


@pytest.fixture
def served() -> Iterator[ServerThread]:
    st = _server(max_frame=64 * 1024, max_apps=4)
    yield st
    st.stop()


def _raw(st: ServerThread, path: str = "/", headers: dict[str, str] | None = None) -> ClientConnection:
    return connect(f"ws://{st.url}{path}", additional_headers=headers, open_timeout=5, max_size=None,
                   **_LEGACY)


def _send(ws: ClientConnection, frame: Any) -> Any:
    ws.send(frame if isinstance(frame, str | bytes) else json.dumps(frame))
    return json.loads(ws.recv(timeout=5))


def _req(method: str, params: Any = None, rid: Any = 1) -> dict[str, Any]:
    out: dict[str, Any] = {"jsonrpc": "2.0", "id": rid, "method": method}
    if params is not None:
        out["params"] = params
    return out


def _alive(st: ServerThread) -> None:
    """The server still answers a fresh connection (and has no leftovers from the test)."""
    with _raw(st) as ws:
        assert isinstance(_send(ws, _req("now"))["result"], float)


def _error(reply: dict[str, Any], code: int, rid: Any = 1) -> dict[str, Any]:
    assert reply["jsonrpc"] == "2.0" and reply["id"] == rid and "result" not in reply, reply
    assert reply["error"]["code"] == code, reply
    return dict(reply["error"])


# ----- malformed frames -> -32700 ---------------------------------------------------------------------
@pytest.mark.parametrize("frame", [
    "{not json", "", "\x00\x01", '{"jsonrpc": "2.0", "id": 1, "method": "now"', "[" * 200_00,
    '{"jsonrpc": "2.0", "id": 1, "method": "now", "params": {"x": NaN}}',
    '{"jsonrpc": "2.0", "id": 1, "method": "now", "params": [Infinity]}',
    '{"jsonrpc": "2.0", "id": ' + "9" * 5000 + ', "method": "now"}',
    b"\xff\xfe not utf-8",
], ids=["truncated-object", "empty", "control-chars", "unterminated", "deep-nesting", "NaN", "Infinity",
        "5000-digit-int", "not-utf8-binary"])
def test_malformed_frame_is_a_parse_error(served: ServerThread, frame: str | bytes) -> None:
    with _raw(served) as ws:
        _error(_send(ws, frame), P.PARSE_ERROR, rid=None)
        assert "result" in _send(ws, _req("now"))          # same connection still usable
    _alive(served)


# ----- not a JSON-RPC 2.0 request -> -32600 -----------------------------------------------------------
@pytest.mark.parametrize(("frame", "rid"), [
    ({"jsonrpc": "1.0", "id": 7, "method": "now"}, 7),
    ({"id": 7, "method": "now"}, 7),
    ({"jsonrpc": 2.0, "id": 7, "method": "now"}, 7),
    ({"jsonrpc": "2.0", "id": 7, "method": 12}, 7),
    ({"jsonrpc": "2.0", "id": 7}, 7),
    ({"jsonrpc": "2.0", "id": {"nested": 1}, "method": "now"}, None),
    ({"jsonrpc": "2.0", "id": True, "method": "now"}, None),
    ({"jsonrpc": "2.0", "id": 1.5, "method": "now"}, None),
    ("a string", None),
    (42, None),
    (None, None),
], ids=["version-1.0", "no-version", "numeric-version", "method-int", "no-method", "id-object", "id-bool",
        "id-float", "string", "number", "null"])
def test_invalid_request(served: ServerThread, frame: Any, rid: Any) -> None:
    with _raw(served) as ws:
        _error(_send(ws, json.dumps(frame)), P.INVALID_REQUEST, rid=rid)
    _alive(served)


def test_batches_are_refused_whole_and_nothing_in_them_runs(served: ServerThread) -> None:
    batch = [_req("line_initialize_ex", {"app_name": f"x{i}"}, rid=i) for i in range(500)]
    with _raw(served) as ws:
        _error(_send(ws, batch), P.INVALID_REQUEST, rid=None)
        _error(_send(ws, []), P.INVALID_REQUEST, rid=None)
    assert served.call(lambda: len(served.server.backend.apps)) == 0
    _alive(served)


# ----- methods and params -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["nope", "close", "__init__", "party.__class__", "parties.answer",
                                  "line_get_message.__globals__", "clock.advance", "LINE_OPEN", "x" * 10_000])
def test_unknown_method(served: ServerThread, name: str) -> None:
    with _raw(served) as ws:
        err = _error(_send(ws, _req(name)), P.METHOD_NOT_FOUND)
        assert len(err["message"]) < 200                    # the echo of a huge name is cut short
    _alive(served)


@pytest.mark.parametrize(("method", "params"), [
    ("line_open", None),                                                       # missing everything
    ("line_open", {"h_line_app": 1}),                                          # missing device_id
    ("line_shutdown", {"h_line_app": "0x10001"}),                              # string for int
    ("line_shutdown", {"h_line_app": True}),                                   # bool for int
    ("line_shutdown", {"h_line_app": 1.0}),                                    # float for int
    ("line_shutdown", {"h_line_app": 2**70}),                                  # beyond 64 bits
    ("line_shutdown", {"h_line_app": 1, "extra": 2}),                          # unknown param
    ("line_shutdown", "h_line_app=1"),                                         # params not object/array
    ("line_shutdown", [1, 2]),                                                 # too many positional
    ("line_get_message", {"h_line_app": 1, "timeout": -1}),
    ("line_get_message", {"h_line_app": 1, "timeout": 1e9}),
    ("line_get_message", {"h_line_app": 1, "timeout": "5"}),
    ("line_dev_specific", {"h_line": 1, "address_id": 0, "h_call": 0, "params": "***"}),
    ("line_make_call", {"h_line": 1, "dest_address": 5}),
    ("line_make_call", {"h_line": 1, "dest_address": "1" * 5000}),
    ("line_make_call", {"h_line": 1, "dest_address": "1", "call_params": {"bogus": 1}}),
    ("line_make_call", {"h_line": 1, "dest_address": "1", "call_params": {"comment": 3}}),
    ("line_make_call", {"h_line": 1, "dest_address": "1", "call_params": [1]}),
    ("line_forward", {"h_line": 1, "all_addresses": 1, "address_id": 0, "forward_list": None}),
    ("line_forward", {"h_line": 1, "all_addresses": True, "address_id": 0,
                      "forward_list": [{"forward_mode": 1}] * 65}),
    ("line_forward", {"h_line": 1, "all_addresses": True, "address_id": 0, "forward_list": [{"dest": "1"}]}),
    ("party.wait_for", {"role": "desk", "states": "idle", "timeout": 1}),
    ("party.call", {"role": ["desk"], "number": "1"}),
])
def test_invalid_params(served: ServerThread, method: str, params: Any) -> None:
    with _raw(served) as ws:
        err = _error(_send(ws, _req(method, params)), P.INVALID_PARAMS)
        assert err["message"].startswith("invalid params")
    _alive(served)


def test_positional_params_and_string_ids_work(served: ServerThread) -> None:
    with _raw(served) as ws:
        reply = _send(ws, _req("line_initialize_ex", ["positional", 0x00020002], rid="abc"))
        assert reply["id"] == "abc" and reply["result"]["num_devs"] == 5


def test_notifications_get_no_reply_and_errors_in_them_are_silent(served: ServerThread) -> None:
    with _raw(served) as ws:
        ws.send(json.dumps({"jsonrpc": "2.0", "method": "nope"}))
        ws.send(json.dumps({"jsonrpc": "2.0", "method": "line_initialize_ex", "params": {"app_name": "n"}}))
        assert _send(ws, _req("now", rid=99))["id"] == 99    # the first reply is the request's
        assert served.call(lambda: len(served.server.backend.apps)) == 1
    # and the notification's application died with the connection
    deadline = time.monotonic() + 5
    while served.call(lambda: len(served.server.backend.apps)) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert served.call(lambda: len(served.server.backend.apps)) == 0


def test_a_backend_bug_is_an_internal_error_not_a_crash(served: ServerThread) -> None:
    def boom() -> float:
        raise RuntimeError("simulated bug")
    served.call(setattr, served.server.backend, "now", boom)
    with _raw(served) as ws:
        err = _error(_send(ws, _req("now")), P.INTERNAL_ERROR)
        assert "simulated bug" in err["message"]
        assert _send(ws, _req("info", rid=2))["result"]["profile"] == "reference"


# ----- limits -----------------------------------------------------------------------------------------
def test_oversized_frame_closes_that_connection_only(served: ServerThread) -> None:
    with _raw(served) as ws:
        ws.send(json.dumps(_req("line_initialize_ex", {"app_name": "x" * 100_000})))
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=5)
        assert info.value.rcvd is not None and info.value.rcvd.code == 1009   # message too big
    _alive(served)


def test_applications_per_connection_are_capped(served: ServerThread) -> None:
    with _raw(served) as ws:
        for i in range(4):
            assert "result" in _send(ws, _req("line_initialize_ex", {"app_name": "a"}, rid=i))
        _error(_send(ws, _req("line_initialize_ex", {"app_name": "a"}, rid=9)), P.LIMIT_EXCEEDED, rid=9)


def test_a_flood_of_requests_is_answered_in_order_and_the_server_survives(served: ServerThread) -> None:
    with _raw(served) as ws:
        n = 3000
        received: list[Any] = []
        reader = threading.Thread(target=lambda: received.extend(json.loads(ws.recv(timeout=10))
                                                                 for _ in range(n)))
        reader.start()
        for i in range(n):
            ws.send(json.dumps(_req("now", rid=i)))
        reader.join(30)
        assert [r["id"] for r in received] == list(range(n))
    _alive(served)


def test_too_many_clients_are_turned_away_at_the_handshake() -> None:
    st = _server(max_clients=2)
    try:
        a, b = BridgeBackend.from_spec(st.url, None), BridgeBackend.from_spec(st.url, None)
        with pytest.raises(BridgeError, match="503"):
            BridgeBackend.from_spec(st.url, None)
        a.close()
        b.close()
    finally:
        st.stop()


def test_waiting_requests_per_connection_are_capped_in_wall_mode() -> None:
    st = _server(mode="wall", max_waits=2)
    try:
        with _raw(st) as ws:
            app = _send(ws, _req("line_initialize_ex", {"app_name": "w"}))["result"]["h_line_app"]
            for rid in (1, 2, 3):
                ws.send(json.dumps(_req("line_get_message", {"h_line_app": app, "timeout": 0.3}, rid=rid)))
            first = json.loads(ws.recv(timeout=5))          # the third is refused at once
            _error(first, P.LIMIT_EXCEEDED, rid=3)
            rest = sorted(json.loads(ws.recv(timeout=5))["id"] for _ in range(2))
            assert rest == [1, 2]
    finally:
        st.stop()


# ----- authentication ---------------------------------------------------------------------------------
@pytest.fixture
def guarded() -> Iterator[ServerThread]:
    st = _server(token="s3cret")
    yield st
    st.stop()


@pytest.mark.parametrize("spec_suffix", ["", "?token=wrong", "?token=s3cret-and-more", "?token="])
def test_missing_or_wrong_token_is_refused(guarded: ServerThread, spec_suffix: str) -> None:
    with pytest.raises(BridgeError, match="token"):
        BridgeBackend.from_spec(guarded.url + spec_suffix, None)
    assert guarded.server.connections == 0


def test_token_in_header_or_query_is_accepted(guarded: ServerThread) -> None:
    be = BridgeBackend.from_spec(guarded.url + "?token=s3cret", None)      # Authorization: Bearer
    assert be.now() >= 0
    be.close()
    with _raw(guarded, path="/?token=s3cret") as ws:                      # ?token= for browsers / Node
        assert "result" in _send(ws, _req("now"))


def test_loopback_rule() -> None:
    for host in ("127.0.0.1", "127.8.9.10", "::1", "localhost", "LOCALHOST"):
        assert is_loopback(host), host
    for host in ("0.0.0.0", "::", "", "192.168.1.5", "10.0.0.1", "example.org", "::ffff:8.8.8.8"):
        assert not is_loopback(host), host
    assert parse_listen("[::1]:7755") == ("::1", 7755)
    with pytest.raises(ValueError):
        parse_listen("127.0.0.1")


def test_serve_refuses_a_non_loopback_address_without_a_token(capsys: pytest.CaptureFixture[str],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RO_CONFORMANCE_TOKEN", raising=False)
    assert cli.main(["serve", "--listen", "0.0.0.0:0"]) == 4
    assert "token" in capsys.readouterr().err
    assert cli.main(["serve", "--listen", "nonsense"]) == 4


# ----- clients that vanish ----------------------------------------------------------------------------
def _leftovers(st: ServerThread) -> tuple[int, int, int]:
    def count() -> tuple[int, int, int]:
        backend = st.server.backend
        backend.clock.advance(120.0)        # let the far ends notice (virtual time)
        return len(backend.apps), len(backend.live_calls()), backend.model_count()
    deadline = time.monotonic() + 5
    while (found := st.call(count)) != (0, 0, 0) and time.monotonic() < deadline:
        time.sleep(0.01)
    return found


def _call_in_progress(ws: ClientConnection) -> int:
    app = _send(ws, _req("line_initialize_ex", {"app_name": "vanish"}))["result"]["h_line_app"]
    line = _send(ws, _req("line_open", {"h_line_app": app, "device_id": 0, "api_version": 0x00020002}))["result"]
    _send(ws, _req("line_make_call", {"h_line": line, "dest_address": RO}))
    _send(ws, _req("party.wait_for", {"role": "remote_office", "states": ["alerting"], "timeout": 30}))
    return int(app)


def test_client_vanishing_mid_call_leaves_nothing_behind(served: ServerThread) -> None:
    ws = _raw(served)
    _call_in_progress(ws)
    assert served.call(lambda: len(served.server.backend.live_calls())) > 0
    ws.socket.shutdown(socket.SHUT_RDWR)    # no close handshake: the peer just disappears
    ws.socket.close()
    assert _leftovers(served) == (0, 0, 0)
    _alive(served)


def test_client_vanishing_mid_frame_leaves_nothing_behind(served: ServerThread) -> None:
    ws = _raw(served)
    _call_in_progress(ws)
    # a masked text frame header announcing 1000 bytes, then 10 bytes, then gone
    ws.socket.sendall(bytes([0x81, 0x80 | 126, 0x03, 0xE8, 1, 2, 3, 4]) + b"x" * 10)
    ws.socket.close()
    assert _leftovers(served) == (0, 0, 0)
    _alive(served)


def test_client_vanishing_while_waiting_in_wall_mode() -> None:
    st = _server(mode="wall")
    try:
        ws = _raw(st)
        app = _send(ws, _req("line_initialize_ex", {"app_name": "w"}))["result"]["h_line_app"]
        ws.send(json.dumps(_req("line_get_message", {"h_line_app": app, "timeout": 60}, rid=2)))
        ws.socket.close()
        deadline = time.monotonic() + 5
        while st.call(lambda: len(st.server.backend.apps)) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert st.call(lambda: len(st.server.backend.apps)) == 0
        _alive(st)
    finally:
        st.stop()


@pytest.mark.parametrize("how", ["file", "env", "argv"])
def test_serve_command_end_to_end_with_a_token(tmp_path: Path, how: str) -> None:
    """The token comes from a file or the environment (or, with a note, the command line); never echoed."""
    import os
    import re
    import signal
    import subprocess
    import sys

    secret = "tok-" + how + "-9f8e7d"
    (tmp_path / "token").write_text(secret + "\n", encoding="utf-8")
    extra = {"file": ["--token-file", str(tmp_path / "token")], "env": [], "argv": ["--token", secret]}[how]
    env = {**os.environ, "RO_CONFORMANCE_TOKEN": secret if how == "env" else "", "RO_CONFORMANCE_TOKEN_FILE": ""}
    proc = subprocess.Popen([sys.executable, "-m", "conformance.cli", "serve", "--clock", "virtual",
                             "--listen", "127.0.0.1:0", "--profile", str(REFERENCE), *extra],
                            stderr=subprocess.PIPE, text=True, cwd=REFERENCE.parent.parent, env=env)
    try:
        assert proc.stderr is not None
        # --token on the command line is allowed but warned about (others can read it in ps): the note
        # comes first, then the banner with the address.
        note = proc.stderr.readline() if how == "argv" else ""
        assert how != "argv" or "visible to other local users" in note, note
        banner = proc.stderr.readline()
        match = re.search(r"ws://([^/]+)/", banner)
        assert match and "token required" in banner, banner
        with pytest.raises(BridgeError, match="token"):
            BridgeBackend(f"ws://{match.group(1)}/")
        be = BridgeBackend(f"ws://{match.group(1)}/", token=secret)
        assert be.info()["profile"] == "reference"
        be.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert secret not in note + banner + proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_client_reads_the_token_from_a_file_named_in_the_environment(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    st = _server(token="from-a-file")
    try:
        (tmp_path / "t").write_text("from-a-file\n", encoding="utf-8")
        monkeypatch.delenv("RO_CONFORMANCE_TOKEN", raising=False)
        monkeypatch.setenv("RO_CONFORMANCE_TOKEN_FILE", str(tmp_path / "t"))
        be = BridgeBackend.from_spec(st.url, None)
        assert be.now() >= 0
        be.close()
        monkeypatch.setenv("RO_CONFORMANCE_TOKEN_FILE", str(tmp_path / "missing"))
        with pytest.raises(BridgeError, match="token file") as info:
            BridgeBackend.from_spec(st.url, None)
        assert "from-a-file" not in str(info.value)
    finally:
        st.stop()


# ----- DWORDs, UTF-8, the served profile ---------------------------------------------------------------
@pytest.mark.parametrize(("method", "params"), [
    ("line_open", {"h_line_app": 65537, "device_id": 0, "api_version": 0x00020002, "callback_instance": -1}),
    ("line_open", {"h_line_app": 65537, "device_id": 0, "api_version": 0x00020002, "media_modes": -4}),
    ("line_open", {"h_line_app": 65537, "device_id": 0, "api_version": 0x00020002, "ext_version": -1}),
    ("line_open", {"h_line_app": 65537, "device_id": -1, "api_version": 0x00020002}),
    ("line_make_call", {"h_line": 1, "dest_address": RO, "country_code": -49}),
    ("line_make_call", {"h_line": 1, "dest_address": RO, "call_params": {"media_mode": -1}}),
    ("line_forward", {"h_line": 1, "all_addresses": True, "address_id": 0, "forward_list": None,
                      "num_rings_no_answer": -3}),
    ("line_forward", {"h_line": 1, "all_addresses": True, "address_id": 0,
                      "forward_list": [{"forward_mode": -16, "dest_address": RO}]}),
    ("line_set_status_messages", {"h_line": 1, "line_states": 2**32, "address_states": 0}),
])
def test_negative_or_oversized_dwords_are_invalid_params(served: ServerThread, method: str,
                                                        params: dict[str, Any]) -> None:
    with _raw(served) as ws:
        err = _error(_send(ws, _req(method, params)), P.INVALID_PARAMS)
        assert "DWORD" in err["message"] or "handle" in err["message"], err


def test_invalid_utf8_closes_a_text_frame_with_1007_and_is_a_parse_error_in_a_binary_frame(
        served: ServerThread) -> None:
    """As docs/bridge.md says: RFC 6455 forbids invalid UTF-8 in a text frame (close 1007); a binary
    frame is read as UTF-8 text by the server, so there it is a JSON-RPC parse error."""
    with _raw(served) as ws:
        _error(_send(ws, b'{"jsonrpc": "2.0", "id": 1, "method": "\xff\xfe"}'), P.PARSE_ERROR, rid=None)
    ws = _raw(served)
    masked = bytes(b ^ m for b, m in zip(b"\xff\xfe\xfd", [1, 2, 3], strict=True))   # mask 01 02 03 04
    ws.socket.sendall(bytes([0x81, 0x80 | 3, 1, 2, 3, 4]) + masked)
    with pytest.raises(ConnectionClosed) as info:
        ws.recv(timeout=5)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1007
    doc = (REFERENCE.parent.parent / "docs" / "bridge.md").read_text(encoding="utf-8")
    assert "1007" in doc and "binary" in doc
    _alive(served)


def test_a_bridge_serving_another_profile_says_so_before_the_run(served: ServerThread,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from simulator._profile import load_profile
    other = load_profile(REFERENCE.with_name("native-ro.yaml"))
    be = BridgeBackend.from_spec(served.url, other)
    be.close()
    err = capsys.readouterr().err
    assert "serves profile 'reference'" in err and "native-ro.yaml" in err and "sha256" in err, err
    same = BridgeBackend.from_spec(served.url, load_profile(REFERENCE))
    assert same.info()["profile_sha256"] == P.file_sha256(REFERENCE)
    same.close()
    assert "serves profile" not in capsys.readouterr().err
