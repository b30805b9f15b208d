"""The TSP's transport (tsp/src/ws.c, tsp/src/rpc.c; contract in tsp/CONTRACT.md) built with mingw-w64 and run
under wine64, against a real ``ro-conformance serve --clock wall`` (docs/bridge.md) and against a hostile
WebSocket server written here.

* ``rpc_selftest main URL --restart`` (tsp/harness/rpc_selftest.c): results, a JSON null result, a TAPI failure
  as RPC_EREMOTE with ``data.lineerr`` (LINEERR_INVALAPPHANDLE, docs/tapi.md), push events (``line_subscribe``) with
  an rpc_call made inside on_notify, RPC_ETIMEOUT, HTTP 401 as a reason, then the server is stopped (on_state(0),
  RPC_EDOWN) and started again on the same port (reconnect with backoff);
* ``rpc_selftest ws URL...``: RFC 6455 violations by the server (reserved opcode, RSV bits, 2^63-1 length, masked
  server frame, fragmented ping, bad UTF-8, oversized reassembly, bad Sec-WebSocket-Accept, HTTP 503, ...) end in
  an error with a reason and a close frame with the right code (RFC 6455 §7.4.1), never a crash; fragments, pings
  and a 1 MiB message are handled.

Skipped with a reason when x86_64-w64-mingw32-gcc, make or wine64 is missing.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import itertools
import os
import queue
import re
import shutil
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TSP = ROOT / "tsp"
EXE = TSP / "build" / "x86_64" / "rpc_selftest.exe"
TOKEN = "rpc-selftest-token"
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def _wine64() -> str | None:
    # Debian's wine 8 has no wine64 on PATH: the loader lives in /usr/lib/wine.
    return shutil.which("wine64") or next(
        (p for p in ("/usr/lib/wine/wine64", "/usr/lib64/wine/wine64") if os.access(p, os.X_OK)), None)


WINE = _wine64()
pytestmark = [
    pytest.mark.skipif(shutil.which("x86_64-w64-mingw32-gcc") is None, reason="x86_64-w64-mingw32-gcc not installed"),
    pytest.mark.skipif(shutil.which("i686-w64-mingw32-gcc") is None, reason="i686-w64-mingw32-gcc not installed"),
    pytest.mark.skipif(shutil.which("make") is None, reason="make not installed"),
    pytest.mark.skipif(WINE is None, reason="wine64 not installed (looked on PATH and in /usr/lib/wine)"),
]


@pytest.fixture(scope="module")
def built() -> Path:
    """The self-test for both architectures (the TSP runs in a 32- or 64-bit tapisrv), built by tsp/Makefile.

    Only these targets: the TSP itself is tests/test_tsp_wine.py's business, and a broken TSPI file must not hide
    the transport's result."""
    targets = [f"build/{arch}/rpc_selftest.exe" for arch in ("x86_64", "i686")]
    proc = subprocess.run(["make", "-C", str(TSP), "-j2", *targets], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"make -C tsp failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    for arch in ("x86_64", "i686"):
        assert (TSP / "build" / arch / "rpc_selftest.exe").is_file(), f"make did not build {arch}/rpc_selftest.exe"
    return EXE


@pytest.fixture(scope="module")
def wine_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A private WINEPREFIX; its creation (the first wine start) is timed and printed."""
    prefix = tmp_path_factory.mktemp("wineprefix")
    env = dict(os.environ, WINEPREFIX=str(prefix), WINEDEBUG="-all",
               WINEDLLOVERRIDES="mscoree,mshtml=")  # no Mono / Gecko installer dialogs
    env.pop("DISPLAY", None)
    assert WINE is not None
    t0 = time.monotonic()
    subprocess.run([WINE, "wineboot", "--init"], env=env, capture_output=True, timeout=300, check=False)
    print(f"\nwine prefix created in {time.monotonic() - t0:.1f} s")
    yield env
    server = Path(WINE).with_name("wineserver")
    if server.exists():  # stop this prefix's wineserver now rather than after its linger time
        subprocess.run([str(server), "-k"], env=env, capture_output=True, timeout=30, check=False)


# ------------------------------------------------------------------------------------------------ bridge

class Bridge:
    """``ro-conformance serve`` as a subprocess (wall clock, token required), restartable on the same port."""

    def __init__(self, port: int = 0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "conformance.cli", "serve", "--clock", "wall", "--listen", f"127.0.0.1:{port}",
             "--profile", str(ROOT / "profiles" / "reference.yaml")],
            cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
            env=dict(os.environ, RO_CONFORMANCE_TOKEN=TOKEN))
        lines: queue.Queue[str] = queue.Queue()
        assert self.proc.stderr is not None
        stderr = self.proc.stderr
        threading.Thread(target=lambda: [lines.put(line) for line in stderr], daemon=True).start()
        try:
            banner = lines.get(timeout=30)
        except queue.Empty:
            self.stop()
            pytest.fail("ro-conformance serve printed no banner within 30 s")
        match = re.search(r"(ws://127\.0\.0\.1:(\d+)/)", banner)
        if not match:
            self.stop()
            pytest.fail(f"ro-conformance serve did not start: {banner!r}")
        self.url, self.port = match.group(1), int(match.group(2))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


class Lines:
    """stdout of a child read line by line on a thread, so that every wait for a line is bounded."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.q: queue.Queue[str | None] = queue.Queue()
        self.all: list[str] = []
        assert proc.stdout is not None
        stdout = proc.stdout

        def pump() -> None:
            for line in stdout:
                self.q.put(line.rstrip("\r\n"))
            self.q.put(None)

        threading.Thread(target=pump, daemon=True).start()

    def until(self, marker: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.q.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                so_far = "\n".join(self.all)
                pytest.fail(f"rpc_selftest did not print {marker!r} within {timeout} s; so far:\n{so_far}")
            if line is None:
                pytest.fail(f"rpc_selftest ended before {marker!r}:\n" + "\n".join(self.all))
            self.all.append(line)
            if line == marker:
                return

    def rest(self, timeout: float) -> list[str]:
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.q.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail("rpc_selftest did not finish in time; so far:\n" + "\n".join(self.all))
            if line is None:
                return self.all
            self.all.append(line)


def test_rpc_against_bridge_with_restart(built: Path, wine_env: dict[str, str]) -> None:
    bridge = Bridge()
    assert WINE is not None
    # A short keepalive: the idle stretches of the self-test then send pings that the bridge must answer.
    env = dict(wine_env, RO_TSP_TOKEN=TOKEN, RO_TSP_KEEPALIVE_MS="300")
    t0 = time.monotonic()
    proc = subprocess.Popen([WINE, str(built), "main", bridge.url, "--restart"], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = Lines(proc)
    try:
        lines.until("PLEASE_STOP_SERVER", timeout=120)
        print(f"\nfirst part of rpc_selftest (wine start included) took {time.monotonic() - t0:.1f} s")
        bridge.stop()
        lines.until("PLEASE_START_SERVER", timeout=30)
        bridge = Bridge(bridge.port)  # same port: the client reconnects to the URL it was given
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
        out = lines.rest(timeout=60)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        bridge.stop()
    print("\n".join(out))
    failed = [line for line in out if line.startswith("FAIL")]
    assert not failed, "\n".join(out)
    names = {line.split()[1] for line in out if line.startswith("ok ")}
    expected = {"connect", "info", "roundtrip", "line_initialize_ex", "null_result", "lineerr", "unknown_method",
                "line_subscribe", "line_open", "line_message", "nested_call", "one_dispatch_thread", "timeout",
                "after_timeout", "stop_bounded", "stop_with_pending", "wrong_token", "no_spurious_drop", "down",
                "reconnect", "stop"}
    assert expected <= names, f"checks missing: {sorted(expected - names)}\n" + "\n".join(out)
    assert out[-1] == "SELFTEST PASSED" and proc.returncode == 0, "\n".join(out)


# -------------------------------------------------------------------------------------- hostile server

def _frame(op: int, payload: bytes, fin: bool = True, rsv: int = 0, mask: bytes | None = None,
           length: int | None = None) -> bytes:
    """A server frame, optionally with a forged length field."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | rsv | op])
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if mask:
        payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        head += mask
    return head + payload


@dataclass
class Seen:
    """What the hostile server received from the client on one connection."""

    request: str = ""
    times: list[float] = field(default_factory=list)  # time.monotonic() of each handshake request
    frames: list[tuple[int, bool, bytes]] = field(default_factory=list)  # (opcode, masked, unmasked payload)


def _accept(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()


def _ok_head(key: str, accept: str | None = None) -> bytes:
    return (f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {accept or _accept(key)}\r\n\r\n").encode()


ONE_MIB = 1024 * 1024
BIG = b'"' + b"x" * (ONE_MIB - 2) + b'"'  # exactly 1 MiB, the limit, must pass

# case -> (what the server writes after reading the request; the key is substituted)
CASES: dict[str, list[bytes] | str] = {
    "fragments": [_frame(0x9, b"p1"), _frame(0x1, b'{"a":', fin=False), _frame(0x9, b"p2"),
                  _frame(0x0, b"1", fin=False), _frame(0x0, b"}")],
    "bigok": [_frame(0x1, BIG[:ONE_MIB // 2], fin=False), _frame(0x0, BIG[ONE_MIB // 2:])],
    "opcode": [_frame(0x3, b"x")],
    "rsv": [_frame(0x1, b"{}", rsv=0x40)],
    "huge": [_frame(0x1, b"", length=(1 << 63) - 1)],
    "toplength": [_frame(0x1, b"", length=(1 << 64) - 1)],
    "toobig": [_frame(0x1, b"x" * (ONE_MIB // 2 + 1), fin=False), _frame(0x0, b"x" * (ONE_MIB // 2))],
    "masked": [_frame(0x1, b"{}", mask=b"\x01\x02\x03\x04")],
    "pingfrag": [_frame(0x9, b"p", fin=False)],
    "pinglong": [_frame(0x9, b"p" * 126)],
    "utf8": [_frame(0x1, b'"\xff\xfe"')],
    "cont": [_frame(0x0, b"x")],
    "newdata": [_frame(0x1, b"a", fin=False), _frame(0x1, b"b")],
    "close1": [_frame(0x8, b"\x03")],
    "closecode": [_frame(0x8, struct.pack("!H", 1005))],
    "closeok": [_frame(0x8, struct.pack("!H", 1001) + b"going away")],
    "eof": [],
    "trickle": [_frame(0x1, b"0123456789")[:7]],
    "notjson": [],    # answers the client's first text message with a text that is no JSON (rpc mode)
    "blackhole": [],  # accepts, reads, never answers anything, not even a ping (rpc mode, keepalive)
    "badaccept": "badaccept",
    "subproto": "subproto",
    "noupgrade": "noupgrade",
    "oddheaders": "oddheaders",
    "hugeheader": "hugeheader",
    "http503": "http503",
    "garbage": "garbage",
}


class HostileServer:
    """An asyncio WebSocket server on a thread that misbehaves according to the request path (/CASE)."""

    def __init__(self) -> None:
        self.seen: dict[str, Seen] = {}
        self.loop = asyncio.new_event_loop()
        started = threading.Event()
        self.port = 0

        async def main() -> None:
            server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            try:  # the same port on ::1 too, for the IPv6 literal and "localhost" cases
                self.server6: asyncio.Server | None = await asyncio.start_server(self.handle, "::1", self.port)
            except OSError:
                self.server6 = None
            self.server = server
            started.set()
            async with server:
                await server.serve_forever()

        self.thread = threading.Thread(target=lambda: self.loop.run_until_complete(self._guard(main())), daemon=True)
        self.thread.start()
        assert started.wait(10), "hostile server did not start"

    @staticmethod
    async def _guard(coro: object) -> None:
        with contextlib.suppress(asyncio.CancelledError):  # server.close() cancels serve_forever
            await coro  # type: ignore[misc]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).decode("latin-1")
            path = head.split(" ", 2)[1].strip("/")
            case = path.split("-")[0]  # "fragments-v6" plays "fragments"
            seen = self.seen.setdefault(path, Seen())
            seen.request = head
            seen.times.append(time.monotonic())
            key = re.search(r"(?im)^sec-websocket-key:\s*(\S+)", head)
            action = CASES[case]
            if action == "badaccept":
                writer.write(_ok_head("", accept=base64.b64encode(b"x" * 20).decode()))
            elif action == "subproto":  # a subprotocol the client never offered (RFC 6455 §4.1: fail)
                assert key
                writer.write(_ok_head(key.group(1))[:-2] + b"Sec-WebSocket-Protocol: chat\r\n\r\n")
            elif action == "noupgrade":
                assert key
                writer.write(f"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                             f"Sec-WebSocket-Accept: {_accept(key.group(1))}\r\n\r\n".encode())
            elif action == "oddheaders":  # valid: any header case, padding, a token list in Connection
                assert key
                writer.write(f"HTTP/1.1 101 OK\r\nconnection: keep-alive, Upgrade\r\nUPGRADE: WebSocket\r\n"
                             f"X-Other:x\r\nsec-websocket-accept:   {_accept(key.group(1))}  \r\n\r\n".encode())
                writer.write(_frame(0x1, b"{}"))
                await writer.drain()
                await asyncio.sleep(1)  # let the client read, echo and close before this connection ends
            elif action == "hugeheader":
                assert key
                writer.write(_ok_head(key.group(1))[:-2] + b"X-Pad: " + b"p" * 20000 + b"\r\n\r\n")
            elif action == "http503":
                writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
            elif action == "garbage":
                writer.write(b"\x00\x01\x02garbage\r\n\r\n")
            else:
                assert key
                writer.write(_ok_head(key.group(1)))
                for chunk in action:
                    writer.write(chunk)
                if case == "trickle":
                    await writer.drain()
                    await asyncio.sleep(5)  # longer than the client's 3 s receive bound
            await writer.drain()
            if isinstance(action, str) or case == "eof":
                writer.close()
                return
            # Read the client's frames (pongs, echo, close) until its close frame or 5 s.
            async with asyncio.timeout(5):
                while True:
                    b0, b1 = await reader.readexactly(2)
                    n = b1 & 0x7F
                    if n == 126:
                        n = struct.unpack("!H", await reader.readexactly(2))[0]
                    elif n == 127:
                        n = struct.unpack("!Q", await reader.readexactly(8))[0]
                    mask = await reader.readexactly(4) if b1 & 0x80 else b"\0\0\0\0"
                    data = bytes(b ^ mask[i % 4] for i, b in enumerate(await reader.readexactly(n)))
                    seen.frames.append((b0 & 0x0F, bool(b1 & 0x80), data))
                    if case == "notjson" and b0 & 0x0F == 0x1:
                        writer.write(_frame(0x1, b"this is not json"))
                    if b0 & 0x0F == 0x8:
                        if case not in ("closeok", "close1", "closecode", "blackhole"):
                            writer.write(_frame(0x8, data[:2]))  # answer the client's close (RFC 6455 §5.5.1)
                            await writer.drain()
                        break
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass
        finally:
            writer.close()

    def close(self) -> None:
        if self.server6 is not None:
            self.loop.call_soon_threadsafe(self.server6.close)
        self.loop.call_soon_threadsafe(self.server.close)
        self.thread.join(timeout=10)


def _close_code(seen: Seen) -> int | None:
    closes = [data for op, _, data in seen.frames if op == 0x8]
    return struct.unpack("!H", closes[0][:2])[0] if closes and len(closes[0]) >= 2 else None


# case -> (RESULT kind, WS_* code, reason fragment, close code the client must send or None)
EXPECT: dict[str, tuple[str, int, str, int | None]] = {
    "opcode": ("recv", 3, "reserved opcode 0x3", 1002),
    "rsv": ("recv", 3, "RSV bits set", 1002),
    "huge": ("recv", 3, "larger than the 1 MiB limit", 1009),
    "toplength": ("recv", 3, "top bit set", 1002),
    "toobig": ("recv", 3, "larger than the 1 MiB limit", 1009),
    "masked": ("recv", 3, "masked frame from the server", 1002),
    "pingfrag": ("recv", 3, "fragmented or longer than 125", 1002),
    "pinglong": ("recv", 3, "fragmented or longer than 125", 1002),
    "utf8": ("recv", 3, "not valid UTF-8", 1007),
    "cont": ("recv", 3, "continuation frame without a message", 1002),
    "newdata": ("recv", 3, "new data frame inside a fragmented message", 1002),
    "close1": ("recv", 3, "close frame with a 1-byte payload", 1002),
    "closecode": ("recv", 3, "invalid close code 1005", 1002),
    "closeok": ("recv", 2, "closed the connection (code 1001: going away)", 1001),
    "eof": ("recv", 3, "without a close frame", None),
    "trickle": ("recv", 1, "no message within 3000 ms", 1000),
    "badaccept": ("connect", 3, "wrong or missing Sec-WebSocket-Accept", None),
    "subproto": ("connect", 3, "extension or subprotocol that was not offered", None),
    "noupgrade": ("connect", 3, "without 'Upgrade: websocket'", None),
    "oddheaders": ("recv", 0, "2 {}", None),
    "hugeheader": ("connect", 3, "handshake response longer than 16384 bytes", None),
    "http503": ("connect", 3, "HTTP 503", None),
    "garbage": ("connect", 3, "not an HTTP/1.1 response", None),
}


def test_ws_hostile_server(built: Path, wine_env: dict[str, str]) -> None:
    server = HostileServer()
    cases = ["fragments", "bigok", *EXPECT]
    urls = [f"ws://127.0.0.1:{server.port}/{case}" for case in cases]
    # Name resolution (getaddrinfo, every address tried in turn), an IPv6 literal, bad URLs, a refused port and a
    # token that cannot go into a header: (argument, expected RESULT prefix, reason fragment).
    extra = [(f"ws://localhost:{server.port}/fragments-host", "RESULT recv 0 7", '{"a":1}'),
             ("ws://127.0.0.1:1/", "RESULT connect 3", "WSAECONNREFUSED"),
             ("wss://127.0.0.1:1/", "RESULT connect 3", "wss:// (TLS) is not supported"),
             ("http://127.0.0.1:1/", "RESULT connect 3", "is not a ws://host:port/path URL"),
             ("ws://127.0.0.1:99999/", "RESULT connect 3", "bad port"),
             ("ws://[::1/", "RESULT connect 3", "unterminated [IPv6] host"),
             ("ws://user@127.0.0.1:1/", "RESULT connect 3", "user info in the URL is not supported"),
             (f"ws://127.0.0.1:{server.port}/a\tb", "RESULT connect 3", "space or control character"),
             ("token=two words", None, None),
             (f"ws://127.0.0.1:{server.port}/fragments-token", "RESULT connect 3", "contains a space")]
    if server.server6 is not None:
        extra.insert(1, (f"ws://[::1]:{server.port}/fragments-v6", "RESULT recv 0 7", '{"a":1}'))
    assert WINE is not None
    try:
        proc = subprocess.run([WINE, str(built), "ws", *urls, *(arg for arg, _, _ in extra)],
                              env=dict(wine_env, RO_TSP_TOKEN=TOKEN), capture_output=True, text=True, timeout=180)
    finally:
        server.close()
    results = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    report = proc.stdout + proc.stderr[-2000:]
    checked = [(arg, prefix, why) for arg, prefix, why in extra if prefix is not None]
    assert proc.returncode == 0 and len(results) == len(cases) + len(checked), f"rpc_selftest stopped early:\n{report}"
    got = dict(zip(cases, results[: len(cases)], strict=True))
    for (arg, prefix, why), line in zip(checked, results[len(cases):], strict=True):
        assert prefix is not None and why is not None
        assert line.startswith(prefix + " ") and why in line, f"{arg}: {line}"
    print("\n" + "\n".join(f"{case}: {line[:160]}" for case, line in got.items()))

    # Fragments with pings in between are reassembled; each ping is answered by a pong with its payload;
    # the echo of the message comes back masked; the token is sent as a Bearer header.
    assert got["fragments"] == 'RESULT recv 0 7 {"a":1}', report
    frames = server.seen["fragments"].frames
    assert [(op, data) for op, _, data in frames[:3]] == [(0xA, b"p1"), (0xA, b"p2"), (0x1, b'{"a":1}')], frames
    assert all(masked for _, masked, _ in frames), "client frames must be masked (RFC 6455 §5.3)"
    assert _close_code(server.seen["fragments"]) == 1000
    assert f"authorization: bearer {TOKEN}" in server.seen["fragments"].request.lower()
    assert got["bigok"].startswith(f"RESULT recv 0 {ONE_MIB} \"xxx"), got["bigok"][:100]

    for case, (kind, code, fragment, close) in EXPECT.items():
        assert got[case].startswith(f"RESULT {kind} {code} "), f"{case}: {got[case]}"
        assert fragment in got[case], f"{case}: {got[case]}"
        if close is not None:
            assert _close_code(server.seen[case]) == close, f"{case}: client sent {server.seen[case].frames}"


def test_rpc_hostile_server(built: Path, wine_env: dict[str, str]) -> None:
    """rpc.c drops a connection whose messages are not JSON-RPC (close 1002) and one that stops answering pings
    (keepalive, here 300 ms): the pending call returns RPC_EDOWN with the reason long before its 3 s timeout."""
    server = HostileServer()
    urls = [f"ws://127.0.0.1:{server.port}/{case}" for case in ("notjson", "blackhole", "http503-backoff")]
    assert WINE is not None
    try:
        proc = subprocess.run([WINE, str(built), "rpc", *urls], env=dict(wine_env, RO_TSP_KEEPALIVE_MS="300"),
                              capture_output=True, text=True, timeout=120)
    finally:
        server.close()
    print("\n" + proc.stdout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith(("RPCRESULT", "STATE0"))]
    assert proc.returncode == 0 and len(lines) == 6, proc.stdout + proc.stderr[-2000:]
    for (result, state), case, why in zip(zip(lines[:4:2], lines[1:4:2], strict=True), ("notjson", "blackhole"),
                                          ("not a JSON object", "no reply from the bridge to a ping"), strict=True):
        _, status, ms, message = result.split(" ", 3)
        assert status == "RPC_EDOWN" and why in message and int(ms) < 2500, f"{case}: {result}"
        assert state.startswith("STATE0 ") and "none" not in state, f"{case}: no on_state(0): {state}"
    assert _close_code(server.seen["notjson"]) == 1002, server.seen["notjson"].frames
    blackhole = server.seen["blackhole"].frames
    assert any(op == 0x9 for op, _, _ in blackhole), f"no keepalive ping was sent: {blackhole}"
    assert _close_code(server.seen["blackhole"]) == 1001, blackhole

    # A server refusing every handshake (HTTP 503) sees the attempts back off: 0.25, 0.5, 1, 2 s apart
    # (rpc_start's own attempt first), not a reconnect storm. The client ran ~5 s (its STATE0 wait).
    result, state = lines[4:6]
    assert result.startswith("RPCRESULT RPC_EDOWN ") and "HTTP 503" in result, result
    assert state.startswith("STATE0 none"), state  # never connected, so never disconnected
    times = server.seen["http503-backoff"].times
    gaps = [round(b - a, 2) for a, b in itertools.pairwise(times)]
    assert len(times) in (4, 5, 6), f"{len(times)} attempts in ~5 s, gaps {gaps}"
    for gap, want in zip(gaps, (0.25, 0.5, 1.0, 2.0, 4.0), strict=False):
        assert want * 0.8 <= gap <= want + 0.4, f"backoff gaps {gaps}, expected 0.25, 0.5, 1, 2, 4 s"
