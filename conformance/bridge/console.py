"""The live web console of ``ro-conformance serve --console`` (docs/bridge.md, "The console").

One page (``GET /console``, built from ``static/``: HTML, plain JS and CSS, inlined so one request
under the same token rule serves all of it) and one WebSocket (``/console/ws``) on the bridge's port.
The server pushes what changed - never the page polling: state rows (stations, external parties,
trunks) as a diff against what that viewer last got, and new ladder entries (the TAPI traffic: each
request, its reply, every message the PBX queues, every console action). Pushes are coalesced to at
most one per ``PUSH_INTERVAL`` per viewer, so 1,000 live calls cost a bounded rate of small frames.

Which PBX: a viewer sees the shared PBX (what every connection that did not call ``session.reset``
drives) and may select any private PBX a connection made with ``session.reset`` ("session N").
Buttons act as the people around that PBX (the simulator's party control); a backend without party
control (e.g. tapi32) shows the ladder only.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import http
import itertools
import json
import logging
import time
import weakref
from collections import deque
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from simulator._constants import LineCallState, LineMsg
from simulator._errors import TapiError

if TYPE_CHECKING:
    from conformance.bridge.world import World

__all__ = ["LADDER_CAP", "PUSH_INTERVAL", "Console", "snapshot"]

log = logging.getLogger("ro_conformance.bridge")

PAGE_PATH = "/console"
SOCKET_PATH = "/console/ws"
LADDER_CAP = 500            # ladder entries the server keeps (and a page shows): the newest
PUSH_INTERVAL = 0.1         # seconds: at most one state push per viewer per interval
MAX_VIEWERS = 8
ROW_CALLS = 4               # calls listed per station row (the rest are counted)
# polling requests a client repeats in a loop: the ladder shows what they deliver, not each poll
_QUIET = frozenset({"line_get_message", "now", "server.stats", "party.wait_for", "party.observe", "info"})
_ACTIONS = {"answer": "answer", "reject": "reject", "hang_up": "hang_up", "lift": "go_off_hook",
            "replace": "hang_up"}


def _page() -> tuple[bytes, str]:
    """The page with its CSS and JS inlined, and the Content-Security-Policy that allows just those."""
    static = resources.files("conformance.bridge") / "static"
    css = (static / "console.css").read_text("utf-8")
    js = (static / "console.js").read_text("utf-8")
    html = (static / "console.html").read_text("utf-8")
    html = html.replace("/*CSS*/", css).replace("/*JS*/", js)

    def sha(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"
    csp = (f"default-src 'none'; script-src {sha(js)}; style-src {sha(css)}; connect-src 'self'; "
           "img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    return html.encode("utf-8"), csp


def _row_calls(dev: Any) -> tuple[list[str], int]:
    calls = dev.live_calls()
    shown = []
    for call in calls[:ROW_CALLS]:
        peer = call.peer.device.number if call.peer is not None else ""
        shown.append(f"{call.state_name}{' with ' + peer if peer else ''}")
    return shown, len(calls)


def _forwarding(dev: Any) -> list[str]:
    from simulator._constants import LineForwardMode
    out = []
    for entry in dev.forwarding:
        modes = [str(m.name) for m in LineForwardMode if m and entry.forward_mode & m] or [str(entry.forward_mode)]
        out.append(f"{'|'.join(modes)} -> {entry.dest_address or '(do not disturb)'}")
    if dev.native_ro:
        out.append(f"native Remote Office -> {dev.native_ro}")
    return out


def snapshot(backend: Any) -> dict[str, dict[str, Any]]:
    """What the page shows of ``backend``'s PBX: ``{section: {key: row}}``; empty without a PBX.

    Sections: ``stations`` (by extension), ``externals`` (public-network parties the profile names
    or that have a call now, by number), ``trunks`` (one row ``"group"``), ``pbx`` (one row).
    """
    pbx = getattr(backend, "pbx", None)
    parties = getattr(backend, "parties", None)
    if pbx is None or parties is None:
        return {}
    stations: dict[str, Any] = {}
    for dev in pbx.stations:
        calls, count = _row_calls(dev)
        stations[dev.number] = {"number": dev.number, "name": dev.name, "business": dev.business_number,
                                "hook": "off hook" if dev.handset_off_hook else "on hook",
                                "speaker": "on" if dev.speaker_on else "off", "calls": calls, "count": count,
                                "forwarding": _forwarding(dev)}
    named = {e.number for e in backend.profile.externals}
    externals: dict[str, Any] = {}
    for number, dev in pbx.devices.items():
        if dev.is_station or (number not in named and not dev.calls):
            continue
        view = parties.observe(number)
        externals[number] = {"number": number, "name": dev.name, "state": view.state,
                             "presented": view.presented_number, "presentation": view.presentation,
                             "presented_name": view.presented_name,
                             "connected": view.connected_number, "busy": dev.behaviour == "busy",
                             "hook": "off hook" if dev.off_hook else "on hook"}
    live = sum(1 for d in pbx.devices.values() for c in d.calls if c.live)
    return {"stations": stations, "externals": externals,
            "trunks": {"group": {"in_use": pbx.trunks_in_use, "total": pbx.trunks_total, "peak": pbx.trunks_peak}},
            "pbx": {"pbx": {"profile": backend.profile.name, "live_calls": live}}}


def _diff(old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Rows of ``new`` that differ from ``old`` (``set``) and keys ``old`` had that are gone (``del``)."""
    put: dict[str, Any] = {}
    gone: dict[str, Any] = {}
    for section in old.keys() | new.keys():
        a, b = old.get(section, {}), new.get(section, {})
        changed = {k: v for k, v in b.items() if a.get(k) != v}
        removed = [k for k in a if k not in b]
        if changed:
            put[section] = changed
        if removed:
            gone[section] = removed
    return put, gone


@dataclass(eq=False)
class _Viewer:
    ws: ServerConnection
    world: str = "shared"                           # the PBX this viewer looks at
    sent: dict[str, dict[str, Any]] = field(default_factory=dict)
    ladder_seq: int = 0                             # newest ladder entry already sent
    dirty: bool = True
    sending: bool = False


class Console:
    """Serves the page and the live socket; the server calls the ``on_*`` hooks (loop thread only)."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.viewers: set[_Viewer] = set()
        self.ladder: deque[dict[str, Any]] = deque(maxlen=LADDER_CAP)
        self._seq = itertools.count(1)
        self._names: weakref.WeakKeyDictionary[World, str] = weakref.WeakKeyDictionary()
        self._sessions = itertools.count(1)
        self._conn_ids: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self._conn_numbers = itertools.count(1)
        self._flush: asyncio.TimerHandle | None = None
        self._page: tuple[bytes, str] | None = None

    # ----- which PBX ------------------------------------------------------------------------------
    def name_of(self, world: World) -> str:
        if not world.private:
            return "shared"
        name = self._names.get(world)
        if name is None:
            name = self._names[world] = f"session {next(self._sessions)}"
        return name

    def worlds(self) -> dict[str, World]:
        """Every PBX being served now, by name (the shared one first)."""
        out = {"shared": self.server.shared}
        for conn in list(self.server._clients):
            if conn.world.private:
                out[self.name_of(conn.world)] = conn.world
        return out

    def on_world(self, world: World) -> None:
        """A PBX came into service: hear its clock fire timers (a ringing phone answering by itself)."""
        clock = getattr(world.backend, "clock", None)
        if clock is not None and hasattr(clock, "on_fire"):
            clock.on_fire = lambda: self.changed()

    # ----- HTTP: the page, and the gate of the live socket ---------------------------------------------
    @staticmethod
    def claims(path: str) -> bool:
        route = urlsplit(path).path
        return route in (PAGE_PATH, PAGE_PATH + "/", SOCKET_PATH)

    @staticmethod
    def is_socket(ws: ServerConnection) -> bool:
        return ws.request is not None and urlsplit(ws.request.path).path == SOCKET_PATH

    def process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        """Answer ``GET /console``; vet ``/console/ws`` (None lets the WebSocket handshake go on).

        The token was checked before (the bridge's rule). A page never carries the token: the script
        reads it from the address the user opened. The socket accepts only its own page's origin
        (a foreign web page in the user's browser must not press the buttons).
        """
        route = urlsplit(request.path).path
        if route == SOCKET_PATH:
            origin = request.headers.get("Origin")
            host = request.headers.get("Host", "")
            if origin is not None and origin not in (f"http://{host}", f"https://{host}"):
                return _respond(connection, http.HTTPStatus.FORBIDDEN, "console: foreign origin\n")
            if len(self.viewers) >= MAX_VIEWERS:
                return _respond(connection, http.HTTPStatus.SERVICE_UNAVAILABLE, "console: too many viewers\n")
            return None
        if "upgrade" in request.headers.get("Connection", "").lower():
            return _respond(connection, http.HTTPStatus.BAD_REQUEST, "console: the page is not a WebSocket\n")
        if self._page is None:
            self._page = _page()
        body, csp = self._page
        headers = Headers([("Content-Type", "text/html; charset=utf-8"), ("Content-Length", str(len(body))),
                           ("Content-Security-Policy", csp), ("Cache-Control", "no-store"),
                           ("Referrer-Policy", "no-referrer"), ("X-Content-Type-Options", "nosniff"),
                           ("Connection", "close")])
        return Response(http.HTTPStatus.OK.value, "OK", headers, body)

    # ----- the ladder (the server's hooks) -------------------------------------------------------------
    def _conn_label(self, conn: Any) -> str:
        number = self._conn_ids.get(conn)
        if number is None:
            number = self._conn_ids[conn] = next(self._conn_numbers)
        return f"client {number}"

    def _add(self, world: World, who: str, kind: str, text: str) -> None:
        self.ladder.append({"seq": next(self._seq), "t": time.time(), "pbx": self.name_of(world), "who": who,
                            "kind": kind, "text": text[:300]})
        self.changed()

    def on_request(self, conn: Any, frame: str | bytes) -> None:
        """A client's frame arrived (before it runs: the ladder shows requests in order)."""
        try:
            req = json.loads(frame)
            method = req["method"]
        except (ValueError, TypeError, KeyError):
            self._add(conn.world, self._conn_label(conn), "req", "(malformed frame)")
            return
        if not isinstance(method, str) or method in _QUIET:
            return
        params = req.get("params")
        shown = ", ".join(f"{k}={_short(v)}" for k, v in params.items()) if isinstance(params, dict) else \
            ", ".join(_short(v) for v in params) if isinstance(params, list) else ""
        self._add(conn.world, self._conn_label(conn), "req", f"{method[:60]}({shown})")

    def on_reply(self, conn: Any, frame: str | bytes, reply: str | None) -> None:
        """The reply the server sends (None for a notification or a wait still parked)."""
        if reply is None:
            return
        try:
            req = json.loads(frame)
            quiet = req.get("method") in _QUIET
        except (ValueError, TypeError, AttributeError):
            quiet = False
        try:
            rep = json.loads(reply)
        except ValueError:
            return
        if "error" in rep:
            err = rep["error"]
            name = (err.get("data") or {}).get("name") if isinstance(err.get("data"), dict) else None
            text = f"error {name or err.get('code')}: {err.get('message')}"
            self._add(conn.world, self._conn_label(conn), "err", text)
        elif not quiet:
            self._add(conn.world, self._conn_label(conn), "res", f"= {_short(rep.get('result'), 120)}")

    def on_posted(self, world: World, h_line_app: int) -> None:
        """The PBX queued a message for ``h_line_app`` (LINE_REPLY, LINE_CALLSTATE, ...)."""
        apps = getattr(world.backend, "apps", None)
        app = apps.get(h_line_app) if apps is not None else None
        if app is None or not app.queue:
            return
        msg = app.queue[-1]
        conn = world.owners.get(h_line_app)
        who = self._conn_label(conn) if conn is not None else f"app 0x{h_line_app:08X}"
        self._add(world, who, "msg", _message_text(msg))

    def changed(self) -> None:
        """Something may have changed: push to every viewer soon (coalesced)."""
        for viewer in self.viewers:
            viewer.dirty = True
        if self._flush is None and self.viewers:
            self._flush = asyncio.get_running_loop().call_later(PUSH_INTERVAL, self._push_all)

    # ----- the live socket -----------------------------------------------------------------------------
    async def serve(self, ws: ServerConnection) -> None:
        viewer = _Viewer(ws)
        self.viewers.add(viewer)
        try:
            await self._push(viewer)
            async for frame in ws:
                answer = self._on_viewer_frame(viewer, frame)
                if answer is not None:
                    await ws.send(json.dumps(answer))
                viewer.dirty = True
                self.changed()
        except ConnectionClosed:
            pass
        finally:
            self.viewers.discard(viewer)

    def _on_viewer_frame(self, viewer: _Viewer, frame: str | bytes) -> dict[str, Any] | None:
        try:
            req = json.loads(frame)
            if not isinstance(req, dict):
                raise ValueError("expected an object")
            op = req.get("op")
            if op == "select":
                name = str(req.get("pbx", ""))
                if name not in self.worlds():
                    return {"type": "error", "text": f"no PBX named {name[:60]!r}"}
                viewer.world, viewer.sent, viewer.ladder_seq = name, {}, 0
                return None
            if op == "act":
                return self._act(str(req.get("do", "")), str(req.get("number", ""))[:64], str(req.get("to", ""))[:64],
                                 viewer)
            return {"type": "error", "text": f"unknown op {str(op)[:40]!r}"}
        except ValueError as exc:
            return {"type": "error", "text": f"bad console frame: {str(exc)[:120]}"}

    def _act(self, do: str, number: str, to: str, viewer: _Viewer) -> dict[str, Any] | None:
        """A person acts: the simulator's party control on the viewer's PBX; shown in the ladder."""
        world = self.worlds().get(viewer.world)
        parties = getattr(world.backend, "parties", None) if world is not None else None
        if world is None or parties is None:
            return {"type": "error", "text": "this PBX has no party control (not a simulator)"}
        what = f"{number} dials {to}" if do == "call" else f"{do} at {number}"
        self._add(world, "console", "act", what)
        try:
            if do == "call":
                parties.call(number, to)
            elif do == "busy":
                dev = parties.device(number)
                if dev.is_station:
                    raise TapiError(f"{number} is a station: only a public-network party can be made busy")
                dev.behaviour = "answer" if dev.behaviour == "busy" else "busy"
                self._add(world, "console", "act", f"{number} is now {'busy' if dev.behaviour == 'busy' else 'free'}")
            elif do in _ACTIONS:
                getattr(parties, _ACTIONS[do])(number)
            else:
                raise TapiError(f"unknown action {do[:40]!r}")
        except TapiError as exc:
            self._add(world, "console", "err", str(exc))
            return {"type": "error", "text": str(exc)}
        world.kick()
        return None

    def _push_all(self) -> None:
        self._flush = None
        for viewer in list(self.viewers):
            if viewer.dirty and not viewer.sending:
                asyncio.get_running_loop().create_task(self._push(viewer))

    async def _push(self, viewer: _Viewer) -> None:
        viewer.dirty = False
        worlds = self.worlds()
        world = worlds.get(viewer.world)
        if world is None:    # the session's connection closed: back to the shared PBX
            viewer.world, viewer.sent, viewer.ladder_seq = "shared", {}, 0
            world = worlds["shared"]
        now = snapshot(world.backend)
        put, gone = _diff(viewer.sent, now)
        entries = [e for e in self.ladder if e["seq"] > viewer.ladder_seq and e["pbx"] == viewer.world]
        if self.ladder:
            viewer.ladder_seq = self.ladder[-1]["seq"]
        viewer.sent = now
        frame = {"type": "update", "pbx": viewer.world, "pbxs": list(worlds), "set": put, "del": gone,
                 "ladder": entries, "ladder_cap": LADDER_CAP, "party_control": bool(now)}
        viewer.sending = True
        try:
            await viewer.ws.send(json.dumps(frame, separators=(",", ":")))
        except ConnectionClosed:
            self.viewers.discard(viewer)
        finally:
            viewer.sending = False
        if viewer.dirty:
            self.changed()

    async def close(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        for viewer in list(self.viewers):
            with contextlib.suppress(Exception):
                await viewer.ws.close()


def _respond(connection: ServerConnection, status: http.HTTPStatus, text: str) -> Response:
    return connection.respond(status, text)


def _short(value: Any, limit: int = 40) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0xFFFF:
        return f"0x{value:08X}"
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _message_text(msg: Any) -> str:
    try:
        name = LineMsg(msg.msg).name
    except ValueError:
        name = str(msg.msg)
    if msg.msg == LineMsg.REPLY:
        return f"LINE_REPLY request {msg.param1} result 0x{msg.param2 & 0xFFFFFFFF:08X}"
    if msg.msg == LineMsg.CALLSTATE:
        try:
            state = LineCallState(msg.param1).name
        except ValueError:
            state = f"0x{msg.param1:X}"
        return f"LINE_CALLSTATE hCall 0x{msg.device:08X} {state} p2=0x{msg.param2:X}"
    return f"LINE_{name} device 0x{msg.device:08X} p1=0x{msg.param1:X} p2=0x{msg.param2:X} p3=0x{msg.param3:X}"
