"""P5: bridge request->reply round trips per second over loopback.

Run from the repository root::

    python benchmarks/bench_bridge.py [--seconds 3] [--in-process]

By default the server is a separate ``ro-conformance serve --clock virtual`` process (as in real use:
client and server do not share a GIL); ``--in-process`` runs it on a thread of this process instead.
One synchronous ``BridgeBackend`` sends one request at a time and waits for its reply, so the figure is
the full round trip: JSON encode, WebSocket frame, server parse + dispatch + encode, reply, decode.
It also prints the CPU time each side spends per round trip (a figure that does not depend on how busy
the machine is) and the floor of the same topology with a raw TCP echo instead of the bridge.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from conformance.backends.bridge import BridgeBackend  # noqa: E402


def _cpu_of(pid: int | None) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` (Linux /proc), 0 if unknown."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def _measure(fn: Callable[[], Any], seconds: float, server_pid: int | None = None) -> tuple[float, float, float]:
    """(round trips/s, client CPU µs per round trip, server CPU µs per round trip)."""
    for _ in range(200):   # warm up
        fn()
    n, start = 0, time.perf_counter()
    cpu0, srv0 = time.process_time(), _cpu_of(server_pid)
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(100):
            fn()
        n += 100
    client_us = (time.process_time() - cpu0) / n * 1e6
    server_us = (_cpu_of(server_pid) - srv0) / n * 1e6
    return n / elapsed, client_us, server_us


_ECHO = """
import asyncio, sys
class Echo(asyncio.Protocol):
    def connection_made(self, t): self.t = t
    def data_received(self, d): self.t.write(d)
async def main():
    srv = await asyncio.get_running_loop().create_server(Echo, "127.0.0.1", 0)
    print(srv.sockets[0].getsockname()[1], flush=True)
    await asyncio.sleep(3600)
asyncio.run(main())
"""


def _tcp_floor(seconds: float) -> float:
    """The same topology with no WebSocket, no JSON, no backend: an asyncio TCP echo in another process."""
    proc = subprocess.Popen([sys.executable, "-c", _ECHO], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        payload = b'{"jsonrpc": "2.0", "id": 1, "method": "now"}'

        def echo() -> None:
            sock.sendall(payload)
            sock.recv(4096)
        rate = _measure(echo, seconds)[0]
        sock.close()
        return rate
    finally:
        proc.kill()
        proc.wait(10)


_WS_ECHO = """
import asyncio
from websockets.asyncio.server import serve
REPLY = '{"jsonrpc":"2.0","id":1,"result":0.0}'
async def echo(ws):
    async for _ in ws:
        await ws.send(REPLY)
async def main():
    async with serve(echo, "127.0.0.1", 0, compression=None, max_queue=16) as srv:
        print(next(iter(srv.sockets)).getsockname()[1], flush=True)
        await asyncio.sleep(3600)
asyncio.run(main())
"""


def _ws_floor(seconds: float) -> tuple[float, float, float]:
    """The bridge's own stack without the bridge: a websockets asyncio server answering a canned reply
    (no JSON, no validation, no backend), driven by the same SyncWebSocket client."""
    from conformance.bridge.transport import SyncWebSocket

    proc = subprocess.Popen([sys.executable, "-c", _WS_ECHO], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        ws = SyncWebSocket(f"ws://127.0.0.1:{int(proc.stdout.readline())}/")
        request = '{"jsonrpc":"2.0","id":1,"method":"now","params":{}}'

        def round_trip() -> None:
            ws.send(request)
            ws.recv(10.0)
        result = _measure(round_trip, seconds, proc.pid)
        ws.close()
        return result
    finally:
        proc.kill()
        proc.wait(10)


def _subprocess_server() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-m", "conformance.cli", "serve", "--clock", "virtual",
                             "--listen", "127.0.0.1:0", "--profile", str(ROOT / "profiles/reference.yaml")],
                            cwd=ROOT, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    line = proc.stderr.readline()   # "ro-conformance serve: sim (virtual clock) on ws://127.0.0.1:PORT/ ..."
    match = re.search(r"ws://([^/]+)/", line)
    if not match:
        proc.kill()
        raise SystemExit(f"server did not start: {line}")
    return proc, match.group(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--in-process", action="store_true")
    args = parser.parse_args()
    proc: subprocess.Popen[str] | None = None
    if args.in_process:
        from conformance.backends.sim import SimBackend
        from conformance.bridge.server import BridgeServer, ServerThread

        st = ServerThread(BridgeServer(SimBackend(ROOT / "profiles/reference.yaml"), mode="virtual")).start()
        address = st.url
    else:
        proc, address = _subprocess_server()
    try:
        be = BridgeBackend.from_spec(address, None)
        app, _, _ = be.line_initialize_ex("bench")
        line = be.line_open(app, 0, 0x00020002)
        where = "in-process thread" if args.in_process else "separate process"
        print(f"server: {where}, ws://{address}/, virtual clock; python {sys.version.split()[0]}")
        for label, fn in (("now()", be.now),
                          ("line_get_address_status()", lambda: be.line_get_address_status(line, 0)),
                          ("line_get_message(timeout=0)", lambda: be.line_get_message(app, 0.0))):
            rate, client_us, server_us = _measure(fn, args.seconds, None if proc is None else proc.pid)
            cpu = f"   CPU per round trip: client {client_us:5.0f} us, server {server_us:5.0f} us" if proc else ""
            print(f"{label:32s} {rate:10,.0f} round trips/s{cpu}")
        be.close()
        if not args.in_process:
            rate, client_us, server_us = _ws_floor(args.seconds)
            print(f"{'floor: websockets echo, no JSON':32s} {rate:10,.0f} round trips/s   CPU per round trip: "
                  f"client {client_us:5.0f} us, server {server_us:5.0f} us")
            print(f"{'floor: raw TCP echo, same topology':32s} {_tcp_floor(args.seconds):10,.0f} round trips/s")
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
