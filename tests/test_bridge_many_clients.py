"""Many and hostile clients on one bridge server: nothing leaks, nobody stalls, nobody touches another's calls.

* vanished clients with parked waits leave no application, call or trunk behind, and the server stops at once;
* closing a line does not scan every call handle; lines, parked waits and unread messages are capped with an
  error naming the limit;
* a party look-up (``party.observe`` of an unknown number) creates nothing;
* a request wakes only the parked waits it can satisfy;
* handles belong to the connection that got them; a monitoring client sees what TAPI shows its own lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from bridge_client import _LEGACY, REFERENCE, RawClient, sim_server
from websockets.sync.client import ClientConnection, connect

from conformance.backends.sim import SimBackend
from conformance.bridge import protocol as P
from conformance.bridge.server import BridgeServer, Limits, ServerThread
from simulator._constants import LineErr

ROOT = Path(__file__).resolve().parent.parent
RO = "001711234567"
V2_2 = 0x00020002


@pytest.fixture
def wall() -> Iterator[ServerThread]:
    st = sim_server("wall", max_clients=64)
    yield st
    st.stop()


@pytest.fixture
def virtual() -> Iterator[ServerThread]:
    st = sim_server("virtual")
    yield st
    st.stop()


class Client(RawClient):
    """A raw JSON-RPC client with an application helper."""

    def app(self) -> int:
        return int(self.call("line_initialize_ex", app_name="t")["h_line_app"])

    def close(self) -> None:
        self.ws.close()


def _lineerr(err: dict[str, Any], code: int, function: str) -> None:
    assert err["code"] == P.LINE_ERROR and err["data"]["lineerr"] == code, err
    assert err["data"]["function"] == function, err


def _until(st: ServerThread, probe: Any, want: Any, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while (got := st.call(probe)) != want and time.monotonic() < deadline:
        time.sleep(0.02)
    return got


def _connected_call(c: Client, st: ServerThread) -> tuple[int, int]:
    """desk -> RO, answered: (hLineApp, hCall)."""
    app = c.app()
    line = c.call("line_open", h_line_app=app, device_id=0, api_version=V2_2)
    req = c.call("line_make_call", h_line=line, dest_address=RO)
    h_call = 0
    while not h_call:
        msg = c.call("line_get_message", h_line_app=app, timeout=5)
        assert msg is not None
        if msg["msg_name"] == "LINE_REPLY" and msg["param1"] == req:
            assert msg["param2"] == 0, msg
            h_call = msg["new_call"]
    c.call("party.wait_for", role="remote_office", states=["alerting"], timeout=10)
    c.call("party.answer", role="remote_office")
    assert c.call("party.wait_for", role="remote_office", states=["connected"], timeout=10)["state"] == "connected"
    return app, h_call


# ----- 1. vanished clients with parked waits -------------------------------------------------------------
def test_ten_clients_with_parked_waits_closing_in_turn_leave_nothing_behind(wall: ServerThread) -> None:
    backend = wall.server.backend
    baseline = wall.call(lambda: len(asyncio.all_tasks()))
    clients = [Client(wall) for _ in range(10)]
    _connected_call(clients[3], wall)
    for c in clients:
        app = c.app()
        for _ in range(4):
            c.send("line_get_message", h_line_app=app, timeout=3600)
    time.sleep(0.3)
    assert wall.call(lambda: len(asyncio.all_tasks())) >= baseline + 40
    assert wall.call(lambda: backend.pbx.trunks_in_use) == 1
    busy = Client(wall)                     # another client's traffic keeps the server busy meanwhile
    for c in clients:                       # each closes while the others' waits stay parked
        for _ in range(30):
            busy.ws.send(json.dumps({"jsonrpc": "2.0", "method": "party.observe", "params": {"role": "desk"}}))
        c.close()
    busy.close()
    assert _until(wall, lambda: (len(backend.apps), len(backend.live_calls()), backend.pbx.trunks_in_use,
                                 wall.server.connections), (0, 0, 0, 0)) == (0, 0, 0, 0)
    assert _until(wall, lambda: len(asyncio.all_tasks()), baseline) == baseline   # every wait task ended


def test_sigterm_with_parked_waits_stops_the_server_at_once(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "conformance.cli", "serve", "--clock", "wall",
                             "--listen", "127.0.0.1:0", "--profile", str(REFERENCE)],
                            stderr=subprocess.PIPE, text=True, cwd=ROOT,
                            env={**os.environ, "RO_CONFORMANCE_TOKEN": ""})
    clients: list[ClientConnection] = []
    try:
        assert proc.stderr is not None
        match = re.search(r"ws://([^/]+)/", proc.stderr.readline())
        assert match
        for i in range(10):
            ws = connect(f"ws://{match.group(1)}/", open_timeout=5, **_LEGACY)
            clients.append(ws)
            ws.send(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "line_initialize_ex",
                                "params": {"app_name": f"c{i}"}}))
            app = json.loads(ws.recv(timeout=5))["result"]["h_line_app"]
            for rid in range(2, 6):
                ws.send(json.dumps({"jsonrpc": "2.0", "id": rid, "method": "line_get_message",
                                    "params": {"h_line_app": app, "timeout": 3600}}))
        for ws in clients[:5]:
            ws.close()
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0
        assert time.monotonic() - started < 5.0
    finally:
        for ws in clients:
            ws.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


# ----- 2. closing lines, limits --------------------------------------------------------------------------
class _NoScan(dict[int, Any]):
    """A handle table that fails the test if anyone walks all of it."""

    def items(self) -> Any:
        raise AssertionError("closing a line scanned every call handle")

    def __iter__(self) -> Any:
        raise AssertionError("closing a line scanned every call handle")


def test_closing_monitor_lines_does_not_scan_every_call_handle(virtual: ServerThread) -> None:
    backend = virtual.server.backend
    monitor, caller = Client(virtual), Client(virtual)
    app = monitor.app()
    for _ in range(20):
        monitor.call("line_open", h_line_app=app, device_id=0, api_version=V2_2, privileges=2)   # MONITOR
    c_app, h_call = _connected_call(caller, virtual)
    assert virtual.call(lambda: len(backend.handles)) > 20
    virtual.call(lambda: setattr(backend, "handles", _NoScan(backend.handles)))
    monitor.call("line_shutdown", h_line_app=app)
    caller.call("line_drop", h_call=h_call)
    caller.call("line_shutdown", h_line_app=c_app)
    assert virtual.call(lambda: (len(backend.handles), len(backend.live_calls()))) == (0, 0)


@pytest.mark.parametrize(("limits", "name"), [
    (Limits(lines_per_app=3), "lines_per_app"),
    (Limits(lines_per_connection=5), "lines_per_connection"),
])
def test_open_lines_are_capped_with_an_error_naming_the_limit(limits: Limits, name: str) -> None:
    st = ServerThread(BridgeServer(SimBackend(REFERENCE), limits=limits)).start()
    try:
        c = Client(st)
        apps = [c.app(), c.app()]
        errors = []
        for i in range(8):
            got = c.reply("line_open", h_line_app=apps[i % 2], device_id=0, api_version=V2_2, privileges=2)
            if "error" in got:
                errors.append(got["error"])
        assert errors and all(e["code"] == P.LIMIT_EXCEEDED and e["data"]["limit"] == name for e in errors)
        assert name in errors[0]["message"]
    finally:
        st.stop()


def test_parked_waits_are_capped_per_application_and_per_connection() -> None:
    st = sim_server("wall", limits=Limits(waits_per_app=2, waits_per_connection=3))
    try:
        c = Client(st)
        a, b = c.app(), c.app()
        for _ in range(2):
            c.send("line_get_message", h_line_app=a, timeout=60)
        err = c.error("line_get_message", h_line_app=a, timeout=60)
        assert err["code"] == P.LIMIT_EXCEEDED and err["data"]["limit"] == "waits_per_app", err
        c.send("line_get_message", h_line_app=b, timeout=60)
        err = c.error("line_get_message", h_line_app=b, timeout=60)
        assert err["code"] == P.LIMIT_EXCEEDED and err["data"]["limit"] == "waits_per_connection", err
    finally:
        st.stop()


def test_an_application_that_never_reads_is_shut_down_at_the_message_limit(virtual: ServerThread) -> None:
    virtual.server.limits = Limits(messages_per_app=30)
    backend = virtual.server.backend
    deaf, caller = Client(virtual), Client(virtual)
    app = deaf.app()
    deaf.call("line_open", h_line_app=app, device_id=0, api_version=V2_2, privileges=2)
    c_app = caller.app()
    c_line = caller.call("line_open", h_line_app=c_app, device_id=0, api_version=V2_2)
    for _ in range(10):                    # each call posts CALLSTATEs to the deaf monitor
        caller.call("line_make_call", h_line=c_line, dest_address=RO)
        caller.call("party.wait_for", role="remote_office", states=["alerting"], timeout=10)
        caller.call("party.hang_up", role="desk")
        caller.call("party.reject", role="remote_office")
        while caller.call("line_get_message", h_line_app=c_app, timeout=0) is not None:
            pass
    assert virtual.call(lambda: app in backend.apps) is False
    err = deaf.error("line_get_message", h_line_app=app, timeout=0)
    assert err["code"] == P.LIMIT_EXCEEDED and err["data"]["limit"] == "messages_per_app", err


# ----- 3. look-ups create nothing -----------------------------------------------------------------------
def test_observing_junk_roles_creates_no_devices_and_no_memory(virtual: ServerThread) -> None:
    backend = virtual.server.backend
    c = Client(virtual)
    devices = virtual.call(lambda: len(backend.pbx.devices))
    for i in range(50):   # warm-up: caches, free lists
        c.call("party.observe", role=f"9{i:04d}" + "1" * 2000)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for i in range(2000):
            view = c.call("party.observe", role=f"{i:05d}" + "7" * 2000)
            assert view["state"] == "idle"
        gc.collect()
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert virtual.call(lambda: len(backend.pbx.devices)) == devices
    assert grown < 256 * 1024, grown      # 2,000 x 2 kB numbers kept would be > 4 MB


def test_party_actions_on_unknown_numbers_create_nothing(virtual: ServerThread) -> None:
    backend = virtual.server.backend
    c = Client(virtual)
    devices = virtual.call(lambda: len(backend.pbx.devices))
    for method in ("party.answer", "party.reject", "party.hang_up"):
        c.call(method, role="0049" + "5" * 3000)
    assert c.call("party.wait_for", role="0049" + "6" * 3000, states=["connected"], timeout=0) is None
    assert virtual.call(lambda: len(backend.pbx.devices)) == devices


# ----- 4. only satisfiable waits wake ------------------------------------------------------------------
def test_a_request_wakes_only_the_waits_it_can_satisfy(wall: ServerThread) -> None:
    backend = wall.server.backend
    parked = [Client(wall) for _ in range(6)]
    apps = [c.app() for c in parked]
    parked[1].call("line_open", h_line_app=apps[1], device_id=1, api_version=V2_2)   # station 202
    for c, app in zip(parked, apps, strict=True):
        for _ in range(8):
            c.send("line_get_message", h_line_app=app, timeout=60)
    parked[0].send("party.wait_for", role="target", states=["connected"], timeout=60)
    assert _until(wall, wall.server.parked, 49) == 49
    probes: list[int] = []
    real = backend.line_get_message

    def counting(h_line_app: int, timeout: float) -> Any:
        probes.append(h_line_app)
        return real(h_line_app, timeout)
    wall.call(lambda: setattr(backend, "line_get_message", counting))
    busy = Client(wall)
    app = busy.app()
    line = busy.call("line_open", h_line_app=app, device_id=0, api_version=V2_2)
    for _ in range(20):
        busy.call("line_get_address_status", h_line=line, address_id=0)
        busy.call("party.observe", role="caller")
    time.sleep(0.1)
    assert probes == [], f"{len(probes)} probes of waits nobody could satisfy"
    assert wall.server.parked() == 49
    # a call to station 202 posts messages to parked[1]'s application only: only its waits wake
    busy.call("party.call", role="caller", number="202")
    first = json.loads(parked[1].ws.recv(timeout=5))
    assert first["result"]["msg_name"] in ("LINE_APPNEWCALL", "LINE_CALLSTATE"), first
    time.sleep(0.2)
    assert probes and set(probes) == {apps[1]}, probes


# ----- 5. isolation -------------------------------------------------------------------------------------
def test_another_connections_handles_are_bad_handles(virtual: ServerThread) -> None:
    a, b = Client(virtual), Client(virtual)
    a_app, h_call = _connected_call(a, virtual)
    a_line = next(iter(virtual.call(lambda: list(virtual.server.backend.apps[a_app].lines))))
    b_app = b.app()
    _lineerr(b.error("line_get_call_info", h_call=h_call), LineErr.INVALCALLHANDLE, "lineGetCallInfo")
    _lineerr(b.error("line_drop", h_call=h_call), LineErr.INVALCALLHANDLE, "lineDrop")
    _lineerr(b.error("line_make_call", h_line=a_line, dest_address=RO), LineErr.INVALLINEHANDLE, "lineMakeCall")
    _lineerr(b.error("line_close", h_line=a_line), LineErr.INVALLINEHANDLE, "lineClose")
    _lineerr(b.error("line_shutdown", h_line_app=a_app), LineErr.INVALAPPHANDLE, "lineShutdown")
    _lineerr(b.error("line_complete_transfer", h_call=h_call, h_consult_call=h_call, transfer_mode=1),
             LineErr.INVALCALLHANDLE, "lineCompleteTransfer")
    assert b.call("line_get_message", h_line_app=b_app, timeout=0) is None   # nothing of a's arrives at b
    # a's call is untouched and a still owns it
    assert a.call("line_get_call_status", h_call=h_call)["call_state"] == 0x100   # CONNECTED
    req = a.call("line_drop", h_call=h_call)
    replies = []
    while (msg := a.call("line_get_message", h_line_app=a_app, timeout=2)) is not None:
        replies += [msg["param1"]] if msg["msg_name"] == "LINE_REPLY" else []
    assert replies == [req]


def test_a_monitoring_client_sees_what_tapi_shows_its_own_lines(virtual: ServerThread) -> None:
    owner, monitor = Client(virtual), Client(virtual)
    m_app = monitor.app()
    monitor.call("line_open", h_line_app=m_app, device_id=0, api_version=V2_2, privileges=2)   # MONITOR
    _, h_call = _connected_call(owner, virtual)
    seen: dict[str, list[dict[str, Any]]] = {}
    while (msg := monitor.call("line_get_message", h_line_app=m_app, timeout=1)) is not None:
        seen.setdefault(msg["msg_name"], []).append(msg)
    assert "LINE_APPNEWCALL" in seen and "LINE_CALLSTATE" in seen, seen
    m_call = seen["LINE_APPNEWCALL"][0]["param2"]
    assert m_call != h_call
    info = monitor.call("line_get_call_info", h_call=m_call)           # its own monitor handle works
    assert info["called_id"].endswith(RO[-7:]) or info["called_id"], info
    _lineerr(monitor.error("line_drop", h_call=m_call), LineErr.NOTOWNER, "lineDrop")   # TAPI's answer
    _lineerr(monitor.error("line_drop", h_call=h_call), LineErr.INVALCALLHANDLE, "lineDrop")


# ----- the soak's hostile kinds leave no socket behind ---------------------------------------------------
def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts descriptors through Linux /proc")
def test_vanished_and_closing_clients_leave_no_connection_or_descriptor_behind(wall: ServerThread) -> None:
    """The kinds of the bridge soak (benchmarks/soak_bridge.py): mid-transfer then gone without a close,
    parked waits then a clean close, parked waits then gone: afterwards the server holds no connection
    (ours nor websockets'), and this process (server and clients) no more descriptors than before."""
    ws_server = wall.server._server
    assert ws_server is not None
    before = _open_fds()
    for round_ in range(3):
        vanish, parker, gone = Client(wall), Client(wall), Client(wall)
        _connected_call(vanish, wall)
        for c in (parker, gone):
            app = c.app()
            for _ in range(4):
                c.send("line_get_message", h_line_app=app, timeout=3600)
            c.send("party.wait_for", role="0" + "7" * 30, states=["connected"], timeout=3600)
        assert _until(wall, lambda: wall.server.parked(), 10) == 10, round_
        vanish.ws.socket.shutdown(socket.SHUT_RDWR)   # no close handshake: the peer just disappears
        vanish.ws.socket.close()
        gone.ws.socket.close()
        parker.close()
        for c in (vanish, gone):
            with contextlib.suppress(Exception):   # the client's own reader thread ends on the dead socket
                c.close()
    settled = (0, 0, 0, 0, before)
    got = _until(wall, lambda: (wall.server.connections, len(ws_server.connections), wall.server.parked(),
                                len(wall.server.backend.live_calls()), _open_fds()), settled, timeout=10)
    assert got == settled, "(bridge connections, websockets connections, parked waits, live calls, fds)"
