"""The bridge server: any Backend behind JSON-RPC 2.0 over WebSocket (``ro-conformance serve``).

One asyncio loop thread does everything, including every backend call, so the single-threaded
simulator needs no locks. Three ways of waiting (``mode``):

* ``virtual`` - calls go straight to the backend; a wait moves the simulator's virtual clock at once
  (deterministic and fast; what CI uses to run the suite through the bridge).
* ``wall``    - the simulator on a wall clock: a driver task fires timers as they fall due; a wait is
  parked until something that can satisfy it happens (a message for its application, a call change
  at its party), so one client's wait never blocks or slows another.
* ``poll``    - any other backend (e.g. tapi32): waits poll it with timeout 0 every ``poll_interval``.

Isolation: every connection is one TAPI "process". It may only name the hLineApps, hLines and hCalls
it was given (by its own lineInitializeEx / lineOpen, or in its own messages); another's handle is
refused with the LINEERR that TAPI gives for a bad handle. By default connections share one PBX; a
connection that calls ``session.reset`` gets a fresh PBX of its own (docs/bridge.md, "Sessions").

Hardening: token check at the handshake, frame size limit, caps on clients and (``Limits``) on
applications, lines, parked waits and unread messages per application and per connection; malformed
input always gets a JSON-RPC error, never a crash; when a connection closes, its waits are cancelled
(cancellation-safe: ``asyncio.timeout``, never ``wait_for``) and its hLineApps are shut down
(lineShutdown drops the calls it solely owns), so a vanished client leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hmac
import http
import json
import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from conformance.backends.sim import SimBackend
from conformance.bridge import protocol as P
from conformance.bridge.console import Console
from conformance.bridge.world import Mode, NotifyingWallClock, World
from simulator._clock import VirtualClock
from simulator._constants import LineErr, LineMsg
from simulator._errors import LineError, TapiError
from simulator._messages import LineMessage

__all__ = ["BridgeServer", "Limits", "Mode", "NotifyingWallClock", "ServerThread"]

log = logging.getLogger("ro_conformance.bridge")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)   # built once: json.loads(**kw) builds one per call


@dataclass(frozen=True)
class Limits:
    """Caps per connection and per application; a request beyond one gets -32005 naming the limit.

    ``messages_*`` count unread messages in the simulator's queues: an application that lets more
    pile up is shut down by the server (its lines close, calls it alone owns drop), and its next use
    gets -32005 saying so - a client that never reads cannot grow the server without bound.
    """

    apps_per_connection: int = 64
    lines_per_app: int = 64
    lines_per_connection: int = 256
    waits_per_app: int = 8
    waits_per_connection: int = 16
    messages_per_app: int = 4096
    messages_per_connection: int = 16384


def _limit(name: str, value: int, what: str) -> P.RpcError:
    return P.RpcError(P.LIMIT_EXCEEDED, f"limit {name}={value} reached: {what}", {"limit": name, "max": value})


# messages whose ``device`` is an hCall: the connection learns its call handles from them
_CALL_MSGS = frozenset({LineMsg.CALLSTATE, LineMsg.CALLINFO, LineMsg.MONITORDIGITS, LineMsg.MONITORMEDIA,
                        LineMsg.MONITORTONE, LineMsg.GATHERDIGITS, LineMsg.GENERATE})
_BAD_HANDLE = {"app": (LineErr.INVALAPPHANDLE, "no application"), "line": (LineErr.INVALLINEHANDLE, "no open line"),
               "call": (LineErr.INVALCALLHANDLE, "no call"), "call_or_0": (LineErr.INVALCALLHANDLE, "no call"),
               "consult": (LineErr.INVALCONSULTCALLHANDLE, "no call")}


@dataclass(eq=False)
class _Conn:
    ws: ServerConnection
    world: World
    apps: set[int] = field(default_factory=set)
    lines: dict[int, int] = field(default_factory=dict)     # hLine -> its hLineApp
    calls: set[int] = field(default_factory=set)            # hCalls this connection was given
    waits: set[asyncio.Task[None]] = field(default_factory=set)
    app_waits: Counter[int] = field(default_factory=Counter)
    evicted: dict[int, P.RpcError] = field(default_factory=dict)   # hLineApp the server shut down -> why
    evicting: set[int] = field(default_factory=set)
    subs: set[int] = field(default_factory=set)             # hLineApps whose messages are pushed
    # True while a request of this connection runs and its reply is being written: the pusher waits,
    # so a client always has a request's reply (its request id) before the LINE_REPLY it caused
    busy: bool = False
    push_wake: asyncio.Event | None = None
    pusher: asyncio.Task[None] | None = None

    def handles_of(self, kind: str) -> Any:
        return self.apps if kind == "app" else self.lines if kind == "line" else self.calls

    def forget_app(self, h_line_app: int) -> None:
        self.apps.discard(h_line_app)
        self.subs.discard(h_line_app)
        for h_line in [ln for ln, app in self.lines.items() if app == h_line_app]:
            del self.lines[h_line]


def _sim_factory(backend: Any, mode: Mode) -> Callable[[], Any] | None:
    """A fresh simulator on the same profile and kind of clock; None for other backends."""
    if not isinstance(backend, SimBackend):
        return None
    profile = backend.profile
    return lambda: SimBackend(profile, NotifyingWallClock() if mode == "wall" else VirtualClock())


class BridgeServer:
    """Serves ``backend``; ``start()`` inside a running loop, or use ``ServerThread`` from sync code.

    ``factory`` makes the fresh backend a ``session.reset`` asks for (default: a new simulator on the
    same profile when ``backend`` is one; else ``session.reset`` is refused). ``profile_sha256`` is
    reported by ``info`` so clients can tell which profile is served (default: the simulator's file).
    """

    def __init__(self, backend: Any, *, mode: Mode = "virtual", token: str | None = None,
                 max_frame: int = 1 << 20, max_clients: int = 32, max_waits: int | None = None,
                 max_apps: int | None = None, limits: Limits | None = None,
                 factory: Callable[[], Any] | None = None, profile_sha256: str = "",
                 poll_interval: float = 0.02, close_timeout: float = 2.0, console: bool = False) -> None:
        self.backend = backend
        self.mode = mode
        self.token = token or None
        self.max_frame = max_frame
        self.max_clients = max_clients
        limits = limits or Limits()
        if max_waits is not None:
            limits = dataclasses.replace(limits, waits_per_connection=max_waits)
        if max_apps is not None:
            limits = dataclasses.replace(limits, apps_per_connection=max_apps)
        self.limits = limits
        self.factory = factory or _sim_factory(backend, mode)
        profile = getattr(backend, "profile", None)
        self.profile_sha256 = profile_sha256 or (P.file_sha256(profile.path) if profile is not None else "")
        self.poll_interval = poll_interval
        self.close_timeout = close_timeout   # how long stop() waits for each client's close reply
        self.shared = World(backend, mode, on_post=self._posted)
        self._clients: set[_Conn] = set()
        self._server: Server | None = None
        self.console: Console | None = Console(self) if console else None   # the web page (console.py)

    # ----- life cycle ----------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 7755) -> tuple[str, int]:
        """Listen; returns the bound (host, port) (port 0 picks a free one)."""
        self._server = await serve(self._handle, host, port, max_size=self.max_frame, max_queue=16,
                                   compression=None, process_request=self._check_request,
                                   ping_interval=20, ping_timeout=20,
                                   close_timeout=self.close_timeout)
        self.shared.start()
        if self.console is not None:
            self.console.on_world(self.shared)
        sock = next(iter(self._server.sockets))
        bound = sock.getsockname()
        return str(bound[0]), int(bound[1])

    async def stop(self) -> None:
        """Close every connection (each is cleaned up as on a disconnect), then the shared world."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self.console is not None:
            await self.console.close()
        await self.shared.close()

    @property
    def connections(self) -> int:
        return len(self._clients)

    def parked(self) -> int:
        """Waits parked in every world (introspection for tests and the soak)."""
        worlds = {self.shared, *(c.world for c in self._clients)}
        return sum(w.parked for w in worlds)

    def stats(self) -> dict[str, int]:
        """What the server holds now: connections, asyncio tasks, parked waits, PBXs, apps, live calls."""
        worlds = {self.shared, *(c.world for c in self._clients)}
        apps = calls = trunks = 0
        for world in worlds:
            backend = world.backend
            apps += len(getattr(backend, "apps", ()))
            if hasattr(backend, "live_calls"):
                calls += len(backend.live_calls())
                trunks += int(backend.pbx.trunks_in_use)
        return {"connections": len(self._clients), "tasks": len(asyncio.all_tasks()), "parked": self.parked(),
                "private_pbxs": len(worlds) - 1, "apps": apps, "live_calls": calls, "trunks_in_use": trunks,
                "subscriptions": sum(len(c.subs) for c in self._clients)}

    # ----- handshake: token and client cap -----------------------------------------------------------
    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.token is not None and not self._token_ok(request):
            return connection.respond(http.HTTPStatus.UNAUTHORIZED, "missing or wrong bridge token\n")
        if self.console is not None and self.console.claims(request.path):
            return self.console.process_request(connection, request)
        if len(self._clients) >= self.max_clients:
            return connection.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, "too many bridge clients\n")
        return None

    def _token_ok(self, request: Request) -> bool:
        assert self.token is not None
        offered = ""
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            offered = auth[7:].strip()
        else:  # browsers and Node's WebSocket cannot set headers: ?token= in the URL
            offered = (parse_qs(urlsplit(request.path).query).get("token") or [""])[0]
        return hmac.compare_digest(offered.encode(), self.token.encode())

    # ----- one connection ----------------------------------------------------------------------------
    async def _handle(self, ws: ServerConnection) -> None:
        if self.console is not None and self.console.is_socket(ws):
            await self.console.serve(ws)
            return
        conn = _Conn(ws, self.shared)
        self._clients.add(conn)
        console = self.console
        try:
            async for frame in ws:
                if console is not None:
                    console.on_request(conn, frame)
                conn.busy = True
                reply = self._on_frame(conn, frame)
                if isinstance(reply, _Reset):
                    reply = await self._reset(conn, reply.req_id)
                if console is not None:
                    console.on_reply(conn, frame, reply)
                if reply is not None and not _send_now(ws, reply):
                    await ws.send(reply)
                conn.busy = False
                if conn.subs and conn.push_wake is not None:
                    conn.push_wake.set()   # what this request queued goes out now, after its reply
        except ConnectionClosed:
            pass
        finally:
            self._clients.discard(conn)
            await self._release(conn)
            if conn.world.private:
                await conn.world.close()

    async def _release(self, conn: _Conn) -> None:
        """Cancel the connection's waits and shut down its applications (disconnect, session.reset)."""
        tasks = list(conn.waits)
        if conn.pusher is not None:
            tasks.append(conn.pusher)
        conn.subs.clear()
        conn.pusher = conn.push_wake = None
        for task in tasks:
            task.cancel()
        if tasks:   # bounded: a wait that ignored its cancellation must not keep the apps alive
            _, stuck = await asyncio.wait(tasks, timeout=self.close_timeout)
            if stuck:
                log.error("bridge: %d wait(s) did not end when cancelled", len(stuck))
        conn.waits.clear()
        conn.app_waits.clear()
        world = conn.world
        for app in sorted(conn.apps):
            world.owners.pop(app, None)
            try:
                world.backend.line_shutdown(app)
            except TapiError:
                pass  # the app was already gone (e.g. the backend shut it down itself)
            except Exception:  # a backend bug must not keep the other apps alive
                log.exception("bridge: line_shutdown(0x%08X) on disconnect failed", app)
            world.wake_app(app, everyone=True)
        conn.apps.clear()
        conn.lines.clear()
        conn.calls.clear()
        conn.evicted.clear()
        world.kick()

    async def _reset(self, conn: _Conn, req_id: Any) -> str | None:
        """``session.reset``: drop what the connection had; give it a fresh PBX of its own."""
        if self.factory is None:
            err = P.RpcError(P.TAPI_ERROR, "session.reset: this server serves one backend instance and "
                                           "cannot make a fresh one", {"type": "TapiError"})
            return None if req_id is _NOTIFY else _error_reply(req_id, err)
        await self._release(conn)
        if conn.world.private:
            await conn.world.close()
            conn.world = self.shared
        try:
            backend = self.factory()
        except Exception as exc:
            log.exception("bridge: session.reset could not make a backend")
            err = P.RpcError(P.INTERNAL_ERROR, f"internal error: session.reset: {type(exc).__name__}: {exc}")
            return None if req_id is _NOTIFY else _error_reply(req_id, err)
        world = World(backend, self.mode, private=True, on_post=self._posted)
        world.start()
        conn.world = world
        if self.console is not None:
            self.console.on_world(world)
        profile = getattr(backend, "profile", None)
        result = {"scope": "private", "profile": getattr(profile, "name", ""), "profile_sha256": self.profile_sha256}
        return None if req_id is _NOTIFY else _result_reply(req_id, result)

    def _on_frame(self, conn: _Conn, frame: str | bytes) -> str | _Reset | None:
        """Handle one frame; returns the reply text, or None (notification, or a wait now in a task)."""
        try:
            text = frame.decode("utf-8") if isinstance(frame, bytes) else frame
            request = _DECODER.decode(text)
        except (ValueError, RecursionError) as exc:
            return _error_reply(None, P.RpcError(P.PARSE_ERROR, f"parse error: {str(exc)[:200]}"))
        if isinstance(request, list):
            return _error_reply(None, P.RpcError(P.INVALID_REQUEST, "batch requests are not supported"))
        try:
            req_id, method, args = self._validate(conn, request)
        except _WithId as err:
            return None if err.req_id is _NOTIFY else _error_reply(err.req_id, err)
        if method.name == "session.reset":
            return _Reset(req_id)
        if method.name == "server.stats":
            return None if req_id is _NOTIFY else _result_reply(req_id, self.stats())
        if method.name in ("line_subscribe", "line_unsubscribe"):
            try:
                self._subscribe(conn, method.name == "line_subscribe", args[0])
            except P.RpcError as err:
                return None if req_id is _NOTIFY else _error_reply(req_id, err)
            return None if req_id is _NOTIFY else _result_reply(req_id, None)
        try:
            if method.waits and self.mode != "virtual":
                self._start_wait(conn, req_id, method, args)
                return None
            result = self._dispatch(conn, method, args)
        except P.RpcError as err:
            return None if req_id is _NOTIFY else _error_reply(req_id, err)
        return None if req_id is _NOTIFY else _result_reply(req_id, result)

    def _validate(self, conn: _Conn, request: Any) -> tuple[Any, P.Method, list[Any]]:
        """Check the envelope and the params; raises ``_WithId`` (the id to answer, or _NOTIFY)."""
        if not isinstance(request, dict):
            raise _WithId(None, P.RpcError(P.INVALID_REQUEST, "invalid request: expected a request object"))
        req_id = request.get("id", _NOTIFY)
        if req_id is not _NOTIFY and (isinstance(req_id, bool) or not isinstance(req_id, int | str | None)
                                      or (isinstance(req_id, str) and len(req_id) > 256)
                                      or (isinstance(req_id, int) and not P.INT_MIN <= req_id <= P.INT_MAX)):
            raise _WithId(None, P.RpcError(P.INVALID_REQUEST, "invalid request: id must be a string, an "
                                                              "integer or null"))
        try:
            if request.get("jsonrpc") != "2.0":
                raise P.RpcError(P.INVALID_REQUEST, 'invalid request: "jsonrpc" must be "2.0"')
            name = request.get("method")
            if not isinstance(name, str):
                raise P.RpcError(P.INVALID_REQUEST, 'invalid request: "method" must be a string')
            method = P.METHODS.get(name)
            if method is None:
                raise P.RpcError(P.METHOD_NOT_FOUND, f"method not found: {name[:80]!r}")
            args = P.parse_params(method, request.get("params"))
            self._check_owned(conn, method, args)
            if method.name == "line_get_message" and args[0] in conn.subs:
                raise P.RpcError(P.INVALID_PARAMS, f"invalid params: line_get_message refused: application "
                                                   f"0x{args[0]:08X} is subscribed (line_subscribe), its messages "
                                                   f"are pushed as line_message notifications; line_unsubscribe "
                                                   f"first")
            self._check_limits(conn, method, args)
        except P.RpcError as err:
            raise _WithId(req_id, err) from None
        return req_id, method, args

    def _check_owned(self, conn: _Conn, method: P.Method, args: list[Any]) -> None:
        """Each connection is one TAPI 'process': it may only name the handles it was given."""
        for param, value in zip(method.params, args, strict=True):
            kind = param.owned
            if not kind or value in conn.handles_of(kind) or (kind == "call_or_0" and value == 0):
                continue
            if kind == "app" and value in conn.evicted:
                raise conn.evicted[value]
            code, what = _BAD_HANDLE[kind]
            raise _line_rpc(LineError(code, method.tapi, f"{what} 0x{value:08X}"))

    def _check_limits(self, conn: _Conn, method: P.Method, args: list[Any]) -> None:
        lim = self.limits
        if method.name == "line_initialize_ex" and len(conn.apps) >= lim.apps_per_connection:
            raise _limit("apps_per_connection", lim.apps_per_connection, "lineInitializeEx refused")
        if method.name == "line_open":
            if len(conn.lines) >= lim.lines_per_connection:
                raise _limit("lines_per_connection", lim.lines_per_connection, "lineOpen refused")
            if sum(1 for app in conn.lines.values() if app == args[0]) >= lim.lines_per_app:
                raise _limit("lines_per_app", lim.lines_per_app, f"lineOpen on application 0x{args[0]:08X} refused")

    def _dispatch(self, conn: _Conn, method: P.Method, args: list[Any], *, probe: bool = False) -> Any:
        """Run one backend call on this (the loop) thread; TAPI errors become JSON-RPC errors.

        Anything but a wait's probe may schedule timers: kick the clock driver (wall mode).
        """
        world = conn.world
        target: Any = world.backend
        for part in method.target.split("."):
            target = getattr(target, part)
        try:
            result = target(*args)
        except LineError as exc:
            raise _line_rpc(exc) from None
        except TapiError as exc:
            raise P.RpcError(P.TAPI_ERROR, str(exc), {"type": type(exc).__name__}) from None
        except Exception as exc:
            log.exception("bridge: %s raised", method.name)
            raise P.RpcError(P.INTERNAL_ERROR, f"internal error: {type(exc).__name__}: {exc}") from None
        finally:
            if not probe:
                world.kick()
        return self._after(conn, method, args, result)

    def _after(self, conn: _Conn, method: P.Method, args: list[Any], result: Any) -> Any:
        """Book-keeping of the handles the connection now holds; the JSON result."""
        name = method.name
        if name == "line_get_message":
            if result is not None:
                _learn(conn, result)
        elif name == "line_initialize_ex":
            conn.apps.add(int(result[0]))
            conn.world.owners[int(result[0])] = conn
            return {"h_line_app": result[0], "num_devs": result[1], "api_version": result[2]}
        elif name == "line_open":
            conn.lines[int(result)] = args[0]
        elif name == "line_close":
            conn.lines.pop(args[0], None)
        elif name == "line_deallocate_call":
            conn.calls.discard(args[0])
        elif name == "line_shutdown":
            conn.forget_app(args[0])
            conn.world.owners.pop(args[0], None)
            conn.world.wake_app(args[0], everyone=True)
        elif name == "info" and isinstance(result, dict):
            result = {**result, "profile_sha256": self.profile_sha256,
                      "session": "private" if conn.world.private else "shared"}
        return P.encode(result)

    # ----- unread messages (the simulator tells us each one it queues) ------------------------------
    def _posted(self, world: World, h_line_app: int) -> None:
        if self.console is not None:
            self.console.on_posted(world, h_line_app)
        conn = world.owners.get(h_line_app)
        if conn is None:
            return
        if h_line_app in conn.subs and conn.push_wake is not None:
            conn.push_wake.set()
        apps = getattr(world.backend, "apps", None)
        if apps is None or h_line_app in conn.evicting:
            return
        lim = self.limits
        queued = len(apps[h_line_app].queue)
        what = f"application 0x{h_line_app:08X} left more messages unread and was shut down"
        if queued > lim.messages_per_app:
            why = _limit("messages_per_app", lim.messages_per_app, what)
        elif queued > lim.messages_per_connection // lim.apps_per_connection and sum(
                len(apps[a].queue) for a in conn.apps if a in apps) > lim.messages_per_connection:
            why = _limit("messages_per_connection", lim.messages_per_connection, what)
        else:
            return
        conn.evicting.add(h_line_app)
        asyncio.get_running_loop().call_soon(self._evict, conn, world, h_line_app, why)

    def _evict(self, conn: _Conn, world: World, h_line_app: int, why: P.RpcError) -> None:
        conn.evicting.discard(h_line_app)
        if h_line_app not in conn.apps or conn.world is not world:
            return
        log.warning("bridge: %s", why.message)
        with contextlib.suppress(TapiError):
            world.backend.line_shutdown(h_line_app)
        conn.forget_app(h_line_app)
        world.owners.pop(h_line_app, None)
        if len(conn.evicted) < 64:
            conn.evicted[h_line_app] = why
        world.wake_app(h_line_app, everyone=True)

    # ----- push events (line_subscribe) --------------------------------------------------------------
    def _subscribe(self, conn: _Conn, on: bool, h_line_app: int) -> None:
        """``line_subscribe`` / ``line_unsubscribe`` (docs/bridge.md "Push events"); the caller owns the app."""
        if not on:
            conn.subs.discard(h_line_app)   # idempotent; unread messages stay for line_get_message
            return
        if self.mode == "virtual":
            raise P.RpcError(P.INVALID_PARAMS, "invalid params: line_subscribe refused: push events need a "
                                               "wall-clock server (--clock wall): nothing moves virtual time "
                                               "for a client that only listens")
        if conn.app_waits.get(h_line_app):
            raise P.RpcError(P.INVALID_PARAMS, f"invalid params: line_subscribe refused: a line_get_message is "
                                               f"waiting on application 0x{h_line_app:08X}")
        conn.subs.add(h_line_app)
        if conn.pusher is None:
            conn.push_wake = asyncio.Event()
            conn.pusher = asyncio.get_running_loop().create_task(self._push(conn, conn.push_wake))
        # messages already queued go out once this request's reply is written (the handler wakes the
        # pusher after every reply of a subscribed connection)

    async def _push(self, conn: _Conn, wake: asyncio.Event) -> None:
        """One task per subscribed connection: sends each queued message of its subscribed applications.

        It never takes a message while a request of the connection runs (``busy``): the handler wakes it
        once that request's reply is written. A client that stops reading blocks this task in
        ``ws.send`` (TCP back-pressure); its messages then pile up in the simulator's queue, where the
        ``messages_per_app`` limit shuts the application down as for a client that never polls.
        Backends without the simulator's ``on_post`` hook (poll mode) are looked at every poll_interval.
        """
        try:
            while True:
                if conn.world.hooked:
                    await wake.wait()
                else:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.poll_interval):   # cancellation-safe
                            await wake.wait()
                wake.clear()
                sent = True
                while sent and not conn.busy:
                    sent = False
                    for app in sorted(conn.subs):
                        if conn.busy:
                            break
                        if app not in conn.subs:
                            continue   # unsubscribed or shut down while we were sending
                        text = self._pop_push(conn, app)
                        if text is None:
                            continue
                        sent = True
                        if not _send_now(conn.ws, text):
                            await conn.ws.send(text)
        except ConnectionClosed:
            pass   # the handler's clean-up follows

    def _pop_push(self, conn: _Conn, app: int) -> str | None:
        """The next message of ``app`` as a ``line_message`` notification, or None (none / app gone)."""
        try:
            msg = conn.world.backend.line_get_message(app, 0.0)
        except TapiError:
            conn.subs.discard(app)   # the application is gone (shut down by the backend or the server)
            return None
        except Exception:   # a backend bug must not kill the pushes of the other applications
            log.exception("bridge: line_get_message(0x%08X) for a push failed", app)
            conn.subs.discard(app)
            return None
        if msg is None:
            return None
        _learn(conn, msg)   # a pushed message hands out call handles exactly as line_get_message does
        return _encode_json({"jsonrpc": "2.0", "method": "line_message",
                             "params": {"h_line_app": app, **P.encode(msg)}})

    # ----- asynchronous waits (wall / poll modes) ----------------------------------------------------
    def _start_wait(self, conn: _Conn, req_id: Any, method: P.Method, args: list[Any]) -> None:
        lim = self.limits
        if len(conn.waits) >= lim.waits_per_connection:
            raise _limit("waits_per_connection", lim.waits_per_connection,
                         f"{method.name} refused: too many waiting requests on this connection")
        app = args[0] if method.name == "line_get_message" else None
        if app is not None and conn.app_waits[app] >= lim.waits_per_app:
            raise _limit("waits_per_app", lim.waits_per_app,
                         f"line_get_message refused: too many waiting requests on application 0x{app:08X}")
        task = asyncio.get_running_loop().create_task(self._wait(conn, req_id, method, args))
        conn.waits.add(task)
        if app is not None:
            conn.app_waits[app] += 1

        def done(t: asyncio.Task[None]) -> None:
            conn.waits.discard(t)
            if app is not None and conn.app_waits[app] > 0:
                conn.app_waits[app] -= 1
                if not conn.app_waits[app]:
                    del conn.app_waits[app]
        task.add_done_callback(done)

    async def _wait(self, conn: _Conn, req_id: Any, method: P.Method, args: list[Any]) -> None:
        world = conn.world
        loop = asyncio.get_running_loop()
        deadline = loop.time() + args[-1]
        probe_args = [*args[:-1], 0.0]
        key = world.wait_key(method.name, args)
        while True:
            try:
                result = self._dispatch(conn, method, probe_args, probe=True)
            except P.RpcError as err:
                reply = _error_reply(req_id, err)
                break
            remaining = deadline - loop.time()
            if result is not None or remaining <= 0:
                reply = _result_reply(req_id, result)
                break
            if key is None:
                await asyncio.sleep(min(remaining, self.poll_interval))
                continue
            fut = world.park(key)
            try:
                async with asyncio.timeout(remaining):   # cancellation-safe, unlike wait_for on 3.11
                    await fut
            except TimeoutError:
                pass
            finally:
                world.unpark(key, fut)
        if req_id is not _NOTIFY:
            if self.console is not None and method.name not in ("line_get_message", "party.wait_for"):
                self.console.on_reply(conn, "{}", reply)
            with contextlib.suppress(ConnectionClosed):
                await conn.ws.send(reply)


def _learn(conn: _Conn, msg: LineMessage) -> None:
    """A message delivered to this connection hands it call handles (TAPI's only way to learn one)."""
    kind = msg.msg
    if kind == LineMsg.REPLY:
        if msg.new_call:
            conn.calls.add(msg.new_call)
    elif kind == LineMsg.APPNEWCALL:
        conn.calls.add(msg.param2)
    elif kind in _CALL_MSGS:
        conn.calls.add(msg.device)
    elif kind == LineMsg.CLOSE:
        conn.lines.pop(msg.device, None)


@dataclass(frozen=True)
class _Reset:
    req_id: Any


def _send_now(ws: ServerConnection, reply: str) -> bool:
    """Send ``reply`` at once when nothing is queued on the socket; False: use ``await ws.send``.

    ``ws.send`` goes through an async context manager and ``drain()``: about a quarter of the server's
    CPU per round trip. With an OPEN connection and an empty write buffer there is nothing to wait
    for, so the frame goes straight from the Sans-I/O protocol to the transport; anything else (data
    still queued, i.e. a client that does not read; closing) keeps the library's flow control.
    """
    transport, protocol = ws.transport, ws.protocol
    if protocol.state is not State.OPEN or transport.get_write_buffer_size():
        return False
    protocol.send_text(reply.encode())
    for data in protocol.data_to_send():   # a text frame on an OPEN connection never half-closes
        transport.write(data)
    return True


_NOTIFY: Any = object()   # marks a request without "id" (a notification: no reply, per JSON-RPC)


class _WithId(P.RpcError):
    """An RpcError that knows the request id it answers."""

    def __init__(self, req_id: Any, err: P.RpcError) -> None:
        super().__init__(err.code, err.message, err.data)
        self.req_id = req_id


def _line_rpc(exc: LineError) -> P.RpcError:
    return P.RpcError(P.LINE_ERROR, str(exc), {"lineerr": exc.code, "name": exc.name,
                                               "function": exc.function, "detail": exc.detail})


# Built once, compact: json.dumps(obj) with default arguments reuses a cached encoder too, but with
# ", "/": " separators (bytes on the wire for nothing); any other keyword builds a new encoder per call.
_encode_json = json.JSONEncoder(separators=(",", ":")).encode


def _error_reply(req_id: Any, err: P.RpcError) -> str:
    return _encode_json({"jsonrpc": "2.0", "id": req_id, "error": err.to_json()})


def _result_reply(req_id: Any, result: Any) -> str:
    return _encode_json({"jsonrpc": "2.0", "id": req_id, "result": result})


# ----- running a server from synchronous code (tests, CI, the benchmark) ------------------------------
class ServerThread:
    """Runs a ``BridgeServer`` on its own loop in a daemon thread; ``call`` runs code on that thread."""

    def __init__(self, server: BridgeServer, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server = server
        self.host, self.port = host, port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="bridge-server", daemon=True)
        self._ready = threading.Event()
        self._stopped: asyncio.Event | None = None
        self._failure: BaseException | None = None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stopped = asyncio.Event()
        try:
            self.host, self.port = await self.server.start(self.host, self.port)
        except BaseException as exc:  # report bind errors to start()
            self._failure = exc
            self._ready.set()
            return
        self._ready.set()
        await self._stopped.wait()
        await self.server.stop()

    def start(self, timeout: float = 10.0) -> ServerThread:
        self._thread.start()
        if not self._ready.wait(timeout):
            raise TimeoutError("bridge server did not start")
        if self._failure is not None:
            raise self._failure
        return self

    @property
    def url(self) -> str:
        return f"{self.host}:{self.port}"

    def call(self, fn: Callable[..., Any], *args: Any, timeout: float = 10.0) -> Any:
        """Run ``fn(*args)`` on the server's loop thread (the backend is single-threaded)."""
        async def run() -> Any:
            return fn(*args)
        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def stop(self, timeout: float = 10.0) -> None:
        if self._stopped is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(timeout)
        if not self._thread.is_alive():
            self._loop.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
