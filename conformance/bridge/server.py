"""The bridge server: any Backend behind JSON-RPC 2.0 over WebSocket (``ro-conformance serve``).

One asyncio loop thread does everything, including every backend call, so the single-threaded
simulator needs no locks. Three ways of waiting (``mode``):

* ``virtual`` - calls go straight to the backend; a wait moves the simulator's virtual clock at once
  (deterministic and fast; what CI uses to run the suite through the bridge).
* ``wall``    - the simulator on a ``WallClock``: a driver task fires timers as they fall due, and a
  wait is served by polling with timeout 0 between wake-ups, so one client's wait never blocks another.
* ``poll``    - any other backend (e.g. tapi32): waits poll it with timeout 0 every ``poll_interval``.

Hardening: token check at the handshake, frame size limit, a cap on clients, on waiting requests and on
applications per connection; malformed input always gets a JSON-RPC error, never a crash; when a
connection closes, its waits are cancelled and its hLineApps are shut down (lineShutdown drops the calls
it solely owns), so a vanished client leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import http
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.protocol import State

from conformance.bridge import protocol as P
from simulator._clock import Clock, WallClock
from simulator._constants import LineErr
from simulator._errors import LineError, TapiError

__all__ = ["BridgeServer", "Mode", "NotifyingWallClock", "ServerThread"]

Mode = Literal["virtual", "wall", "poll"]
log = logging.getLogger("ro_conformance.bridge")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)   # built once: json.loads(**kw) builds one per call


@dataclass(eq=False)
class _Conn:
    ws: ServerConnection
    apps: set[int] = field(default_factory=set)
    waits: set[asyncio.Task[None]] = field(default_factory=set)


class BridgeServer:
    """Serves ``backend``; ``start()`` inside a running loop, or use ``ServerThread`` from sync code."""

    def __init__(self, backend: Any, *, mode: Mode = "virtual", token: str | None = None,
                 max_frame: int = 1 << 20, max_clients: int = 32, max_waits: int = 16, max_apps: int = 64,
                 poll_interval: float = 0.02, close_timeout: float = 2.0) -> None:
        self.backend = backend
        self.mode = mode
        self.token = token or None
        self.max_frame = max_frame
        self.max_clients = max_clients
        self.max_waits = max_waits
        self.max_apps = max_apps
        self.poll_interval = poll_interval
        self.close_timeout = close_timeout   # how long stop() waits for each client's close reply
        self._clients: set[_Conn] = set()
        self._changed: asyncio.Event | None = None
        self._server: Server | None = None
        self._driver: asyncio.Task[None] | None = None
        self._hooked = False     # wall mode: the clock tells us when timers fire (else waits poll)

    # ----- life cycle ----------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 7755) -> tuple[str, int]:
        """Listen; returns the bound (host, port) (port 0 picks a free one)."""
        self._changed = asyncio.Event()
        self._server = await serve(self._handle, host, port, max_size=self.max_frame, max_queue=16,
                                   compression=None, process_request=self._check_request,
                                   ping_interval=20, ping_timeout=20,
                                   close_timeout=self.close_timeout)
        if self.mode == "wall":
            clock = self.backend.clock
            if isinstance(clock, NotifyingWallClock):
                clock.on_fire = self._signal
                self._hooked = True
            self._driver = asyncio.get_running_loop().create_task(self._drive_clock())
        sock = next(iter(self._server.sockets))
        bound = sock.getsockname()
        return str(bound[0]), int(bound[1])

    async def stop(self) -> None:
        if self._driver is not None:
            self._driver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._driver
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    @property
    def connections(self) -> int:
        return len(self._clients)

    # ----- handshake: token and client cap -----------------------------------------------------------
    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        if self.token is not None and not self._token_ok(request):
            return connection.respond(http.HTTPStatus.UNAUTHORIZED, "missing or wrong bridge token\n")
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
        conn = _Conn(ws)
        self._clients.add(conn)
        try:
            async for frame in ws:
                reply = self._on_frame(conn, frame)
                if reply is not None and not _send_now(ws, reply):
                    await ws.send(reply)
        except ConnectionClosed:
            pass
        finally:
            self._clients.discard(conn)
            await self._cleanup(conn)

    async def _cleanup(self, conn: _Conn) -> None:
        for task in list(conn.waits):
            task.cancel()
        for task in list(conn.waits):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        for app in sorted(conn.apps):
            try:
                self.backend.line_shutdown(app)
            except TapiError:
                pass  # the app was already gone (e.g. the backend shut it down itself)
            except Exception:  # a backend bug must not keep the other apps alive
                log.exception("bridge: line_shutdown(0x%08X) on disconnect failed", app)
        conn.apps.clear()
        self._signal()

    def _on_frame(self, conn: _Conn, frame: str | bytes) -> str | None:
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
            self._check_app(conn, method, args)
        except P.RpcError as err:
            raise _WithId(req_id, err) from None
        return req_id, method, args

    def _check_app(self, conn: _Conn, method: P.Method, args: list[Any]) -> None:
        """Each connection is one TAPI 'process': it only sees the hLineApps it initialized."""
        if method.tapi and args[0] not in conn.apps:
            raise _line_rpc(LineError(LineErr.INVALAPPHANDLE, method.tapi, f"no application 0x{args[0]:08X}"))
        if method.name == "line_initialize_ex" and len(conn.apps) >= self.max_apps:
            raise P.RpcError(P.LIMIT_EXCEEDED, f"limit: at most {self.max_apps} applications per connection")

    def _dispatch(self, conn: _Conn, method: P.Method, args: list[Any], *, probe: bool = False) -> Any:
        """Run one backend call on this (the loop) thread; TAPI errors become JSON-RPC errors.

        Any call but a wait's probe may change state at once (or schedule timers): wake waiters and the
        clock driver. A probe that fires timers wakes them through the clock's hook instead; signalling
        every probe would make two waiters wake each other forever.
        """
        target: Any = self.backend
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
                self._signal()
        if method.name == "line_initialize_ex":
            conn.apps.add(int(result[0]))
            return {"h_line_app": result[0], "num_devs": result[1], "api_version": result[2]}
        if method.name == "line_shutdown":
            conn.apps.discard(args[0])
        return P.encode(result)

    # ----- asynchronous waits (wall / poll modes) ----------------------------------------------------
    def _start_wait(self, conn: _Conn, req_id: Any, method: P.Method, args: list[Any]) -> None:
        if len(conn.waits) >= self.max_waits:
            raise _WithId(req_id, P.RpcError(P.LIMIT_EXCEEDED,
                                             f"limit: at most {self.max_waits} waiting requests per connection"))
        task = asyncio.get_running_loop().create_task(self._wait(conn, req_id, method, args))
        conn.waits.add(task)
        task.add_done_callback(conn.waits.discard)

    async def _wait(self, conn: _Conn, req_id: Any, method: P.Method, args: list[Any]) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + args[-1]
        probe_args = [*args[:-1], 0.0]
        while True:
            changed = self._changed
            try:
                result = self._dispatch(conn, method, probe_args, probe=True)
            except P.RpcError as err:
                reply = _error_reply(req_id, err)
                break
            remaining = deadline - loop.time()
            if result is not None or remaining <= 0:
                reply = _result_reply(req_id, result)
                break
            if not self._hooked or changed is None:
                await asyncio.sleep(min(remaining, self.poll_interval))
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), remaining)
        if req_id is not _NOTIFY:
            with contextlib.suppress(ConnectionClosed):
                await conn.ws.send(reply)

    def _signal(self) -> None:
        """Something may have changed (a call ran, a timer fired): wake waiters and the clock driver."""
        if self._changed is not None and self.mode == "wall":
            self._changed.set()
            self._changed = asyncio.Event()

    async def _drive_clock(self) -> None:
        """Wall mode: fire the simulator's timers as they fall due, sleeping in between."""
        clock: Clock = self.backend.clock
        while True:
            clock.now()
            if clock.run_due() and not self._hooked:
                self._signal()
            due = clock.next_due()
            delay = 1.0 if due is None else max(0.0, due - clock.now())
            changed = self._changed
            if delay > 0 and changed is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), min(delay, 1.0))
            else:
                await asyncio.sleep(0)


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


class NotifyingWallClock(WallClock):
    """A WallClock for the server: never sleeps on the loop thread, and reports every timer it fires.

    The server only ever asks the simulator to wait 0 seconds (it waits with asyncio instead), and it
    must wake its waiters whenever a timer fires, whoever ran it (the driver task or a wait's probe).
    """

    def __init__(self) -> None:
        super().__init__(sleep=lambda _s: None)
        self.on_fire: Callable[[], None] | None = None

    def run_due(self) -> int:
        fired = super().run_due()
        if fired and self.on_fire is not None:
            self.on_fire()
        return fired


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
