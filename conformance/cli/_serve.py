"""``ro-conformance serve``: serve a backend over the network bridge (JSON-RPC 2.0 over WebSocket).

By default the simulator on ``--profile`` (a file or a shipped profile's name; default ``reference``)
following the wall clock, on 127.0.0.1:7755. Any address
that is not loopback requires a token (``$RO_CONFORMANCE_TOKEN``, ``--token-file PATH`` or, visible in
process lists, ``--token``); the server refuses to start without one (exit 4) and never prints it.
See docs/bridge.md for the protocol.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from conformance._registry import open_backend, split_spec
from conformance._shipped import DEFAULT_PROFILE, ShippedProfileError, resolve_profile
from conformance.backends.bridge import TOKEN_ENV, TOKEN_FILE_ENV, read_token_file
from conformance.backends.sim import SimBackend
from conformance.bridge.protocol import file_sha256
from conformance.bridge.server import BridgeServer, Mode, NotifyingWallClock
from conformance.cli._run import backend_help, check_profile
from conformance.report._results import EXIT_USAGE
from simulator._clock import VirtualClock
from simulator._errors import BridgeError, TapiError

__all__ = ["add_arguments", "is_loopback", "parse_listen", "run"]

DESCRIPTION = """serve a backend over the network bridge (JSON-RPC 2.0 over WebSocket, docs/bridge.md):
by default the simulator on the shipped reference profile, on 127.0.0.1:7755; clients run the suite with
'ro-conformance run --backend bridge://HOST:PORT'."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backend", default="sim", metavar="SPEC",
                        help="backend to serve -- " + backend_help())
    parser.add_argument("--profile", default=DEFAULT_PROFILE, metavar="P",
                        help="profile: a YAML file or the name of a shipped profile, see 'ro-conformance "
                             f"profiles' (default: {DEFAULT_PROFILE})")
    parser.add_argument("--listen", default="127.0.0.1:7755", metavar="HOST:PORT",
                        help="address to listen on (default 127.0.0.1:7755; non-loopback needs --token)")
    parser.add_argument("--token", default=None,
                        help=f"shared secret clients must present (default: ${TOKEN_ENV}; prefer that or "
                             "--token-file: a command line is visible to other local users)")
    parser.add_argument("--token-file", default=None, metavar="PATH",
                        help=f"read the token from the first line of PATH (default: ${TOKEN_FILE_ENV})")
    parser.add_argument("--clock", choices=("wall", "virtual"), default="wall",
                        help="sim: follow real time (default) or move time only when a client waits")
    parser.add_argument("--max-frame", type=int, default=1 << 20, metavar="BYTES",
                        help="largest accepted WebSocket message (default 1 MiB)")
    parser.add_argument("--console", action="store_true",
                        help="also serve the live web console at http://HOST:PORT/console (same port and "
                             "token rule: off loopback open /console?token=...; docs/bridge.md)")
    parser.add_argument("--max-clients", type=int, default=32, metavar="N",
                        help="simultaneous connections (default 32)")


def parse_listen(text: str) -> tuple[str, int]:
    """``"127.0.0.1:7755"`` / ``"[::1]:7755"`` / ``"localhost:0"`` -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"--listen expects HOST:PORT, got {text!r}")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return host, int(port)


def is_loopback(host: str) -> bool:
    """True only for addresses that cannot be reached from another machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name, "" or "0.0.0.0"-like wildcard: treat as reachable from outside


def _backend(args: argparse.Namespace) -> tuple[Any, Mode, Callable[[], Any] | None, str] | None:
    """The served backend, its mode, a factory of fresh ones (session.reset) and its profile's SHA-256;
    None after printing why the profile cannot be used (as ``run`` does)."""
    name, target = split_spec(args.backend)
    if name == "sim":
        profile = check_profile(target or args.profile)
        if profile is None:
            return None
        clock = VirtualClock() if args.clock == "virtual" else NotifyingWallClock()
        mode: Mode = "virtual" if args.clock == "virtual" else "wall"
        return SimBackend(profile, clock), mode, None, file_sha256(profile.path)
    try:
        resolve_profile(args.profile)
    except ShippedProfileError:   # other backends may not need a profile at all
        other = None
    else:
        other = check_profile(args.profile)
        if other is None:
            return None
    mode = "virtual" if args.clock == "virtual" else "poll"
    return (open_backend(args.backend, other), mode, lambda: open_backend(args.backend, other),
            file_sha256(other.path) if other is not None else "")


def _token(args: argparse.Namespace) -> str | None:
    if args.token:
        print("ro-conformance serve: note: a token on the command line is visible to other local users; "
              f"prefer ${TOKEN_ENV} or --token-file", file=sys.stderr)
        return str(args.token)
    if os.environ.get(TOKEN_ENV):
        return os.environ[TOKEN_ENV]
    path = args.token_file or os.environ.get(TOKEN_FILE_ENV)
    return read_token_file(path) if path else None


def run(args: argparse.Namespace) -> int:
    try:
        host, port = parse_listen(args.listen)
    except ValueError as exc:
        print(f"ro-conformance serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        token = _token(args)
    except BridgeError as exc:
        print(f"ro-conformance serve: {str(exc).removeprefix('bridge: ')}", file=sys.stderr)
        return EXIT_USAGE
    if not is_loopback(host) and not token:
        print(f"ro-conformance serve: refusing to listen on {host!r} without a token: a non-loopback "
              f"address needs ${TOKEN_ENV}, --token-file or --token", file=sys.stderr)
        return EXIT_USAGE
    if args.max_frame < 1024:
        print("ro-conformance serve: --max-frame must be at least 1024", file=sys.stderr)
        return EXIT_USAGE
    try:
        made = _backend(args)
    except (TapiError, OSError) as exc:
        print(f"ro-conformance serve: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if made is None:
        return EXIT_USAGE
    backend, mode, factory, sha = made
    server = BridgeServer(backend, mode=mode, token=token, max_frame=args.max_frame,
                          max_clients=args.max_clients, factory=factory, profile_sha256=sha,
                          console=bool(getattr(args, "console", False)))
    try:
        asyncio.run(_serve(server, host, port))
    except OSError as exc:
        print(f"ro-conformance serve: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        with contextlib.suppress(Exception):
            backend.close()
    return 0


async def _serve(server: BridgeServer, host: str, port: int) -> None:
    bound_host, bound_port = await server.start(host, port)
    auth = "token required" if server.token else "no token (loopback only)"
    print(f"ro-conformance serve: {server.backend.name} ({server.mode} clock) on "
          f"ws://{bound_host}:{bound_port}/ - {auth}", file=sys.stderr, flush=True)
    if server.console is not None:
        where = f"[{bound_host}]" if ":" in bound_host else bound_host
        hint = " (add ?token=<the token>)" if server.token else ""
        print(f"ro-conformance serve: console at http://{where}:{bound_port}/console{hint}", file=sys.stderr,
              flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()
