"""Soak of the bridge: many Remote Office clients and hostile clients for a long time; nothing may leak.

Run from the repository root::

    python benchmarks/soak_bridge.py --minutes 30 --clients 200 --hostile 20    # the long form (BENCHMARKS.md)
    python benchmarks/soak_bridge.py --seconds 20 --clients 20 --hostile 6      # the short form (.ci/run)

The server is a separate ``ro-conformance serve --clock wall`` process on the reference profile (real
time: calls ring and connect at the profile's pace). In this process, on one asyncio loop:

* ``--clients`` well-behaved clients, each on a PBX of its own (``session.reset``), loop over a Remote
  Office scenario: lineForward UNCOND to the RO number and back, lineGetAddressStatus, a hands-free
  lineMakeCall to the RO number answered there, lineBlindTransfer of it to the target, answered and
  hung up, lineDeallocateCall, then a pause (``--think`` seconds);
* ``--hostile`` hostile clients on the shared PBX, each looping over: garbage frames; a call set up for
  a consultation transfer, then the TCP connection dropped without a close; parked waits (1 hour) on
  a connection then closed; party look-ups of 2,000-digit junk numbers.

Before: a warm-up phase at full concurrency (``--warmup`` seconds) so the baseline includes the
server's high-water allocations (a leak is what grows afterwards), then the baseline is taken. After:
every client gone, the server's live calls, applications, parked waits, asyncio tasks and file
descriptors must be back to the baseline and its RSS within 10 %; every well-behaved non-waiting request
must have been answered within ``--p99-ms`` (default 50 ms) at the 99th percentile. Exit 0 when all
hold, 1 when one does not (each figure printed, with the limit it is checked against).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "profiles" / "reference.yaml"
RO, TARGET = "001711234567", "00301234567"   # dial strings of the reference profile's PIXIT numbers
V2_2 = 0x00020002
UNCOND = 0x00000001                          # LINEFORWARDMODE_UNCOND (tapi.h)
WAITING = frozenset({"line_get_message", "party.wait_for"})


class Rpc:
    """One JSON-RPC connection; ``call`` records the latency of every non-waiting request."""

    def __init__(self, ws: ClientConnection, latencies: list[float] | None) -> None:
        self.ws, self.latencies, self.next_id = ws, latencies, 0
        self.pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.reader = asyncio.get_running_loop().create_task(self._read())

    @classmethod
    async def open(cls, url: str, latencies: list[float] | None = None) -> Rpc:
        return cls(await connect(url, open_timeout=10, max_size=None, ping_interval=None), latencies)

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                reply = json.loads(frame)
                fut = self.pending.pop(reply.get("id"), None)
                if fut is not None and not fut.done():
                    fut.set_result(reply)
        except Exception:
            pass
        for fut in self.pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError("closed"))

    def send(self, method: str, **params: Any) -> asyncio.Future[dict[str, Any]]:
        self.next_id += 1
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        fut.add_done_callback(lambda f: f.cancelled() or f.exception())   # fire-and-forget waits: no noise
        self.pending[self.next_id] = fut
        asyncio.get_running_loop().create_task(
            self.ws.send(json.dumps({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})))
        return fut

    async def call(self, method: str, **params: Any) -> Any:
        started = time.perf_counter()
        reply = await asyncio.wait_for(self.send(method, **params), 30 + float(params.get("timeout", 0)))
        if self.latencies is not None and method not in WAITING:
            self.latencies.append(time.perf_counter() - started)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    async def reply_of(self, app: int, req: int) -> dict[str, Any]:
        while True:
            msg = await self.call("line_get_message", h_line_app=app, timeout=10)
            if msg is None:
                raise RuntimeError(f"no LINE_REPLY for request {req}")
            if msg["msg_name"] == "LINE_REPLY" and msg["param1"] == req:
                if msg["param2"]:
                    raise RuntimeError(f"request {req} failed: 0x{msg['param2']:08X}")
                return dict(msg)

    async def close(self, abrupt: bool = False) -> None:
        if abrupt:
            self.ws.transport.abort()        # the peer just disappears: no close handshake
        else:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 10)
        self.reader.cancel()


# ----- well-behaved: a Remote Office scenario on a PBX of its own ----------------------------------------
async def remote_office_client(url: str, stop: float, think: float, latencies: list[float],
                               counts: dict[str, int]) -> None:
    rpc = await Rpc.open(url, latencies)
    try:
        await rpc.call("session.reset")
        app = (await rpc.call("line_initialize_ex", app_name="soak"))["h_line_app"]
        line = await rpc.call("line_open", h_line_app=app, device_id=0, api_version=V2_2)
        while time.monotonic() < stop:
            fwd = [{"forward_mode": UNCOND, "dest_address": RO}]
            await rpc.reply_of(app, await rpc.call("line_forward", h_line=line, all_addresses=True, address_id=0,
                                                   forward_list=fwd))
            await rpc.call("line_get_address_status", h_line=line, address_id=0)
            await rpc.reply_of(app, await rpc.call("line_forward", h_line=line, all_addresses=True, address_id=0,
                                                   forward_list=None))
            reply = await rpc.reply_of(app, await rpc.call("line_make_call", h_line=line, dest_address=RO))
            h_call = reply["new_call"]
            await rpc.call("party.wait_for", role="remote_office", states=["alerting"], timeout=10)
            await rpc.call("party.answer", role="remote_office")
            await rpc.call("party.wait_for", role="remote_office", states=["connected"], timeout=10)
            await rpc.call("line_get_call_info", h_call=h_call)
            await rpc.reply_of(app, await rpc.call("line_blind_transfer", h_call=h_call, dest_address=TARGET))
            await rpc.call("party.wait_for", role="target", states=["alerting"], timeout=10)
            await rpc.call("party.answer", role="target")
            await rpc.call("party.wait_for", role="target", states=["connected"], timeout=10)
            await rpc.call("party.hang_up", role="target")
            await rpc.call("party.wait_for", role="remote_office", states=["idle"], timeout=10)
            while await rpc.call("line_get_message", h_line_app=app, timeout=0) is not None:
                pass
            await rpc.call("line_deallocate_call", h_call=h_call)
            counts["scenarios"] += 1
            await asyncio.sleep(random.uniform(0.5, 1.5) * think)
        await rpc.call("line_shutdown", h_line_app=app)
    except Exception as exc:
        counts["errors"] += 1
        if counts["errors"] <= 5:
            print(f"soak: a well-behaved client failed: {exc}", file=sys.stderr)
    finally:
        await rpc.close()


# ----- hostile clients on the shared PBX -----------------------------------------------------------------
GARBAGE: list[str | bytes] = [
    "{not json", "", "[1, 2]",
    '{"jsonrpc": "2.0", "id": "g", "method": "line_drop", "params": {"h_call": -1}}',
    '{"jsonrpc": "2.0", "id": "g", "method": "nope"}', '{"jsonrpc": "1.0", "id": "g", "method": "now"}',
    '{"jsonrpc": "2.0", "id": "g", "method": "line_drop", "params": {"h_call": 196609}}',
    '{"jsonrpc": "2.0", "id": ' + "9" * 3000 + ', "method": "now"}', "[" * 5000, b"\xff\xfe binary"]


async def garbage(rpc: Rpc) -> None:
    for frame in random.sample(GARBAGE, len(GARBAGE)):
        await rpc.ws.send(frame)
    await rpc.call("now")


async def vanish_mid_transfer(rpc: Rpc) -> None:
    app = (await rpc.call("line_initialize_ex", app_name="vanish"))["h_line_app"]
    line = await rpc.call("line_open", h_line_app=app, device_id=random.randrange(3), api_version=V2_2)
    try:
        reply = await rpc.reply_of(app, await rpc.call("line_make_call", h_line=line, dest_address=RO))
        await rpc.call("party.answer", role="remote_office")
        await rpc.call("line_setup_transfer", h_call=reply["new_call"])
        await asyncio.sleep(random.uniform(0, 0.3))
    except RuntimeError:
        pass   # the shared PBX's trunks may all be busy: a hostile client does not care


async def parked_waits(rpc: Rpc) -> None:
    app = (await rpc.call("line_initialize_ex", app_name="parker"))["h_line_app"]
    for _ in range(random.randint(1, 8)):
        rpc.send("line_get_message", h_line_app=app, timeout=3600)
    rpc.send("party.wait_for", role="0" + "7" * 30, states=["connected"], timeout=3600)
    await asyncio.sleep(random.uniform(0.5, 3))


async def junk_lookups(rpc: Rpc) -> None:
    for _ in range(50):
        await rpc.call("party.observe", role="".join(random.choices("0123456789", k=2000)))


async def hostile_client(url: str, stop: float, counts: dict[str, int]) -> None:
    kinds = [garbage, vanish_mid_transfer, parked_waits, junk_lookups]
    while time.monotonic() < stop:
        kind = random.choice(kinds)
        rpc: Rpc | None = None
        try:
            rpc = await Rpc.open(url)
            await kind(rpc)
            counts[kind.__name__] += 1
        except Exception as exc:
            counts["hostile_errors"] += 1
            if counts["hostile_errors"] <= 3:
                print(f"soak: hostile {kind.__name__}: {exc}", file=sys.stderr)
        finally:
            if rpc is not None:   # vanishing kinds drop the TCP connection without a close
                await rpc.close(abrupt=kind is vanish_mid_transfer or random.random() < 0.3)
        await asyncio.sleep(random.uniform(0, 0.5))


# ----- the server and its figures ----------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds process ``pid`` has used (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def fd_targets(pid: int) -> dict[str, str]:
    """What each open descriptor of ``pid`` is (``socket:[inode]``, a path, ...), to name a leaked one."""
    out = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            out[fd] = os.readlink(f"/proc/{pid}/fd/{fd}")
    return out


def server_side_socket(ws: ClientConnection) -> str | None:
    """``socket:[inode]`` of the server's end of our connection ``ws`` (Linux /proc/net/tcp), or None.

    The server's end has our port as its remote port; its local port is the server's.
    """
    client_port = ws.transport.get_extra_info("sockname")[1]
    server_port = ws.transport.get_extra_info("peername")[1]
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, remote, inode = fields[1], fields[2], fields[9]
                if int(local.rsplit(":", 1)[1], 16) == server_port and int(remote.rsplit(":", 1)[1], 16) == client_port:
                    return f"socket:[{inode}]"
    return None


def server_figures(pid: int, url: str) -> tuple[dict[str, int], dict[str, str]]:
    """``server.stats``, RSS and the server's descriptors (fd -> target), less the stats connection itself.

    The descriptors are listed while the stats connection is still open, and its own socket is taken
    out by name: listed after closing it, the server may or may not have processed the close yet (the
    client's close returns when *its* end is closed), so "count - 1" was wrong by one whenever it had.
    """
    async def stats() -> tuple[dict[str, int], dict[str, str]]:
        rpc = await Rpc.open(url)
        try:
            figures = dict(await rpc.call("server.stats"))
            fds = fd_targets(pid)   # the server has answered: our connection's socket is surely among them
            own = server_side_socket(rpc.ws)
            mine = [fd for fd, target in fds.items() if target == own]
            if len(mine) == 1:
                del fds[mine[0]]
            else:   # not found (no /proc/net/tcp?): the count less one is still exact while we are open
                fds.pop(max(fds, key=int))
            return figures, fds
        finally:
            await rpc.close()
    out, fds = asyncio.run(stats())
    status = Path(f"/proc/{pid}/status").read_text()
    out["rss_kib"] = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))   # type: ignore[union-attr]
    out["fds"] = len(fds)
    return out, fds


def settled_figures(pid: int, url: str, settled: Any, seconds: float, what: str) -> tuple[dict[str, int],
                                                                                          dict[str, str]]:
    """``server_figures`` once ``settled(figures, fds)`` holds, re-measuring every 0.5 s for at most
    ``seconds`` (connections the clients closed last may still be closing on the server); the time it
    took is printed, and the last figures are returned either way (the checks then say what is wrong)."""
    started = time.monotonic()
    while True:
        figures, fds = server_figures(pid, url)
        waited = time.monotonic() - started
        if settled(figures, fds):
            print(f"soak: {what} settled after {waited:.1f} s (bound {seconds:g} s)", flush=True)
            return figures, fds
        if waited >= seconds:
            print(f"soak: {what} did NOT settle within {seconds:g} s: {figures}", flush=True)
            return figures, fds
        time.sleep(0.5)


async def phase(url: str, seconds: float, clients: int, hostile: int, think: float,
                latencies: list[float], counts: dict[str, int]) -> None:
    stop = time.monotonic() + seconds
    tasks = [remote_office_client(url, stop, think, latencies, counts) for _ in range(clients)]
    tasks += [hostile_client(url, stop, counts) for _ in range(hostile)]
    await asyncio.gather(*tasks)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--minutes", type=float, default=0.0)
    parser.add_argument("--seconds", type=float, default=20.0, help="soak length unless --minutes is given")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--hostile", type=int, default=6)
    parser.add_argument("--think", type=float, default=1.0, help="mean pause between scenarios, seconds")
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--p99-ms", type=float, default=50.0)
    parser.add_argument("--settle", type=float, default=10.0,
                        help="at most this long for the last connections to finish closing before the "
                             "baseline and the final figures are taken (the time taken is printed)")
    args = parser.parse_args()
    seconds = args.minutes * 60 or args.seconds

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 8192), hard))
    proc = subprocess.Popen([sys.executable, "-m", "conformance.cli", "serve", "--clock", "wall", "--listen",
                             "127.0.0.1:0", "--max-clients", str(2 * (args.clients + args.hostile) + 16),
                             "--profile", str(PROFILE)], cwd=ROOT, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "RO_CONFORMANCE_TOKEN": "", "RO_CONFORMANCE_TOKEN_FILE": ""})
    try:
        assert proc.stderr is not None
        banner = proc.stderr.readline()
        match = re.search(r"(ws://[^/]+/)", banner)
        if not match:
            print(f"soak: the server did not start: {banner}", file=sys.stderr)
            return 1
        # read the server's log as it comes: a full stderr pipe would block the server's one thread
        server_log: list[str] = []
        threading.Thread(target=lambda: server_log.extend(proc.stderr or ()), daemon=True).start()
        url = match.group(1)
        counts: dict[str, int] = dict.fromkeys(["scenarios", "errors", "hostile_errors", "garbage",
                                                "vanish_mid_transfer", "parked_waits", "junk_lookups"], 0)
        print(f"soak: warm-up {args.warmup:g} s at full concurrency ({args.clients} + {args.hostile} clients)",
              flush=True)
        asyncio.run(phase(url, args.warmup, args.clients, args.hostile, args.think, [], counts))
        last: list[dict[str, str]] = [{}]

        def quiet(figures: dict[str, int], fds: dict[str, str]) -> bool:
            # only the stats connection left, and the same descriptors as half a second ago
            steady, last[0] = fds == last[0], fds
            return figures["connections"] == 1 and steady
        base, base_fds = settled_figures(proc.pid, url, quiet, args.settle, "baseline")
        print(f"soak: baseline {base}", flush=True)
        print(f"soak: baseline descriptors {dict(sorted(base_fds.items(), key=lambda kv: int(kv[0])))}", flush=True)
        latencies: list[float] = []
        counts = dict.fromkeys(counts, 0)
        started, cpu0, own0 = time.monotonic(), cpu_seconds(proc.pid), time.process_time()
        asyncio.run(phase(url, seconds, args.clients, args.hostile, args.think, latencies, counts))
        elapsed = time.monotonic() - started
        server_cpu, client_cpu = cpu_seconds(proc.pid) - cpu0, time.process_time() - own0
        after, after_fds = settled_figures(
            proc.pid, url, lambda f, fds: f["connections"] == base["connections"] and f["fds"] <= base["fds"],
            args.settle, "after the soak")
        for fd in sorted(set(after_fds) | set(base_fds), key=int):
            if base_fds.get(fd) != after_fds.get(fd):
                print(f"soak: descriptor {fd} -> {after_fds.get(fd, 'closed')} "
                      f"(baseline: {base_fds.get(fd, 'closed')})")
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
    latencies.sort()
    p50, p99 = (latencies[int(q * (len(latencies) - 1))] * 1000 if latencies else float("nan") for q in (0.5, 0.99))
    print(f"soak: {elapsed:.0f} s, {args.clients} Remote Office clients + {args.hostile} hostile; {counts}")
    print(f"soak: {len(latencies)} well-behaved requests, {len(latencies) / elapsed:.0f}/s, "
          f"p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {latencies[-1] * 1000 if latencies else 0:.1f} ms")
    print(f"soak: CPU: server {server_cpu:.1f} s ({server_cpu / elapsed * 100:.0f} % of a core, "
          f"{server_cpu / max(1, len(latencies)) * 1e6:.0f} µs per well-behaved request, hostile traffic included), "
          f"load generator {client_cpu:.1f} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"soak: after {after}")
    print(f"soak: the server logged {len(server_log)} line(s) on stderr"
          + "".join(f"\n    {line.rstrip()}" for line in server_log[:10]))
    checks = [
        ("well-behaved clients without error", counts["errors"] == 0, f"{counts['errors']} errors"),
        ("scenarios completed", counts["scenarios"] > 0, str(counts["scenarios"])),
        ("live calls back to baseline", after["live_calls"] == base["live_calls"] == 0, str(after["live_calls"])),
        ("trunks back to baseline", after["trunks_in_use"] == base["trunks_in_use"], str(after["trunks_in_use"])),
        ("applications back to baseline", after["apps"] == base["apps"], str(after["apps"])),
        ("parked waits back to baseline", after["parked"] == base["parked"], str(after["parked"])),
        ("connections back to baseline", after["connections"] == base["connections"], str(after["connections"])),
        ("asyncio tasks back to baseline", after["tasks"] == base["tasks"], f"{base['tasks']} -> {after['tasks']}"),
        # <=: a connection of the warm-up may still have been closing when the baseline was taken
        ("file descriptors back to baseline", after["fds"] <= base["fds"], f"{base['fds']} -> {after['fds']}"),
        ("RSS within 10 % of baseline", after["rss_kib"] <= 1.10 * base["rss_kib"],
         f"{base['rss_kib']} -> {after['rss_kib']} KiB ({(after['rss_kib'] / base['rss_kib'] - 1) * 100:+.1f} %)"),
        (f"p99 latency <= {args.p99_ms:g} ms", p99 <= args.p99_ms, f"{p99:.1f} ms"),
    ]
    for name, ok, figure in checks:
        print(f"  {'ok  ' if ok else 'FAIL'} {name}: {figure}")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
