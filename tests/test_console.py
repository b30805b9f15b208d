"""The console's live socket without a browser: pushed diffs, the PBX selector, actions in the ladder."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from conformance.backends.bridge import BridgeBackend
from conformance.backends.sim import SimBackend
from conformance.bridge.console import LADDER_CAP, snapshot
from conformance.bridge.server import BridgeServer, NotifyingWallClock, ServerThread
from simulator._errors import LineError

REFERENCE = Path(__file__).resolve().parent.parent / "profiles" / "reference.yaml"


@pytest.fixture
def served() -> Iterator[ServerThread]:
    with ServerThread(BridgeServer(SimBackend(REFERENCE, NotifyingWallClock()), mode="wall", console=True)) as st:
        yield st


def _next(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(ws.recv(timeout))
    return frame


def _until(ws: ClientConnection, pred: Any, timeout: float = 10.0, ladder: list[Any] | None = None) -> dict[str, Any]:
    """The first push ``pred`` accepts; ``ladder`` collects the ladder entries of every push read."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = _next(ws, max(0.1, deadline - time.monotonic()))
        if ladder is not None:
            ladder.extend(frame.get("ladder", ()))
        if pred(frame):
            return frame
    raise AssertionError("no such push")


def test_first_push_is_the_whole_pbx_and_later_pushes_only_what_changed(served: ServerThread) -> None:
    with connect(f"ws://{served.url}/console/ws") as ws:
        first = _next(ws)
        assert first["pbx"] == "shared" and first["pbxs"] == ["shared"]
        assert set(first["set"]["stations"]) == {"201", "202"}
        assert first["set"]["trunks"]["group"] == {"in_use": 0, "total": 4, "peak": 0}
        ws.send(json.dumps({"op": "act", "do": "call", "number": "0409876543", "to": "+49891234202"}))
        ladder: list[Any] = []
        push = _until(ws, lambda f: "202" in f["set"].get("stations", {}), ladder=ladder)
        assert "201" not in push["set"]["stations"]              # unchanged rows are not sent again
        assert push["set"]["stations"]["202"]["calls"] == ["OFFERING with 0409876543"]
        kinds = [(e["who"], e["kind"], e["text"]) for e in ladder]
        assert ("console", "act", "0409876543 dials +49891234202") in kinds
        ws.send(json.dumps({"op": "act", "do": "lift", "number": "202"}))
        push = _until(ws, lambda f: f["set"].get("externals", {}).get("0409876543", {}).get("state") == "connected")
        ws.send(json.dumps({"op": "act", "do": "nonsense", "number": "202"}))
        assert _until(ws, lambda f: f["type"] == "error")["text"].startswith("unknown action")


def test_a_private_pbx_of_session_reset_is_selectable(served: ServerThread) -> None:
    with connect(f"ws://{served.url}/console/ws") as ws:
        _next(ws)
        client = BridgeBackend(f"ws://{served.url}/", session="fresh")   # session.reset: a PBX of its own
        try:
            app, _, _ = client.line_initialize_ex("private", 0x00020002)
            push = _until(ws, lambda f: "session 1" in f["pbxs"])
            assert push["pbxs"] == ["shared", "session 1"]
            ws.send(json.dumps({"op": "select", "pbx": "session 1"}))
            push = _until(ws, lambda f: f["pbx"] == "session 1")
            assert set(push["set"]["stations"]) == {"201", "202"}   # the whole private PBX, afresh
            ws.send(json.dumps({"op": "act", "do": "lift", "number": "201"}))
            push = _until(ws, lambda f: f["set"].get("stations", {}).get("201", {}).get("hook") == "off hook")
            assert push["pbx"] == "session 1"
            ws.send(json.dumps({"op": "select", "pbx": "session 9"}))
            assert _until(ws, lambda f: f["type"] == "error")["text"] == "no PBX named 'session 9'"
            client.line_shutdown(app)
        finally:
            client.close()
        push = _until(ws, lambda f: f["pbx"] == "shared")      # the session ended: back to the shared PBX
        assert push["pbxs"] == ["shared"]


def test_the_ladder_keeps_the_newest_entries_only(served: ServerThread) -> None:
    console = served.server.console
    assert console is not None
    client = BridgeBackend(f"ws://{served.url}/")
    try:
        for _ in range(LADDER_CAP + 50):
            with pytest.raises(LineError):                       # refused: one request + one error each
                client.line_initialize_ex("x" * 10, 0x00010000)
    finally:
        client.close()
    entries = served.call(lambda: list(console.ladder))
    assert len(entries) == LADDER_CAP
    assert entries[-1]["kind"] == "err" and "INCOMPATIBLEAPIVERSION" in entries[-1]["text"]


def test_snapshot_of_a_backend_without_a_pbx_is_empty() -> None:
    assert snapshot(object()) == {}


def test_serve_console_prints_the_page_address_and_the_page_needs_the_token(tmp_path: Path) -> None:
    secret = "console-tok-51ab"
    env = {**os.environ, "RO_CONFORMANCE_TOKEN": secret, "RO_CONFORMANCE_TOKEN_FILE": ""}
    proc = subprocess.Popen([sys.executable, "-m", "conformance.cli", "serve", "--console", "--listen", "127.0.0.1:0",
                             "--profile", str(REFERENCE)], stderr=subprocess.PIPE, text=True, env=env,
                            cwd=REFERENCE.parent.parent)
    try:
        assert proc.stderr is not None
        banner = proc.stderr.readline() + proc.stderr.readline()
        match = re.search(r"console at http://([^/]+)/console \(add \?token=<the token>\)", banner)
        assert match, banner
        host, port = match.group(1).rsplit(":", 1)
        for path, status in (("/console", 401), (f"/console?token={secret}", 200)):
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read().decode()
            conn.close()
            assert resp.status == status, (path, resp.status)
            assert secret not in body
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert secret not in banner + proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
